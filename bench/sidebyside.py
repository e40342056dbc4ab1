"""`escalate fix` against doing it by hand, side by side in one run.

Per case, alternating (escalate, by hand, SDK import) ``repeat`` times so load drifts hit both alike:

- **escalate**: ``escalate fix --json -q <targets>`` as a subprocess, against a simulated API
  that answers at once with the true fix (one attempt, the helper roles off);
- **by hand**: on a copy with the fix applied, ``ruff check .`` then the full ``pytest``;
- **the SDK's import**: ``python -c "import anthropic; anthropic.Anthropic(api_key='x')"``, the floor
  under escalate's time to its first API call (the first call needs the SDK).

The ratio is median(escalate) / median(by hand), with a bootstrap 95% interval over the
repeats; beside it the ratio a run would reach if the SDK's import were free, (median(escalate) -
median(SDK import)) / median(by hand): a bound, since the import runs beside the set-up and the
baseline, which would then be the wait. The timed escalate runs use the default sandbox
(bubblewrap where it works); by hand runs unsandboxed, as a person would. Separate, untimed and
unsandboxed runs of escalate (as many as the repeats) go through shims that log every ``git``,
pytest and ruff process it starts
(count and time): escalate's own time is its wall time minus the time in pytest and ruff and in
API calls (median with a bootstrap 95% interval); the git count is how many ``git`` processes
escalate itself ran (not those a pytest plugin starts inside a test run), with the commands
that ran most.

Cases: corpus tasks (sub-second suites) and generated suites of 3 s or more (``suite_project``): two
of 3-5 s, one of QuixBugs' size (about 9 s) and one of a larger project's (3,000 tests, 10 s or more).

escalate's own modules are byte-compiled first (``compileall``, as ``pip install`` does): with
``PYTHONDONTWRITEBYTECODE`` set in the bench's environment an editable install would otherwise
compile about 80 modules from source on every run (0.2 s of CPU that no installed copy pays).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import stat
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml

from bench.corpus import CorpusTask, apply_edits, materialize

EDITOR = "str_replace_based_edit_tool"
ROLES_OFF = {r: {"enabled": False} for r in ("explorer", "planner", "reviewer", "committer")}
GOAL = 1.25


def _script(edits: list[dict]) -> dict:
    uses = [{"type": "tool_use", "name": EDITOR, "input": {"command": "str_replace", **e}} for e in edits]
    return {
        "models": {
            "*": [
                {
                    "when": {"last_user_has_tool_result": False},
                    "content": [{"type": "text", "text": "Fix."}, *uses],
                },
                {"when": {"last_user_has_tool_result": True}, "content": "Done. DONE", "repeat": True},
            ]
        }
    }


# -- generated suites of 3 s or more ---------------------------------------------------------------


def suite_project(dest: Path, name: str, modules: int, tests: int, work: int) -> tuple[list[str], list[dict]]:
    """A package with a one-line bug and ``modules`` x ``tests`` tests, each doing ``work`` units of
    arithmetic; returns (targets, fix edits). The repo is committed at dest."""
    files = {
        "pyproject.toml": f'[project]\nname = "{name}"\nversion = "0.1"\n\n'
        '[tool.pytest.ini_options]\ntestpaths = ["tests"]\n\n[tool.ruff]\nline-length = 110\n',
        f"{name}/__init__.py": "",
        f"{name}/core.py": "def churn(n):\n    total = 0\n    for i in range(n):\n"
        "        total += i * i % 7\n    return total\n\n\n"
        "def clamp(x, lo, hi):\n    return max(lo, min(x, lo))\n",
        "tests/test_clamp.py": f"from {name}.core import clamp\n\n\ndef test_clamp():\n"
        "    assert clamp(5, 0, 10) == 5\n",
    }
    for m in range(modules):
        body = [f"from {name}.core import churn\n"]
        for t in range(tests):
            body.append(f"\ndef test_churn_{m}_{t}():\n    assert churn({work}) >= 0\n")
        files[f"tests/test_work_{m:03d}.py"] = "\n".join(body)
    dest.mkdir(parents=True)
    for rel, text in files.items():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_text(text)
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@x", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@x"}  # fmt: skip
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "initial"]):
        subprocess.run(["git", *args], cwd=dest, check=True, env=env, capture_output=True)
    fix = [{"path": f"{name}/core.py", "old_str": "min(x, lo)", "new_str": "min(x, hi)"}]
    return ["tests/test_clamp.py::test_clamp"], fix


SUITES = (  # (name, modules, tests per module, work per test): 3 s or more by hand on an idle machine
    ("suite_many", 60, 25, 20_000),
    ("suite_heavy", 10, 8, 900_000),
    # QuixBugs' size (its suite takes about 9 s by hand): 400 tests, about 9 s.
    ("suite_quixbugs", 40, 10, 370_000),
    # A real project's size (more-itertools' suite takes about 20 s): 3,000 tests, 10 s or more.
    ("suite_large", 200, 15, 50_000),
)


# -- the shims that count processes -------------------------------------------------------------------


def _shim(bin_dir: Path, name: str, real: list[str], log: Path) -> Path:
    """A logging wrapper: one line per process (kind, start ns, end ns, who, git subcommand). A tool's
    shim marks its children (BENCH_IN_TOOL), so a git run by a pytest plugin is not counted as escalate's."""
    path = bin_dir / name
    path.write_text(
        "#!/bin/bash\n"
        # The subcommand, past the -c/-C options escalate puts first; GitPython's persistent object
        # reader (cat-file --batch...) apart: it lives as long as the run, its time is not git work.
        '_sub() { while [ "$1" = -c ] || [ "$1" = -C ]; do shift 2; done; '
        'case "$1 $2" in "cat-file --batch"*) echo cat-file-batch;; *) echo "${1:--}";; esac; }\n'
        "s=$(date +%s%N)\n"
        "who=${BENCH_IN_TOOL:-escalate}\n"
        + ("" if name == "git" else "export BENCH_IN_TOOL=tool\n")
        + f'{" ".join(_q(r) for r in real)} "$@"\n'
        "rc=$?\n"
        f'echo "{name} $s $(date +%s%N) $who $(_sub "$@")" >> {_q(str(log))}\n'
        "exit $rc\n"
    )
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def _q(s: str) -> str:
    return "'" + s.replace("'", "'\\''") + "'"


def _config(test_command: list[str], ruff_command: list[str]) -> dict:
    return {
        "validate": {"test_command": test_command, "ruff_command": ruff_command, "timeout_s": 300},
        "roles": ROLES_OFF,
    }


def _commit_config(repo: Path, config: dict) -> None:
    # Committed: escalate reads its config as the base commit has it.
    (repo / ".escalate.yml").write_text(yaml.safe_dump(config))
    subprocess.run(["git", "add", ".escalate.yml"], cwd=repo, check=True)
    git_id = ["-c", "user.name=b", "-c", "user.email=b@x"]
    subprocess.run(["git", *git_id, "commit", "-qm", "config"], cwd=repo, check=True)


def _escalate_command() -> list[str]:
    script = Path(sys.executable).parent / "escalate"
    return [str(script)] if script.exists() else [sys.executable, "-m", "escalate.cli"]


def _run_escalate(repo: Path, targets: list[str], edits: list[dict], env: dict) -> tuple[float, dict]:
    """One ``escalate fix`` as a subprocess against an instant sim; its wall time and JSON result."""
    from escalate.sim.testing import running_sim

    with running_sim(_script(edits)) as sim:
        started = time.perf_counter()
        proc = subprocess.run(
            [*_escalate_command(), "fix", "--repo", str(repo), "--json", "-q", *targets],
            capture_output=True, text=True, env={**env, **sim.env()},
        )  # fmt: skip
        wall = time.perf_counter() - started
    result = json.loads(proc.stdout)
    if result["outcome"] != "fixed":
        raise RuntimeError(
            f"escalate did not fix {repo}: {result['outcome']} {result['explanation']}\n{proc.stderr}"
        )
    subprocess.run(["git", "branch", "-D", result["branch"]], cwd=repo, capture_output=True)
    return wall, result


def _by_hand(copy: Path, env: dict) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=copy, capture_output=True, env=env)
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=copy,
        capture_output=True,
        env=env,
    )
    return time.perf_counter() - started


# The SDK's import and first client, as escalate's first API call needs them.
SDK_IMPORT = "import anthropic; anthropic.Anthropic(api_key='x')"


def _sdk_import(env: dict) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", SDK_IMPORT], check=True, capture_output=True, env=env)
    return time.perf_counter() - started


def _bootstrap_ratio(
    a: list[float], b: list[float], n: int = 2000, seed: int = 1, minus: list[float] | None = None
) -> tuple[float, float]:
    """95% interval of median(a) / median(b), or of (median(a) - median(minus)) / median(b)."""
    rng = random.Random(seed)
    pick = lambda xs: statistics.median(rng.choices(xs, k=len(xs)))  # noqa: E731
    ratios = sorted((pick(a) - (pick(minus) if minus else 0.0)) / pick(b) for _ in range(n))
    return ratios[int(0.025 * n)], ratios[int(0.975 * n) - 1]


def _median_ci(xs: list[float], n: int = 2000, seed: int = 1) -> tuple[float, float]:
    rng = random.Random(seed)
    medians = sorted(statistics.median(rng.choices(xs, k=len(xs))) for _ in range(n))
    return medians[int(0.025 * n)], medians[int(0.975 * n) - 1]


def _traced(repo: Path, targets: list[str], edits: list[dict], env: dict, tmp: Path, n: int) -> dict:
    """One escalate run through the logging shims, unsandboxed (the shims log outside the tree)."""
    bin_dir, log = tmp / f"shims-{n}", tmp / f"procs-{n}.log"
    bin_dir.mkdir(parents=True)
    real_git = shutil.which("git") or "git"
    _shim(bin_dir, "git", [real_git], log)
    pytest_shim = _shim(bin_dir, "pytest-shim", [sys.executable, "-m", "pytest"], log)
    ruff_shim = _shim(bin_dir, "ruff-shim", [sys.executable, "-m", "ruff", "check"], log)
    traced = _config([str(pytest_shim)], [str(ruff_shim)])
    traced["validate"]["sandbox"] = "none"
    _commit_config(repo, traced)
    shim_env = {
        **env,
        "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        "GIT_PYTHON_GIT_EXECUTABLE": str(bin_dir / "git"),
    }
    shim_env.pop("BENCH_IN_TOOL", None)
    wall, result = _run_escalate(repo, targets, edits, shim_env)
    procs: dict[str, list[float]] = {}
    git_commands: Counter[str] = Counter()
    git_times: list[tuple[float, str]] = []
    for line in log.read_text().splitlines():
        kind, start, end, who, sub = line.split()
        if kind == "git" and who != "escalate":
            kind = "git-in-tools"
        procs.setdefault(kind, []).append((int(end) - int(start)) / 1e9)
        if kind == "git":
            git_commands[sub] += 1
            git_times.append(((int(end) - int(start)) / 1e9, sub))
    calls = [json.loads(x) for x in (Path(result["log_dir"]) / "calls.jsonl").read_text().splitlines() if x]
    model_s = sum(c.get("duration_s", 0) for c in calls)
    tools_s = sum(procs.get("pytest-shim", [])) + sum(procs.get("ruff-shim", []))
    return {
        "wall_s": wall,
        "pytest_runs": len(procs.get("pytest-shim", [])),
        "pytest_s": sum(procs.get("pytest-shim", [])),
        "ruff_runs": len(procs.get("ruff-shim", [])),
        "git_calls": len(procs.get("git", [])),
        "git_s": sum(d for d, sub in git_times if sub != "cat-file-batch"),
        "git_calls_in_tools": len(procs.get("git-in-tools", [])),
        "git_commands": dict(git_commands.most_common()),
        "model_s": model_s,
        "own_s": wall - tools_s - model_s,
    }


def measure_case(
    name: str, repo: Path, targets: list[str], edits: list[dict], repeat: int, tmp: Path
) -> dict:
    env = dict(os.environ)
    copy = tmp / f"{name}-by-hand"
    shutil.copytree(repo, copy)
    apply_edits(copy, edits)
    plain = _config([sys.executable, "-m", "pytest"], [sys.executable, "-m", "ruff", "check"])
    _commit_config(repo, plain)
    esc, hand, sdk = [], [], []
    for _ in range(repeat):
        esc.append(_run_escalate(repo, targets, edits, env)[0])
        hand.append(_by_hand(copy, env))
        sdk.append(_sdk_import(env))
    # As many runs through the shims: what escalate spends in git, pytest and ruff processes.
    # Unsandboxed: the shims write their log outside the tree, which the sandbox's read-only root forbids.
    traces = [_traced(repo, targets, edits, env, tmp / f"{name}-traces", n) for n in range(repeat)]
    own = [t["own_s"] for t in traces]
    last = traces[-1]
    lo, hi = _bootstrap_ratio(esc, hand)
    free_lo, free_hi = _bootstrap_ratio(esc, hand, minus=sdk)
    sdk_s = statistics.median(sdk)
    own_lo, own_hi = _median_ci(own) if len(own) > 1 else (own[0], own[0])
    return {
        "case": name,
        "escalate_s": esc,
        "by_hand_s": hand,
        "escalate_median_s": statistics.median(esc),
        "by_hand_median_s": statistics.median(hand),
        "ratio": statistics.median(esc) / statistics.median(hand),
        "ratio_ci95": [lo, hi],
        "sdk_import_s": sdk,
        "sdk_import_median_s": sdk_s,
        "ratio_without_sdk": (statistics.median(esc) - sdk_s) / statistics.median(hand),
        "ratio_without_sdk_ci95": [free_lo, free_hi],
        "traced_wall_s": statistics.median(t["wall_s"] for t in traces),
        "pytest_runs": last["pytest_runs"],
        "pytest_s": statistics.median(t["pytest_s"] for t in traces),
        "ruff_runs": last["ruff_runs"],
        "git_calls": last["git_calls"],
        "git_calls_per_run": [t["git_calls"] for t in traces],
        "git_calls_in_tools": last["git_calls_in_tools"],
        "git_commands": last["git_commands"],
        "git_s": statistics.median(t["git_s"] for t in traces),
        "model_s": statistics.median(t["model_s"] for t in traces),
        "escalate_own_s": statistics.median(own),
        "escalate_own_s_each": own,
        "escalate_own_ci95": [own_lo, own_hi],
    }


def run_sidebyside(
    tasks: list[CorpusTask], n_corpus: int = 4, repeat: int = 3, log=print, cases: list[str] | None = None
) -> dict:
    """Every generated suite and the first n_corpus corpus tasks with tests (or only ``cases``, by name)."""
    _byte_compile_escalate()
    rows = []
    wanted = set(cases or ())
    corpus_tasks = [t for t in tasks if t.tests]
    corpus_tasks = [t for t in corpus_tasks if t.id in wanted] if wanted else corpus_tasks[:n_corpus]
    with tempfile.TemporaryDirectory(prefix="bench-sidebyside-") as tmp_dir:
        tmp = Path(tmp_dir)
        for name, modules, tests, work in SUITES:
            if wanted and name not in wanted:
                continue
            targets, fix = suite_project(tmp / name, name, modules, tests, work)
            rows.append(measure_case(name, tmp / name, targets, fix, repeat, tmp))
            _say(rows[-1], log)
        for t in corpus_tasks:
            repo = materialize(t, tmp / t.id)
            rows.append(measure_case(t.id, repo, list(t.tests), t.fix, repeat, tmp))
            rows[-1]["corpus"] = True
            _say(rows[-1], log)
    corpus = [r for r in rows if r.get("corpus")]
    suites = [r["ratio"] for r in rows if not r.get("corpus")]
    free = [r["ratio_without_sdk"] for r in rows if not r.get("corpus")]
    return {
        "rows": rows,
        "repeat": repeat,
        "goal": GOAL,
        "corpus_ratio_geomean": _geomean([r["ratio"] for r in corpus]) if corpus else None,
        "suites_ratio_geomean": _geomean(suites) if suites else None,
        "suites_ratio_without_sdk_geomean": _geomean(free) if free and min(free) > 0 else None,
    }


def _byte_compile_escalate() -> None:
    import compileall

    import escalate

    compileall.compile_dir(str(Path(escalate.__file__).parent), quiet=1)


def _geomean(xs: list[float]) -> float:
    return statistics.geometric_mean(xs)


def _against_goal(r: dict, goal: float) -> str:
    """Met only when the whole interval is at or under the goal; missed when it is all above."""
    lo, hi = r["ratio_ci95"]
    if hi <= goal:
        return "met"
    if lo > goal:
        return "missed"
    return "not shown (the interval spans it)"


def _sdk_cells(r: dict) -> str:
    if "sdk_import_median_s" not in r:  # a results file from before the column
        return "- | -"
    lo, hi = r["ratio_without_sdk_ci95"]
    return f"{r['sdk_import_median_s']:.2f} | {r['ratio_without_sdk']:.2f} [{lo:.2f}, {hi:.2f}]"


def _say(r: dict, log) -> None:
    log(
        f"  {r['case']}: escalate {r['escalate_median_s']:.2f} s, by hand {r['by_hand_median_s']:.2f} s, "
        f"ratio {r['ratio']:.2f} [{r['ratio_ci95'][0]:.2f}, {r['ratio_ci95'][1]:.2f}]; SDK import "
        f"{r['sdk_import_median_s']:.2f} s, without it {r['ratio_without_sdk']:.2f}; own "
        f"{r['escalate_own_s']:.2f} s, {r['git_calls']} git, {r['pytest_runs']} pytest, {r['ruff_runs']} ruff"
        f" (git: {', '.join(f'{k} {v}' for k, v in list(r['git_commands'].items())[:6])})"
    )


def sidebyside_section(s: dict) -> list[str]:
    lines = [
        "## escalate fix against ruff + pytest by hand",
        "",
        f"Instant simulated model sending the true fix; {s['repeat']} alternating repeats per case; "
        "ratio = median(escalate) / median(by hand) with a bootstrap 95% interval; "
        f"goal {s['goal']}x or less. "
        "Own time = escalate's wall time minus its pytest/ruff processes and API calls (traced, "
        "unsandboxed runs, as many as the repeats: median [95% CI]); git calls = the git processes "
        "escalate itself started in one run (not a pytest plugin's); their seconds leave out GitPython's "
        "persistent object reader (`cat-file --batch`), alive for the whole run. "
        f'SDK import = `python -c "{SDK_IMPORT}"` in the same alternation (interpreter start included): '
        "escalate's first API call waits for this import; *without it* = (escalate - SDK import) / "
        "by hand, the ratio if the import were free (a bound: the set-up and baseline beside it would "
        "then be the wait).",
        "",
        "| case | by hand s | escalate s | ratio [95% CI] | SDK import s | without it [95% CI] "
        "| pytest runs (s) | ruff runs | git calls (s) | own s [95% CI] |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in s["rows"]:
        lines.append(
            f"| {r['case']} | {r['by_hand_median_s']:.2f} | {r['escalate_median_s']:.2f} | {r['ratio']:.2f} "
            f"[{r['ratio_ci95'][0]:.2f}, {r['ratio_ci95'][1]:.2f}] | {_sdk_cells(r)} | "
            f"{r['pytest_runs']} ({r['pytest_s']:.2f}) | "
            f"{r['ruff_runs']} | {r['git_calls']} ({r['git_s']:.2f}) | {r['escalate_own_s']:.2f} "
            f"[{r.get('escalate_own_ci95', [0, 0])[0]:.2f}, {r.get('escalate_own_ci95', [0, 0])[1]:.2f}] |"
        )
    lines.append("")
    lines.append("Against the goal (" + f"{s['goal']}x" + "): " + "; ".join(
        f"{r['case']} {_against_goal(r, s['goal'])}" for r in s["rows"]) + ".")  # fmt: skip
    lines.append("")
    for r in s["rows"]:
        if r.get("git_commands"):
            top = ", ".join(f"{k} {v}" for k, v in r["git_commands"].items())
            lines.append(f"- {r['case']}: git {top}")
    lines.append("")
    means = [(what, s.get(key)) for what, key in (("corpus", "corpus_ratio_geomean"),
                                                   ("3 s+ suites", "suites_ratio_geomean"),
                                                   ("3 s+ suites without the SDK's import",
                                                    "suites_ratio_without_sdk_geomean"))]  # fmt: skip
    if any(v for _, v in means):
        lines.append("Geometric mean ratio: " + ", ".join(f"{what} {v:.2f}x" for what, v in means if v) + ".")
    return lines + [""]

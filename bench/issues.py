"""``python -m bench issues``: issue-only tasks, reproduce-first against judging by the suite alone.

Each corpus task that has failing tests becomes an *issue-only* task: its target tests are taken
out of the repository (they are the hidden FAIL_TO_PASS tests, as in SWE-bench) and escalate gets
only the issue's title and text. Both arms run the real ``escalate fix`` flow (real git, pytest,
ruff, the real SDK against the simulated API) on the same scripted model answers:

- ``suite-only``: today's issue path without a reproduction (``roles.test_writer.enabled: false``):
  any patch that keeps the suite and ruff green is accepted;
- ``reproduce-first``: the test writer's test must fail at base and pass after the fix.

A task is **resolved** when the hidden tests pass on the branch escalate produced (they are put
back and run after the run, by this script). The model is simulated per tier with fixed, stated
probabilities (``P_TEST``, ``P_FIX``): a test writer puts the hidden tests back where they were
(a true reproduction) or writes a test that passes at base; an implementer sends the task's real
fix or one of its known wrong fixes. Draws are seeded per (task, seed, tier), so both arms see the
same answers. Costs come from the sim's usage and the price table, as in every escalate run.
"""

from __future__ import annotations

import argparse
import ast
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.corpus import CorpusTask, load_corpus, materialize

RESULTS = Path(__file__).resolve().parent / "results"
TIERS = ("claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-6")
# Stated assumptions of the simulated model, per tier (cheapest first).
P_TEST = (0.55, 0.75, 0.85)  # the test writer writes a true reproduction
P_FIX = (0.45, 0.6, 0.7)  # the implementer sends the real fix (else a known wrong one)
ANSWERS_PER_TIER = 4  # scripted answers per role and tier (more than any arm can use)
ARMS = ("suite-only", "reproduce-first")
EDITOR = "str_replace_based_edit_tool"
WRITER = "You write a test that reproduces a reported problem"
IMPLEMENTER = "You are a careful software engineer"
REPRO_FILE = "tests/test_issue_reproduction.py"


@dataclass
class IssueRun:
    task: str
    arm: str
    seed: int
    outcome: str
    resolved: bool
    false_fix: bool  # escalate said fixed, the hidden tests say no
    cost_usd: float
    calls: int
    wall_s: float


def _functions(source: str, names: set[str]) -> list[tuple[int, int]]:
    """Line spans (1-based, inclusive, decorators included) of the module-level tests in names."""
    spans = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in names:
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            spans.append((first, node.end_lineno or node.lineno))
    return spans


def hide_tests(repo: Path, tests: list[str]) -> dict[str, str]:
    """Remove the target test functions from their files; return {file: original text}. A true
    reproduction puts them back where they were, next to the fixtures and helpers they use."""
    by_file: dict[str, set[str]] = {}
    for nodeid in tests:
        path, _, name = nodeid.partition("::")
        by_file.setdefault(path, set()).add(name.split("[")[0].split("::")[-1])
    originals = {}
    for rel, names in by_file.items():
        text = (repo / rel).read_text()
        originals[rel] = text
        lines = text.splitlines(keepends=True)
        for a, b in sorted(_functions(text, names), reverse=True):
            del lines[a - 1 : b]
        (repo / rel).write_text("".join(lines))
    return originals


def _edit(e: dict) -> dict:
    return {"type": "tool_use", "name": EDITOR, "input": {"command": "str_replace", **e}}


def script(ct: CorpusTask, originals: dict[str, str], seed: int) -> dict:
    """Per model: the test writer's and the implementer's answers, drawn once per (task, seed, tier)."""
    wrong = [{"command": "create", "path": REPRO_FILE, "file_text": "def test_issue():\n    assert True\n"}]
    right = [{"command": "create", "path": rel, "file_text": text} for rel, text in originals.items()]
    models = {}
    for tier, model in enumerate(TIERS):
        rng = random.Random(f"{ct.id}/{seed}/{tier}")
        entries = []
        for _ in range(ANSWERS_PER_TIER):
            edits = right if rng.random() < P_TEST[tier] else wrong
            entries += [
                {"when": {"system_contains": WRITER, "last_user_has_tool_result": False},
                 "content": [{"type": "tool_use", "name": EDITOR, "input": e} for e in edits]},
                {"when": {"system_contains": WRITER, "last_user_has_tool_result": True}, "content": "DONE"},
            ]  # fmt: skip
        for i in range(ANSWERS_PER_TIER):
            # Wrong fixes rotate with the tier too, so a tier does not start on the very wrong fix the
            # one below ended on (which the ladder would rightly stop as circular).
            edits = ct.fix if rng.random() < P_FIX[tier] else ct.wrong[(i + tier) % len(ct.wrong)]
            entries += [
                {"when": {"system_contains": IMPLEMENTER, "last_user_has_tool_result": False},
                 "content": [_edit(e) for e in edits]},
                {"when": {"system_contains": IMPLEMENTER, "last_user_has_tool_result": True},
                 "content": "DONE"},
            ]  # fmt: skip
        models[model] = entries
    return {"models": models}


def hidden_pass(repo: Path, branch: str, originals: dict[str, str], tests: list[str]) -> bool:
    """Put the hidden tests back on the branch's tree (in a scratch worktree) and run them."""
    with tempfile.TemporaryDirectory(prefix="bench-issue-check-") as tmp:
        wt = Path(tmp) / "wt"
        subprocess.run(["git", "worktree", "add", "-q", "--detach", str(wt), branch], cwd=repo, check=True)
        try:
            for rel, text in originals.items():
                (wt / rel).write_text(text)
            proc = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests],
                cwd=wt, capture_output=True, text=True, timeout=300,
            )  # fmt: skip
            return proc.returncode == 0
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(wt)], cwd=repo, check=False)


def run_one(ct: CorpusTask, arm: str, seed: int, sim) -> IssueRun:
    from escalate.config import load_config
    from escalate.ladder.run import run_task
    from escalate.task import Task

    with tempfile.TemporaryDirectory(prefix=f"bench-issue-{ct.id}-") as tmp:
        repo = materialize(ct, Path(tmp) / "repo")
        originals = hide_tests(repo, ct.tests)
        subprocess.run(["git", "commit", "-qam", "hide the issue's tests"], cwd=repo, check=True,
                       env=_git_env())  # fmt: skip
        sim.set_script(script(ct, originals, seed))
        roles = {r: {"enabled": False} for r in ("explorer", "planner", "reviewer", "committer")}
        roles["test_writer"] = {"enabled": arm == "reproduce-first", "tier": "haiku"}
        config = load_config(repo, {
            "validate": {"test_command": [sys.executable, "-m", "pytest"], "timeout_s": 120},
            "roles": roles, "ledger": {"enabled": False}, "budget": {"max_cost_usd": 5.0},
        })  # fmt: skip
        task = Task.from_issue_text(ct.text, title=ct.title, labels=list(ct.labels))
        start = time.monotonic()
        outcome = run_task(task, repo, config, provider=sim.provider())
        wall = time.monotonic() - start
        fixed = outcome.outcome == "fixed"
        resolved = fixed and hidden_pass(repo, outcome.branch, originals, ct.tests)
        return IssueRun(ct.id, arm, seed, outcome.outcome, resolved, fixed and not resolved,
                        float(outcome.cost_usd), outcome.calls, round(wall, 2))  # fmt: skip


def _git_env() -> dict:
    import os

    return {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@e.x",
            "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "b@e.x"}  # fmt: skip


def bootstrap(values: list[float], n: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of the mean."""
    if not values:
        return (0.0, 0.0)
    rng = random.Random(seed)
    means = sorted(sum(rng.choice(values) for _ in values) / len(values) for _ in range(n))
    return means[int(0.025 * n)], means[int(0.975 * n) - 1]


def summarise(runs: list[IssueRun]) -> dict:
    out = {}
    for arm in ARMS:
        rows = [r for r in runs if r.arm == arm]
        resolved = [1.0 if r.resolved else 0.0 for r in rows]
        cost = sum(r.cost_usd for r in rows)
        out[arm] = {
            "runs": len(rows),
            "resolved": int(sum(resolved)),
            "resolve_rate": round(sum(resolved) / len(rows), 3) if rows else 0.0,
            "resolve_rate_ci95": [round(x, 3) for x in bootstrap(resolved)],
            "false_fixes": sum(r.false_fix for r in rows),
            "needs_human": sum(r.outcome == "needs_human" for r in rows),
            "cost_usd": round(cost, 4),
            "usd_per_resolved": round(cost / sum(resolved), 4) if sum(resolved) else None,
            "cost_per_task_ci95": [round(x, 4) for x in bootstrap([r.cost_usd for r in rows])],
        }
    return out


def report(summary: dict, args: argparse.Namespace, n_tasks: int) -> str:
    lines = [
        f"# Issue-only tasks: reproduce-first vs suite-only ({datetime.now(UTC):%Y-%m-%d})",
        "",
        f"{n_tasks} corpus tasks with their target tests hidden, seeds {args.seeds}; the same scripted "
        f"answers in both arms (P_TEST {P_TEST}, P_FIX {P_FIX}, cheapest tier first). Resolved = the "
        "hidden tests pass on escalate's branch. 95% bootstrap intervals over runs.",
        "",
        "| arm | resolved | resolve rate (95% CI) | false fixes | needs_human | total $ | $/resolved |",
        "|---|---|---|---|---|---|---|",
    ]
    for arm, s in summary.items():
        ci = s["resolve_rate_ci95"]
        per = f"${s['usd_per_resolved']:.4f}" if s["usd_per_resolved"] is not None else "-"
        lines.append(
            f"| {arm} | {s['resolved']}/{s['runs']} | {s['resolve_rate']:.1%} ({ci[0]:.1%}-{ci[1]:.1%}) | "
            f"{s['false_fixes']} | {s['needs_human']} | ${s['cost_usd']:.4f} | {per} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench issues", description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", type=int, help="only the first N issue-capable corpus tasks")
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    from escalate.sim.testing import running_sim

    tasks = [t for t in load_corpus() if t.tests and t.wrong]
    tasks = tasks[: args.tasks] if args.tasks else tasks
    runs: list[IssueRun] = []
    with running_sim() as sim:
        for seed in range(args.seeds):
            for ct in tasks:
                for arm in ARMS:
                    try:
                        run = run_one(ct, arm, seed, sim)
                    except Exception as exc:  # a bench must finish: the failure is a row, said aloud
                        print(f"{ct.id} {arm}: {exc!r}", file=sys.stderr)
                        run = IssueRun(ct.id, arm, seed, f"error: {exc!r}"[:200], False, False, 0.0, 0, 0.0)
                    runs.append(run)
                    print(f"{ct.id:28} {arm:16} {run.outcome:14} resolved={run.resolved} "
                          f"${run.cost_usd:.4f}", file=sys.stderr)  # fmt: skip
    summary = summarise(runs)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"{datetime.now(UTC):%Y-%m-%d}-issues"
    stem.with_suffix(".json").write_text(
        json.dumps(
            {
                "summary": summary,
                "runs": [asdict(r) for r in runs],
                "assumptions": {"P_TEST": P_TEST, "P_FIX": P_FIX},
            },
            indent=1,
        )  # fmt: skip
    )
    text = report(summary, args, len(tasks))
    stem.with_suffix(".md").write_text(text)
    print(text)
    shutil.rmtree(args.out / "__pycache__", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The benchmark corpus: small real projects with real bugs, their fixes, and plausible wrong fixes.

Each task lives in ``bench/corpus/<id>/``: ``repo/`` is the buggy project (with its own tests and
ruff config) and ``task.yml`` describes the bug. ``check_task`` proves every task with real pytest
and real ruff in a temp copy: the target tests fail at base, the fix applies and makes the whole suite
pass and ruff clean, and every wrong fix leaves something failing.

    python -m bench.corpus --check            # check every task (parallel)
    python -m bench.corpus --check id1 id2    # check some
    python -m bench.corpus --list
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from escalate.errors import EscalateError

DEFAULT_ROOT = Path(__file__).resolve().parent / "corpus"
KINDS = frozenset(
    {
        "off-by-one",
        "wrong-operator",
        "missing-case",
        "multi-file",
        "lint-only",
        "wrong-default",
        "exception-handling",
        "state-bug",
    }
)
ID_PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
REQUIRED = ("id", "kind", "title", "text", "tests", "fix", "wrong", "files", "difficulty", "labels")
OPTIONAL = ("lint", "preexisting_lint")
# Caches and bytecode never belong in a materialized copy.
COPY_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".ruff_cache", ".git")
# A pytest -rA summary line: "PASSED tests/test_x.py::test_y" or "FAILED tests/test_x.py::test_y - msg".
SUMMARY_LINE = re.compile(r"^(PASSED|FAILED|ERROR|XFAIL|XPASS|SKIPPED)\s+(\S+)")

Edit = dict[str, str]  # {"path", "old_str", "new_str"}: a text editor str_replace, relative to repo/


class CorpusError(EscalateError):
    """A corpus task file is malformed; the message names the task and the field."""


@dataclass
class CorpusTask:
    id: str
    kind: str
    title: str
    text: str
    tests: list[str]
    fix: list[Edit]
    wrong: list[list[Edit]]
    files: int
    difficulty: float
    labels: list[str]
    repo_dir: Path
    lint: list[str] = field(default_factory=list)
    preexisting_lint: list[str] = field(default_factory=list)

    def oracle_entry(self) -> dict:
        """This task as an entry of the sim script's ``oracle.tasks`` list (docs/architecture.md)."""
        return {
            "id": self.id,
            "match": self.tests[0] if self.tests else self.text.splitlines()[0],
            "difficulty": self.difficulty,
            "fix": [dict(e) for e in self.fix],
            "wrong": [[dict(e) for e in w] for w in self.wrong],
        }


def load_corpus(root: Path = DEFAULT_ROOT) -> list[CorpusTask]:
    """Every task under ``root``, sorted by id."""
    root = Path(root)
    if not root.is_dir():
        raise CorpusError(f"no corpus at {root}: pass the directory that holds <id>/task.yml folders")
    return [load_task(d) for d in sorted(root.iterdir()) if (d / "task.yml").is_file()]


def load_task(task_dir: Path) -> CorpusTask:
    """One task from ``task_dir/task.yml``, with its fields checked for type and shape."""
    task_dir = Path(task_dir)
    where = f"{task_dir / 'task.yml'}"
    raw = yaml.safe_load((task_dir / "task.yml").read_text())
    if not isinstance(raw, dict):
        raise CorpusError(f"{where}: expected a mapping")
    missing = [k for k in REQUIRED if k not in raw]
    unknown = [k for k in raw if k not in REQUIRED + OPTIONAL]
    if missing or unknown:
        raise CorpusError(f"{where}: missing fields {missing}, unknown fields {unknown}")
    if not ID_PATTERN.match(str(raw["id"])) or raw["id"] != task_dir.name:
        raise CorpusError(f"{where}: id must match {ID_PATTERN.pattern} and equal the folder name")
    if raw["kind"] not in KINDS:
        raise CorpusError(f"{where}: kind {raw['kind']!r} is not one of {sorted(KINDS)}")
    fix = _edits(raw["fix"], f"{where}: fix")
    wrong = raw["wrong"]
    if not isinstance(wrong, list) or not 1 <= len(wrong) <= 3:
        raise CorpusError(f"{where}: wrong must be a list of 1-3 edit lists")
    difficulty = float(raw["difficulty"])
    if not 0 <= difficulty <= 1:
        raise CorpusError(f"{where}: difficulty must be in [0, 1]")
    return CorpusTask(
        id=raw["id"],
        kind=raw["kind"],
        title=str(raw["title"]),
        text=str(raw["text"]).strip(),
        tests=[str(t) for t in raw["tests"]],
        fix=fix,
        wrong=[_edits(w, f"{where}: wrong[{i}]") for i, w in enumerate(wrong)],
        files=int(raw["files"]),
        difficulty=difficulty,
        labels=[str(label) for label in raw["labels"]],
        repo_dir=task_dir / "repo",
        lint=[str(c) for c in raw.get("lint") or []],
        preexisting_lint=[str(c) for c in raw.get("preexisting_lint") or []],
    )


def _edits(value: object, where: str) -> list[Edit]:
    if not isinstance(value, list) or not value:
        raise CorpusError(f"{where}: expected a non-empty list of {{path, old_str, new_str}}")
    edits = []
    for i, e in enumerate(value):
        if not isinstance(e, dict) or set(e) != {"path", "old_str", "new_str"}:
            raise CorpusError(f"{where}[{i}]: expected exactly the keys path, old_str, new_str")
        edits.append({k: str(e[k]) for k in ("path", "old_str", "new_str")})
    return edits


def apply_edits(root: Path, edits: list[Edit]) -> None:
    """Apply str_replace edits in order; each old_str must match exactly once, as the editor requires."""
    for e in edits:
        path = Path(root) / e["path"]
        if not path.is_file():
            raise CorpusError(f"edit targets missing file {e['path']}")
        text = path.read_text()
        count = text.count(e["old_str"])
        if count != 1:
            raise CorpusError(f"old_str matches {count} times in {e['path']}: {e['old_str'][:60]!r}")
        path.write_text(text.replace(e["old_str"], e["new_str"], 1))


def materialize(task: CorpusTask, dest: Path) -> Path:
    """Copy the task's buggy repo into ``dest`` (created) as a fresh git repo with one commit."""
    dest = Path(dest)
    shutil.copytree(task.repo_dir, dest, ignore=COPY_IGNORE, dirs_exist_ok=True)
    if not (dest / ".gitignore").exists():
        (dest / ".gitignore").write_text("__pycache__/\n*.pyc\n.pytest_cache/\n.ruff_cache/\n.escalate/\n")

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=dest, check=True, capture_output=True, env=_git_env())

    git("init", "-q", "-b", "main")
    git("config", "user.name", "escalate bench")
    git("config", "user.email", "bench@escalate.invalid")
    git("config", "commit.gpgsign", "false")
    git("add", "-A")
    git("commit", "-q", "-m", f"{task.id}: base")
    return dest


def _git_env() -> dict[str, str]:
    # Never read the user's global git config: identity and hooks come from the repo only.
    env = dict(os.environ)
    env.update(GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1")
    return env


def _tool_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTEST_ADDOPTS")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # Corpus projects use plain pytest; skipping plugin discovery halves each run's start-up.
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return env


def run_pytest(root: Path) -> dict[str, str]:
    """The whole suite of the project at ``root``: node id -> outcome (``passed``, ``failed``, ...)."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-rA", "-q", "-p", "no:cacheprovider"],
        cwd=root,
        capture_output=True,
        text=True,
        env=_tool_env(),
        timeout=120,
    )
    results = {}
    for line in proc.stdout.splitlines():
        m = SUMMARY_LINE.match(line)
        if m:
            results[m.group(2)] = m.group(1).lower()
    if proc.returncode not in (0, 1) and not results:
        results["<collection>"] = f"error (pytest exit {proc.returncode}): {proc.stdout[-400:]}"
    return results


def run_ruff(root: Path, *, fix: bool = False) -> list[tuple[str, str]]:
    """Ruff findings of the project at ``root`` under its own config, as sorted (path, code) pairs."""
    cmd = [sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "json", "--exit-zero"]
    if fix:
        cmd.append("--fix")
    proc = subprocess.run(cmd + ["."], cwd=root, capture_output=True, text=True, env=_tool_env(), timeout=60)
    found = json.loads(proc.stdout or "[]")
    return sorted((os.path.relpath(f["filename"], root), f["code"] or "syntax") for f in found)


def _ruff_concise(root: Path) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "ruff",
        "check",
        "--no-cache",
        "--output-format",
        "concise",
        "--exit-zero",
        ".",
    ]
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, env=_tool_env(), timeout=60)
    return proc.stdout.splitlines()


def check_task(task: CorpusTask) -> list[str]:
    """Everything wrong with ``task``, proven with real pytest and ruff; an empty list means it is sound."""
    problems: list[str] = []
    fix_paths = {e["path"] for e in task.fix}
    if task.files != len(fix_paths):
        problems.append(f"files says {task.files} but the fix touches {len(fix_paths)} file(s)")
    if task.kind == "lint-only" and (task.tests or not task.lint):
        problems.append("a lint-only task has tests: [] and a non-empty lint: [codes]")
    if task.kind != "lint-only" and not task.tests:
        problems.append("no target tests")
    if task.kind == "multi-file" and len(fix_paths) < 2:
        problems.append("a multi-file task's fix must touch at least 2 files")
    allowed = set(task.preexisting_lint)

    with tempfile.TemporaryDirectory(prefix=f"corpus-{task.id}-") as tmp:
        base = _copy(task, Path(tmp) / "base")
        results = run_pytest(base)
        for node in task.tests:
            if results.get(node) not in ("failed", "error"):
                problems.append(f"target {node} does not fail at base ({results.get(node, 'not collected')})")
        others = [n for n, r in results.items() if n not in task.tests and r in ("failed", "error")]
        if others:
            problems.append(f"non-target tests fail at base: {others}")
        base_codes = {code for _, code in run_ruff(base)}
        if not base_codes <= allowed | set(task.lint):
            problems.append(
                f"unexpected ruff findings at base: {sorted(base_codes - allowed - set(task.lint))}"
            )
        for code in task.lint:
            if code not in base_codes:
                problems.append(f"lint code {code} not present at base")
        if task.lint and task.text.splitlines()[0] not in _ruff_concise(base):
            problems.append(
                "lint-only text must start with a finding as `ruff --output-format concise` prints it"
            )
        if task.lint:
            auto = _copy(task, Path(tmp) / "autofix")
            survived = {code for _, code in run_ruff(auto, fix=True)}
            fixed_by_ruff = [c for c in task.lint if c not in survived]
            if fixed_by_ruff:
                problems.append(f"`ruff check --fix` removes {fixed_by_ruff} on its own: pick another rule")

        fixed = _copy(task, Path(tmp) / "fixed")
        try:
            apply_edits(fixed, task.fix)
        except CorpusError as exc:
            problems.append(f"fix does not apply: {exc}")
        else:
            problems += [f"after the fix: {p}" for p in _failures(fixed, allowed)]

        for i, wrong in enumerate(task.wrong):
            attempt = _copy(task, Path(tmp) / f"wrong{i}")
            try:
                apply_edits(attempt, wrong)
            except CorpusError as exc:
                problems.append(f"wrong[{i}] does not apply: {exc}")
                continue
            if not _failures(attempt, allowed):
                problems.append(f"wrong[{i}] passes every test and ruff: it is not wrong")
    return problems


def _copy(task: CorpusTask, dest: Path) -> Path:
    shutil.copytree(task.repo_dir, dest, ignore=COPY_IGNORE)
    return dest


def _failures(root: Path, allowed_lint: set[str]) -> list[str]:
    """Why the project at ``root`` is not green: failing tests, or ruff codes outside ``allowed_lint``."""
    results = run_pytest(root)
    failing = [n for n, r in results.items() if r not in ("passed", "skipped", "xfail")]
    out = [f"tests fail: {failing}"] if failing else [] if results else ["no tests collected"]
    lint = [f"{p}: {c}" for p, c in run_ruff(root) if c not in allowed_lint]
    if lint:
        out.append(f"ruff findings: {lint}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.corpus", description=__doc__.split("\n\n")[0])
    parser.add_argument("ids", nargs="*", help="task ids (default: all)")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="corpus directory")
    parser.add_argument("--check", action="store_true", help="prove each task with real pytest and ruff")
    parser.add_argument("--list", action="store_true", help="list tasks with kind and difficulty")
    parser.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 2, help="parallel checks")
    args = parser.parse_args(argv)
    tasks = load_corpus(args.root)
    if args.ids:
        unknown = set(args.ids) - {t.id for t in tasks}
        if unknown:
            parser.error(f"unknown task ids: {sorted(unknown)}")
        tasks = [t for t in tasks if t.id in args.ids]
    if args.list or not args.check:
        for t in tasks:
            print(f"{t.id:32} {t.kind:20} {t.difficulty:.2f}  {t.title}")
        return 0
    bad = 0
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for task, problems in zip(tasks, pool.map(check_task, tasks), strict=True):
            bad += bool(problems)
            print(f"{task.id:32} {'ok' if not problems else 'FAILED'}")
            for p in problems:
                print(f"    {p}")
    print(f"{len(tasks) - bad}/{len(tasks)} tasks sound")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

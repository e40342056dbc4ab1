"""Runner overhead: `escalate fix` (a real subprocess) against a zero-delay sim, taken apart.

Per task: the wall time of the command; the time inside API calls (the client's own measure,
from calls.jsonl: loopback round trips to a sim that answers at once); the validation time of
each attempt (attempts.xml); and, by hand on the same repository, `pytest` (full suite),
`pytest <targets>` and `ruff check .`. The scripted model fails once (a wrong patch) and then
fixes, so a failed attempt's validation (stopped at the target tests) sits next to a passing
one's (ruff, target tests, then the full suite).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

from bench.corpus import CorpusTask, apply_edits, materialize
from bench.taskrun import role_answers, role_systems

EDITOR = "str_replace_based_edit_tool"


def suitable(tasks: list[CorpusTask]) -> list[CorpusTask]:
    """Tasks whose first wrong patch and fix are one edit each on the same text (so attempt 2 can
    turn the wrong patch into the fix), with target tests."""
    out = []
    for t in tasks:
        w = t.wrong[0]
        if t.tests and len(t.fix) == 1 and len(w) == 1 and w[0]["path"] == t.fix[0]["path"]:
            if w[0]["old_str"] == t.fix[0]["old_str"]:
                out.append(t)
    return out


def script_for(t: CorpusTask) -> dict:
    wrong, fix = t.wrong[0][0], t.fix[0]
    second = {"path": fix["path"], "old_str": wrong["new_str"], "new_str": fix["new_str"]}

    implementer = {"system_contains": role_systems()["fixer"]}

    def turn(e: dict) -> dict:
        use = {"type": "tool_use", "name": EDITOR, "input": {"command": "str_replace", **e}}
        when = {**implementer, "last_user_has_tool_result": False}
        return {"when": when, "content": [{"type": "text", "text": "Fix."}, use]}

    done = {"when": {**implementer, "last_user_has_tool_result": True}, "content": "Done. DONE"}
    roles = role_answers([t])  # explorer, reviewer, commit writer: the default config's roles
    return {"models": {"claude-haiku-4-5": [*roles, turn(wrong), done, turn(second), done], "*": roles}}


def _timed(argv: list[str], cwd: Path, env: dict) -> float:
    started = time.perf_counter()
    subprocess.run(argv, cwd=cwd, capture_output=True, env=env)
    return time.perf_counter() - started


def escalate_command() -> list[str]:
    script = Path(sys.executable).parent / "escalate"
    return [str(script)] if script.exists() else [sys.executable, "-m", "escalate.cli"]


def measure(t: CorpusTask, tmp: Path) -> dict:
    from escalate.sim.testing import running_sim
    from escalate.workspace.process import safe_env

    repo = materialize(t, tmp / "repo")
    config = {
        "validate": {
            "test_command": [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"],
            "ruff_command": [sys.executable, "-m", "ruff", "check"],
            "full_suite": True,
        },
        "ledger": {"enabled": False},
    }
    (repo / ".escalate.yml").write_text(yaml.safe_dump(config))
    with running_sim(script_for(t)) as sim:
        env = {**os.environ, **sim.env()}
        started = time.perf_counter()
        proc = subprocess.run(
            [*escalate_command(), "fix", "--repo", str(repo), "--json", "-q", *t.tests],
            capture_output=True,
            text=True,
            env=env,
        )
        wall = time.perf_counter() - started
    result = json.loads(proc.stdout)
    log_dir = Path(result["log_dir"])
    calls = [json.loads(x) for x in (log_dir / "calls.jsonl").read_text().splitlines() if x]
    attempts = [
        (c.get("name"), float(c.get("time") or 0), c.find("failure") is not None)
        for c in ET.parse(log_dir / "attempts.xml").iter("testcase")
    ]
    # By hand, on a copy with the fix applied (the state the passing attempt validated).
    by_hand = tmp / "by-hand"
    materialize(t, by_hand)
    apply_edits(by_hand, t.fix)
    tool_env = safe_env()
    pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    return {
        "task": t.id,
        "outcome": result["outcome"],
        "verdicts": [a["verdict"] + "@" + a["stage"] for a in result["attempts"]],
        "wall_s": wall,
        "model_s": sum(c["duration_s"] for c in calls),
        "calls": len(calls),
        "failed_attempt_validation_s": next((s for _, s, failed in attempts if failed), None),
        "passing_attempt_validation_s": next((s for _, s, failed in attempts if not failed), None),
        "hand_pytest_suite_s": _timed(pytest, by_hand, tool_env),
        "hand_pytest_targets_s": _timed([*pytest, *t.tests], by_hand, tool_env),
        "hand_ruff_s": _timed([sys.executable, "-m", "ruff", "check", "."], by_hand, tool_env),
    }


def run_overhead(tasks: list[CorpusTask], n: int = 2, log=print) -> dict:
    chosen = suitable(tasks)[:n]
    rows = []
    for t in chosen:
        with tempfile.TemporaryDirectory(prefix=f"bench-overhead-{t.id}-") as tmp:
            row = measure(t, Path(tmp))
        hand = row["hand_pytest_suite_s"] + row["hand_ruff_s"]
        validation = (row["failed_attempt_validation_s"] or 0) + (row["passing_attempt_validation_s"] or 0)
        # Baseline = one full suite + ruff over the tree: the by-hand run stands in for it.
        row["runner_own_s"] = row["wall_s"] - row["model_s"] - validation - hand
        row["hand_total_s"] = hand
        rows.append(row)
        own = row["runner_own_s"]
        log(f"  {t.id}: wall {row['wall_s']:.2f} s, model {row['model_s']:.2f} s, runner's own {own:.2f} s")

    def med(key: str) -> float | None:
        values = [r[key] for r in rows if r.get(key) is not None]
        return statistics.median(values) if values else None

    keys = [k for k in (rows[0] if rows else {}) if k.endswith("_s")]
    bare = statistics.median(
        _timed([sys.executable, "-c", "pass"], Path.cwd(), dict(os.environ)) for _ in range(3)
    )
    heavy = [sys.executable, "-c", "import anthropic, git, pydantic"]
    sdk = statistics.median(_timed(heavy, Path.cwd(), dict(os.environ)) for _ in range(3))
    return {"rows": rows, "median": {k: med(k) for k in keys}, "import_sdk_git_pydantic_s": sdk - bare}

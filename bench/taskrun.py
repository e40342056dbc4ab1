"""One benchmark run: a corpus task, materialized as a real git repo, fixed by ``run_task`` against
a fresh oracle-mode simulator. Runs in a worker process; returns plain data (picklable, JSON-able).

A fresh simulator per run matters: the oracle counts attempts per (task, model), and the arms
must each start from attempt 1 so that shared difficulty and noise line them up task by task.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.corpus import CorpusTask, load_task, materialize
from bench.simoracle import MAX_TURNS, TRACE, joint_table

SIM_KEY = "sk-sim-bench"


@dataclass
class RunResult:
    """What one (arm, seed, task) run produced, as the arms' metrics need it."""

    arm: str
    seed: int
    task: str
    outcome: str
    fixed: bool
    correct: bool  # the accepted patch was the oracle's real fix (not a wrong one validation let pass)
    cost_usd: float
    calls: int
    attempts: list[dict] = field(default_factory=list)  # {tier, model, n, verdict, stage, duration_s}
    tiers: list[str] = field(default_factory=list)  # tiers visited, in order
    final_tier: str | None = None
    input_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    output_tokens: int = 0
    call_records: list[dict] = field(default_factory=list)  # calls.jsonl rows (for batch pricing)
    wall_s: float = 0.0
    model_s: float = 0.0  # time inside API calls, as the client measured it
    validation_s: float = 0.0
    roles: list[str] = field(default_factory=list)
    decisions: list[dict] = field(default_factory=list)
    error: str | None = None

    def to_json(self) -> dict:
        return asdict(self)


def corpus_task_to_task(ct: CorpusTask):
    """The runner's Task for a corpus task: failing tests, or lint findings for a lint-only task."""
    from escalate.task import Task

    if ct.tests:
        task = Task.from_tests(ct.tests, source="bench")
    else:
        task = Task.from_findings(ct.text.splitlines(), source="bench")
    task.title, task.text, task.labels = ct.title, ct.text, list(ct.labels)
    return task


def oracle_entry(ct: CorpusTask) -> dict:
    """The corpus task's oracle entry; a lint task matches on "CODE message" alone, because the
    runner quotes ``path:line:col:`` and the nightly scan ``path:line:`` (both carry the message)."""
    entry = ct.oracle_entry()
    if not ct.tests:
        entry["match"] = re.sub(r"^\S+?:\d+(?::\d+)?:\s*", "", entry["match"])
    return entry


def role_systems() -> dict[str, str]:
    """The first line of each role's system prompt: how the sim tells a role's request apart."""
    from escalate.agent.prompts import SYSTEM
    from escalate.roles.plan import COMMITTER_SYSTEM, EXPLORER_SYSTEM, PLANNER_SYSTEM
    from escalate.roles.review import REVIEWER_SYSTEM

    systems = {
        "fixer": SYSTEM,
        "explorer": EXPLORER_SYSTEM,
        "planner": PLANNER_SYSTEM,
        "reviewer": REVIEWER_SYSTEM,
        "committer": COMMITTER_SYSTEM,
    }
    return {role: text.splitlines()[0] for role, text in systems.items()}


def role_answers(tasks: list[CorpusTask]) -> list[dict]:
    """Script entries for the roles around the implementer. The oracle knows only fixes, so the
    simulated roles are neutral: the explorer names the files of the fix, the planner points at
    them, the reviewer approves (validation alone decides), the commit writer states the title."""
    systems = role_systems()
    paths = sorted({e["path"] for t in tasks for e in t.fix})
    listing = json.dumps([{"path": p, "symbols": [], "why": "the failing behaviour is here"} for p in paths])
    title = tasks[0].title if len(tasks) == 1 else "the failing tests"
    subject = "fix: " + re.sub(r"\s+", " ", title)[:60]
    answers = {
        "explorer": f"The code under test is in {', '.join(paths)}.\n```json\n{listing}\n```",
        "planner": f"Find the cause in {', '.join(paths)} and change it there; keep the tests as they are.",
        "reviewer": "APPROVE",
        "committer": f"{subject}\n\nCorrect the behaviour the failing tests describe.",
    }
    return [
        {"when": {"system_contains": systems[role]}, "content": text, "repeat": True}
        for role, text in answers.items()
    ]


def oracle_script(tasks: list[CorpusTask], seed: int, trace: bool = True) -> dict:
    """The oracle for ``tasks`` (the implementer's attempts) and neutral answers for the roles.

    Each task's joint outcome across the tiers is drawn from the real table (``bench.simoracle``);
    with ``trace`` the implementer explores for 10-40 turns per attempt before it edits."""
    systems = role_systems()
    oracle = {
        "seed": seed,
        "joint": joint_table().to_spec(),
        "trace": dict(TRACE) if trace else None,
        "tasks": [oracle_entry(t) for t in tasks],
        "pass_system": [text for role, text in systems.items() if role != "fixer"],
    }
    return {"oracle": oracle, "models": {"*": role_answers(tasks)}}


def bench_overrides(tiers: list[dict] | None = None, **extra) -> dict:
    """Config for bench runs: this interpreter's pytest and ruff, the full suite on, no ledger."""
    out: dict = {
        "validate": {
            "test_command": [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"],
            "ruff_command": [sys.executable, "-m", "ruff", "check"],
            "full_suite": True,
            "timeout_s": 60,
        },
        "ledger": {"enabled": False},
        "session": {"max_turns": MAX_TURNS},  # the oracle's traces run up to 40 turns per attempt
    }
    if tiers is not None:
        out["tiers"] = tiers
    for key, value in extra.items():
        out[key] = {**out.get(key, {}), **value} if isinstance(value, dict) else value
    return out


def run_one(job: dict) -> dict:
    """Run ``job`` = {arm, seed, task_dir, overrides}; a crash becomes an ``error`` result, never lost."""
    ct = load_task(Path(job["task_dir"]))
    try:
        return _run(ct, job).to_json()
    except Exception as exc:  # a bench must report a broken run, not die on it
        return RunResult(
            job["arm"], job["seed"], ct.id, "error", False, False, 0.0, 0, error=repr(exc)
        ).to_json()


def _run(ct: CorpusTask, job: dict) -> RunResult:
    from escalate.config import load_config
    from escalate.ladder.run import run_task
    from escalate.llm.catalog import Catalog
    from escalate.llm.providers.anthropic import AnthropicProvider, sdk_client
    from escalate.sim.server import SimServer
    from escalate.sim.simulator import Simulator

    with tempfile.TemporaryDirectory(prefix=f"bench-{ct.id}-") as tmp:
        repo = materialize(ct, Path(tmp) / "repo")
        config = load_config(repo, job["overrides"])
        sim = Simulator(oracle_script([ct], job["seed"]))
        server = SimServer(sim, host="127.0.0.1", port=0).start()
        try:
            provider = AnthropicProvider(sdk_client(base_url=server.url, api_key=SIM_KEY))
            started = time.perf_counter()
            outcome = run_task(
                corpus_task_to_task(ct), repo, config, catalog=Catalog.static(), provider=provider
            )
            wall = time.perf_counter() - started
            log = sim.log.snapshot()
        finally:
            server.close()
        calls = [json.loads(x) for x in (Path(outcome.log_dir) / "calls.jsonl").read_text().splitlines() if x]
    oracle = [r["oracle"] for r in log if isinstance(r.get("oracle"), dict) and "success" in r["oracle"]]
    attempts = [{**a.to_json(), "duration_s": round(a.duration_s, 3)} for a in outcome.attempts]
    tiers = list(dict.fromkeys(a["tier"] for a in attempts))
    fixed = outcome.outcome == "fixed"
    return RunResult(
        arm=job["arm"],
        seed=job["seed"],
        task=ct.id,
        outcome=outcome.outcome,
        fixed=fixed,
        correct=fixed and bool(oracle) and oracle[-1]["success"],
        cost_usd=float(outcome.cost_usd),
        calls=outcome.calls,
        attempts=attempts,
        tiers=tiers,
        final_tier=tiers[-1] if tiers else None,
        input_tokens=sum(c["input_tokens"] for c in calls),
        cache_write_tokens=sum(c["cache_write_tokens"] for c in calls),
        cache_read_tokens=sum(c["cache_read_tokens"] for c in calls),
        output_tokens=sum(c["output_tokens"] for c in calls),
        call_records=calls,
        wall_s=wall,
        model_s=sum(c["duration_s"] for c in calls),
        validation_s=sum(a.duration_s for a in outcome.attempts),
        roles=sorted({c["role"] for c in calls}),
        decisions=[{"kind": d.kind, "choice": d.choice, "reason": d.reason} for d in outcome.decisions],
        error=None if outcome.outcome != "error" else outcome.explanation,
    )

"""Batch against interactive: the same corpus tasks at Message Batches prices.

Two figures, labelled apart in the report:
- measured: the nightly flow itself (``escalate.batch.submit.submit`` + ``escalate.batch.collect.collect``)
  against the oracle sim's batch endpoints, night after night (a task that fails goes one tier up
  the next night) until every task is fixed or handed to a human, at most ``NIGHTS`` nights;
- computed: the interactive ladder's own calls (from the economics runs) priced with
  ``PriceTable.cost(batch=True)``: what the same calls would cost at the batch discount.
"""

from __future__ import annotations

import sys
import tempfile
from decimal import Decimal
from pathlib import Path

from bench.corpus import CorpusTask, load_task, materialize
from bench.economics import run_jobs
from bench.taskrun import SIM_KEY, oracle_script

NIGHTS = 3


def batch_one(job: dict) -> dict:
    ct = load_task(Path(job["task_dir"]))
    try:
        return _batch(ct, job["seed"])
    except Exception as exc:  # reported, never lost
        return {"task": ct.id, "fixed": False, "cost_usd": 0.0, "nights": 0, "error": repr(exc)}


def _batch(ct: CorpusTask, seed: int) -> dict:
    from escalate.batch.collect import collect
    from escalate.batch.submit import submit
    from escalate.config import load_config
    from escalate.llm.providers.anthropic import AnthropicProvider, sdk_client
    from escalate.sim.server import SimServer
    from escalate.sim.simulator import Simulator

    with tempfile.TemporaryDirectory(prefix=f"bench-batch-{ct.id}-") as tmp:
        repo = materialize(ct, Path(tmp) / "repo")
        overrides = {
            "validate": {
                "test_command": [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"],
                "ruff_command": [sys.executable, "-m", "ruff", "check"],
            }
        }
        config = load_config(repo, overrides)
        server = SimServer(Simulator(oracle_script([ct], seed)), host="127.0.0.1", port=0).start()
        cost, states, requests, nights = Decimal(0), [], 0, 0
        try:
            provider = AnthropicProvider(sdk_client(base_url=server.url, api_key=SIM_KEY))
            for _ in range(NIGHTS):
                sub = submit(repo, config, provider=provider, issues=[])
                if not sub.planned:
                    break
                nights += 1
                requests += len(sub.planned)
                got = collect(repo, config, provider=provider, wait=True, timeout=60, poll_seconds=0.05)
                cost += got.cost
                states += [r.state for r in got.results]
                if any(s == "fixed" for s in states) or all(s == "needs_human" for s in states):
                    break
            # Requests the oracle recognised: 0 would mean the simulated model never saw the task.
            recognised = sum(1 for r in server.sim.log.snapshot() if isinstance(r.get("oracle"), dict))
        finally:
            server.close()
    return {
        "task": ct.id,
        "fixed": "fixed" in states,
        "cost_usd": float(cost),
        "nights": nights,
        "requests": requests,
        "states": states,
        "oracle_recognised": recognised,
        "error": None,
    }


def computed_batch_price(call_records: dict[str, list[dict]], arm: str, seed: int, tasks: set[str]) -> dict:
    """The interactive arm's calls on ``tasks`` priced at list and at batch prices (same usage)."""
    from escalate.llm.pricing import PriceTable, Usage

    prices = PriceTable.load()
    interactive, batch = Decimal(0), Decimal(0)
    for key, rows in call_records.items():
        a, s, task = key.split("|")
        if a != arm or int(s) != seed or task not in tasks:
            continue
        for c in rows:
            usage = Usage(
                input_tokens=c["input_tokens"],
                output_tokens=c["output_tokens"],
                cache_write_5m=c.get("cache_write_5m", c["cache_write_tokens"]),
                cache_write_1h=c.get("cache_write_1h", 0),
                cache_read=c["cache_read_tokens"],
                thinking_tokens=c["thinking_tokens"],
            )
            interactive += prices.cost(c["model"], usage)
            batch += prices.cost(c["model"], usage, batch=True)
    return {"arm": arm, "seed": seed, "interactive_usd": float(interactive), "batch_usd": float(batch)}


def run_batch(tasks: list[CorpusTask], seed: int, workers: int, log=print) -> dict:
    jobs = [{"task_dir": str(t.repo_dir.parent), "seed": seed} for t in tasks]
    log(f"  measured: {len(jobs)} repos, submit + collect for up to {NIGHTS} nights each")
    rows = run_jobs(jobs, workers, fn=batch_one)
    return {
        "seed": seed,
        "measured": {
            "rows": rows,
            "fixed": sum(r["fixed"] for r in rows),
            "tasks": len(rows),
            "cost_usd": sum(r["cost_usd"] for r in rows),
            "errors": [f"{r['task']}: {r['error']}" for r in rows if r["error"]],
        },
    }


def compare(batch: dict, economics: dict) -> dict:
    """The interactive ladder on the same tasks and seed: measured, and its calls at batch prices."""
    seed = batch["seed"]
    if seed not in economics.get("seeds", []):
        return {}
    tasks = {r["task"] for r in batch["measured"]["rows"]}
    ladder = [
        r for r in economics["runs"] if r["arm"] == "ladder" and r["seed"] == seed and r["task"] in tasks
    ]
    return {
        "interactive_ladder": {
            "resolved": sum(r["correct"] for r in ladder),
            "cost_usd": sum(r["cost_usd"] for r in ladder),
        },
        "computed": computed_batch_price(economics["call_records"], "ladder", seed, tasks),
    }

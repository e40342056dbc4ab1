"""Submit and collect against the simulator's batch endpoints, in real git repos with real ruff and pytest."""

from __future__ import annotations

from decimal import Decimal

import pytest
from batchrepo import LINT_EDITS, TEST_EDITS, WARNING_EDITS, make_nightly_repo, tool_uses
from samplerepo import PYTEST_COMMAND, git

from escalate.batch.collect import collect
from escalate.batch.submit import status, submit
from escalate.config import load_config
from escalate.llm.pricing import PriceTable, Usage, fmt_usd
from escalate.records.ledger import Ledger

pytestmark = pytest.mark.slow  # end to end: the real SDK against the simulated API

HOUR = 3600


def _config(root):
    return load_config(root, {"validate": {"test_command": PYTEST_COMMAND}})


def _batch_items(sim) -> dict[str, dict]:
    return {r["custom_id"]: r for r in sim.requests if r["method"] == "BATCH"}


def _creates(sim) -> list[dict]:
    return [r for r in sim.requests if r["method"] == "POST" and r["path"] == "/v1/messages/batches"]


def _branches(root) -> set[str]:
    return set(git(root, "branch", "--format=%(refname:short)").split())


def test_batch_night_one_and_two(tmp_path, sim):
    # A second unfixable ruff finding, so night 1 holds four requests: one of each result type.
    root = make_nightly_repo(
        tmp_path, {"calc/names.py": "def first(items):\n    O = items[0]\n    return O\n"}
    )
    config = _config(root)
    provider = sim.provider()
    tiers = [t.name for t in config.tiers]

    # Night 1 ------------------------------------------------------------------------------
    sim.batch_seconds = 30 * HOUR  # request i of 4 finishes at 7.5 h * (i + 1): the last one expires at 24 h
    sub = submit(root, config, provider=provider)
    assert [p.task.kind for p in sub.planned] == ["test", "warning", "lint", "lint"]
    test_id, warn_id, lint_id, late_id = (p.custom_id for p in sub.planned)
    first_tier = {p.custom_id: p.tier for p in sub.planned}
    # The router classifies each task: ruff findings are mechanical work and start on the cheapest tier.
    assert first_tier[lint_id] == first_tier[late_id] == tiers[0]
    assert {p.klass.complexity for p in sub.planned if p.task.kind == "lint"} == {"mechanical"}
    sim.set_script(
        {
            "models": {
                "*": [
                    {
                        "when": {"last_user_contains": "tests/test_ops.py::test_add"},
                        "content": tool_uses(TEST_EDITS),
                    },
                    # A malformed edit: old_str that is not in the file.
                    {
                        "when": {"last_user_contains": "calc/legacy.py:5"},
                        "content": tool_uses([{**WARNING_EDITS[0], "old_str": "def old_mean(values):\n"}]),
                    },
                ]
            },
            "faults": [{"custom_id": lint_id, "status": 500}],
        }
    )
    assert len(_creates(sim)) == 1 and sub.api_batch_id
    [in_flight] = status(root, config, provider=provider)["in_flight"]
    assert (in_flight["api_batch_id"], in_flight["processing_status"]) == (sub.api_batch_id, "in_progress")
    early = collect(root, config, provider=provider, wait=True, timeout=0.05, poll_seconds=0.01)
    assert early.results == [] and early.in_progress == [in_flight["batch"]]
    sim.clock.advance(25 * HOUR)

    out = collect(root, config, provider=provider)
    by_id = {r.custom_id: r for r in out.results}
    assert set(by_id) == {test_id, warn_id, lint_id, late_id}

    fixed = by_id[test_id]
    assert fixed.state == "fixed" and fixed.branch == f"escalate/batch-{test_id}"
    ops = git(root, "show", f"{fixed.branch}:calc/ops.py")
    assert "return a + b" in ops and "# multiplication is commutative" in ops  # both tool_use blocks applied
    assert "return a - b\n\n\ndef sub" in (root / "calc/ops.py").read_text()  # the checkout is untouched
    assert git(root, "rev-list", "--count", f"main..{fixed.branch}").strip() == "1"
    assert "GitHub not configured" in fixed.detail

    # Cost at batch prices: half of what the same usage costs interactively, and what the sim charged.
    prices = PriceTable.load()
    item = _batch_items(sim)[test_id]
    usage = Usage.from_api(item["usage"])
    assert fixed.cost_usd == prices.cost(fixed.model, usage, batch=True) == Decimal(item["cost_usd_exact"])
    assert fixed.interactive_usd == prices.cost(fixed.model, usage) == 2 * fixed.cost_usd > 0
    summary = out.summary_markdown()
    assert fmt_usd(fixed.cost_usd) in summary and fmt_usd(fixed.interactive_usd) in summary

    malformed = by_id[warn_id]
    assert malformed.state == "failed" and malformed.detail.startswith("edit: ")
    assert "did not appear verbatim" in malformed.detail
    nxt = tiers[tiers.index(first_tier[warn_id]) + 1]
    assert malformed.next_tier == nxt and malformed.cost_usd > 0

    errored = by_id[lint_id]
    assert (errored.result_type, errored.state, errored.cost_usd) == ("errored", "errored", 0)
    assert errored.next_tier == first_tier[lint_id]
    expired = by_id[late_id]
    assert (expired.result_type, expired.cost_usd, expired.next_tier) == ("expired", 0, first_tier[late_id])

    with Ledger.open(root / ".escalate/ledger.db") as ledger:
        calls = [dict(r) for r in ledger.db.execute("SELECT model, cost_usd, batch FROM calls")]
    assert len(calls) == 2 and all(c["batch"] == 1 for c in calls)
    billed = [r for r in out.results if r.cost_usd]  # errored and expired requests are not billed
    assert sorted(c["cost_usd"] for c in calls) == sorted(round(float(r.cost_usd), 6) for r in billed)

    # Collecting again applies nothing twice.
    branches = _branches(root)
    again = collect(root, config, provider=provider)
    assert again.results == [] and again.collected == [] and _branches(root) == branches

    queued = status(root, config, provider=provider)
    assert queued["in_flight"] == []
    assert {(w["slug"], w["tier"]) for w in queued["waiting"]} == {
        (warn_id, nxt),
        (lint_id, first_tier[lint_id]),
        (late_id, first_tier[late_id]),
    }
    waiting_total = sum(w["worst_case_usd"] for w in queued["waiting"])
    assert queued["queued_worst_case_usd"] == pytest.approx(waiting_total, abs=2e-6) and waiting_total > 0

    # Night 2: the failed task goes one tier up, the errored and expired ones retry, the fixed one is held.
    sim.batch_seconds = 0
    sim.set_script(
        {
            "models": {
                "*": [
                    {"when": {"last_user_contains": "calc/legacy.py:5"}, "content": tool_uses(WARNING_EDITS)},
                    {
                        "when": {"last_user_contains": "calc/style.py:5: E741"},
                        "content": tool_uses(LINT_EDITS),
                    },
                ]
            }
        }
    )
    # Night 2 also gathers its fixes in one combined PR (validated together); the full suite already
    # ran on night 1, so the target tests and ruff prove these.
    config.batch.combined_pr = True
    config.validate.full_suite = False
    sub2 = submit(root, config, provider=provider)
    assert {p.custom_id: p.tier for p in sub2.planned} == {
        warn_id: nxt,
        lint_id: first_tier[lint_id],
        late_id: first_tier[late_id],
    }
    assert (test_id, "fixed") in [(s, why.split(" ")[0]) for s, why in sub2.skipped]
    out2 = collect(root, config, provider=provider)
    # calc/names.py gets an answer without edits this time: it fails on its own, the others are fixed.
    states = {r.custom_id: r.state for r in out2.results}
    assert states == {warn_id: "fixed", lint_id: "failed", late_id: "fixed"}
    assert _batch_items(sim)[warn_id]["body"]["model"] == config.tiers[tiers.index(nxt)].model
    legacy = git(root, "show", f"escalate/batch-{warn_id}:calc/legacy.py")
    assert "warnings.warn" not in legacy
    [combined] = {
        r.pull_request or r.detail.split("in combined branch ")[1].split(";")[0]
        for r in out2.results
        if r.state == "fixed"
    }
    assert combined.startswith("escalate/batch-combined-")
    assert git(root, "rev-list", "--count", f"main..{combined}").strip() == "2"
    assert "largest = max(values)" in git(root, "show", f"{combined}:calc/style.py")
    assert "warnings.warn" not in git(root, "show", f"{combined}:calc/legacy.py")

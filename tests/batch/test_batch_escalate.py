"""`collect --escalate-now`: a one-shot fix that fails validation runs interactively on the next tier."""

from __future__ import annotations

import pytest
from batchrepo import TEST_EDITS, tool_uses
from samplerepo import PYTEST_COMMAND, WRONG_1, git, make_calc_repo

from escalate.batch.collect import collect
from escalate.batch.queue import Queue
from escalate.batch.submit import submit
from escalate.config import load_config
from escalate.records.ledger import Ledger

pytestmark = pytest.mark.slow  # end to end: the real SDK against the simulated API

WRONG = [WRONG_1["input"]]


def test_escalate_now_runs_the_next_tier_interactively(tmp_path, sim):
    root = make_calc_repo(tmp_path)
    config = load_config(root, {"validate": {"test_command": PYTEST_COMMAND, "full_suite": False}})
    first, second = config.tiers[0], config.tiers[1]
    provider = sim.provider()
    sim.set_script(
        {
            "models": {
                first.model: [{"content": tool_uses(WRONG, "Multiplying is surely right.")}],
                second.model: [
                    {"content": tool_uses(TEST_EDITS[:1], "add() subtracted; it must add.")},
                    {"content": [{"type": "text", "text": "Fixed add(). DONE"}]},
                ],
            }
        }
    )
    sub = submit(root, config, provider=provider)
    assert [p.tier for p in sub.planned] == [first.name]

    out = collect(root, config, provider=provider, escalate_now=True)
    [res] = out.results
    assert res.state == "fixed" and res.next_tier is None
    assert res.escalated["outcome"] == "fixed" and "interactively from" in res.detail
    assert "return a + b" in git(root, "show", f"{res.branch}:calc/ops.py")
    # Both the batch call and the interactive calls are in the cost; the sonnet calls are not discounted.
    sonnet = [r for r in sim.requests if r["method"] == "POST" and r.get("model") == second.model]
    assert len(sonnet) == 2 and res.cost_usd > res.interactive_usd / 2
    with Ledger.open(root / ".escalate/ledger.db") as ledger:
        assert Queue(ledger).get(res.custom_id).state == "fixed"

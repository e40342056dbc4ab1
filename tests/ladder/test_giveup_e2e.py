"""Issue 14 item 3 end to end: the ledger says the next tier is not worth its cost, the run stops there
for a human, and the decision carries its numbers to --json, summary.md and the needs-human comment."""

from pathlib import Path

import pytest
from samplerepo import CALC_TARGET, ROLES_OFF, make_calc_repo, sample_config

from escalate.github.render import decisions_section
from escalate.ladder.run import run_task
from escalate.records.ledger import Ledger
from escalate.task import Task


def seed_sonnet_never_rescues(root: Path) -> None:
    """Twelve past tasks of this repository: haiku failed each, sonnet ($0.50 a visit) never rescued one."""
    with Ledger.open(root / ".escalate/ledger.db") as ledger:
        for i in range(12):
            run = ledger.record_run_start(f"seed-{i}", repo=str(root.resolve()), source="seed")
            ledger.record_task(run, kind="test", complexity="generative", error_cost="low")
            ledger.record_attempt(run, "haiku", "claude-haiku-4-5", 1, "fail", "target", "", 0.01)
            ledger.record_attempt(run, "sonnet", "claude-sonnet-4-6", 1, "fail", "target", "", 0.50)
            ledger.record_outcome(run, "needs_human", 0.51, "sonnet")


@pytest.mark.slow
def test_a_tier_not_worth_its_cost_is_not_paid_for(tmp_path, env):
    env.set_script({"models": {"claude-haiku-4-5": [{"content": "It looks fine to me. DONE"}]}})
    root = make_calc_repo(tmp_path)
    seed_sonnet_never_rescues(root)
    tiers = [{"name": "haiku", "model": "claude-haiku-4-5"}, {"name": "sonnet", "model": "claude-sonnet-4-6"}]
    router = {"value_usd": 1.0, "explore_share": 0}
    config = sample_config(
        root, {"roles": ROLES_OFF, "validate": {"full_suite": False}}, {"tiers": tiers, "router": router}
    )
    task = Task(kind="test", title="make the test pass", text="", target_tests=[CALC_TARGET], slug="calc")
    outcome = run_task(task, root, config)
    assert outcome.outcome == "needs_human"
    assert [a.tier for a in outcome.attempts] == ["haiku"]  # sonnet was never paid for
    assert {r["body"]["model"] for r in env.messages_requests()} == {"claude-haiku-4-5"}
    [stop] = [d for d in outcome.decisions if d.kind == "give_up"]
    assert stop.choice == "stop before sonnet" and "not worth it" in stop.reason
    assert stop.data["climb"] is False and stop.data["after_fail"]["trials"] == 12
    assert stop.data["value_usd"] == 1.0 and stop.data["cost_usd"] == pytest.approx(0.5)
    assert stop.data["expected_value_usd"] < 0.5
    assert [d["data"] for d in outcome.to_json()["decisions"] if d["kind"] == "give_up"] == [stop.data]
    assert "Stopped before sonnet" in outcome.explanation
    summary = (Path(outcome.log_dir) / "summary.md").read_text()
    assert "- **give_up**: stop before sonnet" in summary and "numbers: P(fix on sonnet)" in summary
    comment = decisions_section(outcome.decisions)
    assert "numbers: P(fix on sonnet)" in comment and "value of a fix $1.0000" in comment

"""Issue 14 item 3: before each higher tier, is it worth paying for? The evidence and its numbers."""

from __future__ import annotations

import pytest

from escalate.config import RouterConfig
from escalate.ladder.policy import ESCALATE, GIVE_UP, EscalationPolicy
from escalate.records.ledger import Ledger
from escalate.routing.giveup import ClimbDecision, Failure, decide_climb, same_failure
from escalate.routing.rules import Classification

TIERS = ["haiku", "sonnet", "opus"]
MODELS = {"haiku": "claude-haiku-4-5", "sonnet": "claude-sonnet-4-6", "opus": "claude-opus-4-6"}
GENERATIVE_LOW = Classification("generative", "low")
HAIKU_FAILS = ("haiku", ["fail", "fail"], 0.02)


def write_run(ledger: Ledger, run: str, klass: Classification, ladder: list) -> None:
    """A finished run: (tier, verdicts, cost per attempt) per tier, every attempt failing at "target"."""
    ledger.record_run_start(run, repo="/srv/shop")
    ledger.record_task(run, kind="test", complexity=klass.complexity, error_cost=klass.error_cost)
    for tier, verdicts, cost in ladder:
        for n, verdict in enumerate(verdicts, 1):
            ledger.record_attempt(run, tier, MODELS[tier], n, verdict, "target", "", cost)


SONNET_FAILS = ("sonnet", ["fail", "fail"], 0.09)
FAILED = [Failure("haiku", "target", "sig-a"), Failure("sonnet", "target", "sig-b")]


@pytest.fixture
def ledger(tmp_path):
    with Ledger.open(tmp_path / "ledger.db") as ledger:
        yield ledger


def opus_rarely_rescues(ledger: Ledger, solved: int = 1, runs: int = 10) -> None:
    """`runs` tasks that haiku and sonnet failed; opus ($0.80 a visit) solved `solved` of them."""
    for i in range(runs):
        verdict = "pass" if i < solved else "fail"
        write_run(ledger, f"r{i}", GENERATIVE_LOW, [HAIKU_FAILS, SONNET_FAILS, ("opus", [verdict], 0.80)])


def test_a_tier_that_rarely_rescues_is_not_worth_a_low_value_fix(ledger):
    opus_rarely_rescues(ledger)
    cfg = RouterConfig(value_usd=2.0, explore_share=0)
    stop = decide_climb(ledger, GENERATIVE_LOW, TIERS, 2, FAILED, cfg, repo="/srv/shop", models=MODELS)
    # after-fail 1/10 shrunk toward 0.5 (nothing else in the ledger): (1 + 2) / 14; one stage only
    assert not stop.climb and stop.tier == "opus"
    assert stop.after_fail.successes == 1 and stop.after_fail.trials == 10
    assert stop.p_success == pytest.approx(stop.after_fail.mean) == pytest.approx(3 / 14)
    # the decision reads the optimistic bound: p + 1.28 standard errors over 10 + 4 observations
    high = 3 / 14 + 1.28 * ((3 / 14) * (11 / 14) / 15) ** 0.5
    assert stop.p_high == pytest.approx(high) and high * 2.0 < 0.80
    assert stop.cost_usd == pytest.approx(0.80) and stop.value_usd == 2.0
    assert "not worth it, stop" in stop.reason
    data = stop.to_json()
    assert data["climb"] is False and data["expected_value_usd"] == pytest.approx(high * 2, abs=1e-6)

    # A task in router.explore_share climbs anyway, so opus's after-fail history stays current.
    def climb(task_id: str) -> ClimbDecision:
        cfg = RouterConfig(value_usd=2.0)
        return decide_climb(ledger, GENERATIVE_LOW, TIERS, 2, FAILED, cfg, repo="/srv/shop", task_id=task_id)

    again = climb(next(f"t{i}" for i in range(500) if climb(f"t{i}").climb))
    assert again.climb and "router.explore_share" in again.reason
    # The same evidence with a fix worth $50: climb.
    go = decide_climb(
        ledger, GENERATIVE_LOW, TIERS, 2, FAILED, RouterConfig(value_usd=50.0), repo="/srv/shop"
    )
    assert go.climb and "beats" in go.reason


def test_a_tier_that_usually_rescues_is_climbed(ledger):
    opus_rarely_rescues(ledger, solved=8)
    go = decide_climb(ledger, GENERATIVE_LOW, TIERS, 2, FAILED, RouterConfig(value_usd=3.0))
    assert go.climb and go.p_success > 0.6


def test_the_remaining_budget_stops_a_visit_it_cannot_pay_for(ledger):
    opus_rarely_rescues(ledger, solved=8)
    stop = decide_climb(ledger, GENERATIVE_LOW, TIERS, 2, FAILED, RouterConfig(), budget_left_usd=0.30)
    assert not stop.climb and stop.budget_left_usd == 0.30 and "left in the budget" in stop.reason


def test_the_same_failure_on_every_lower_tier_discounts_the_next(ledger):
    opus_rarely_rescues(ledger, solved=5)
    stuck = [Failure("haiku", "target", "sig-a"), Failure("sonnet", "target", "sig-a")]
    assert same_failure(stuck) and not same_failure(FAILED) and not same_failure(stuck[:1])
    plain = decide_climb(ledger, GENERATIVE_LOW, TIERS, 2, FAILED, RouterConfig())
    cut = decide_climb(ledger, GENERATIVE_LOW, TIERS, 2, stuck, RouterConfig(same_failure_discount=0.25))
    assert cut.same_failure and cut.p_success == pytest.approx(plain.p_success * 0.25)


def test_the_failure_stage_narrows_the_estimate(ledger):
    opus_rarely_rescues(ledger, solved=0, runs=6)  # sonnet failed at "target": opus never rescued those
    for i in range(6):  # sonnet failed at "ruff": opus rescued every one
        ledger.record_run_start(f"f{i}", repo="/srv/shop")
        ledger.record_task(f"f{i}", kind="test", complexity="generative", error_cost="low")
        ledger.record_attempt(f"f{i}", "sonnet", MODELS["sonnet"], 1, "fail", "ruff", "", 0.09)
        ledger.record_attempt(f"f{i}", "opus", MODELS["opus"], 1, "pass", "ok", "", 0.80)
    cfg = RouterConfig(value_usd=1.5, explore_share=0)
    at_ruff = decide_climb(ledger, GENERATIVE_LOW, TIERS, 2, [Failure("sonnet", "ruff")], cfg)
    at_target = decide_climb(ledger, GENERATIVE_LOW, TIERS, 2, [Failure("sonnet", "target")], cfg)
    assert at_ruff.stage_rate.trials == 6 and at_ruff.climb
    assert at_target.stage_rate.trials == 6 and not at_target.climb


def test_without_evidence_the_ladder_climbs(ledger):
    opus_rarely_rescues(ledger, runs=3)
    few = decide_climb(ledger, GENERATIVE_LOW, TIERS, 2, FAILED, RouterConfig(min_history=5, value_usd=0.01))
    assert few.climb and "router.min_history" in few.reason
    off = decide_climb(ledger, GENERATIVE_LOW, TIERS, 2, FAILED, RouterConfig(learning=False, value_usd=0.01))
    assert off.climb and "router.learning is off" in off.reason
    assert decide_climb(None, GENERATIVE_LOW, TIERS, 2, FAILED, RouterConfig(value_usd=0.01)).climb


def test_the_policy_asks_the_judge_before_each_higher_tier():
    asked: list = []

    def judge(nxt: int, failures: list) -> ClimbDecision:
        asked.append((nxt, [(f.tier, f.stage, f.signature) for f in failures]))
        return ClimbDecision(nxt < 2, TIERS[nxt], "numbers")

    policy = EscalationPolicy("base", 3, judge=judge, tier_names=TIERS)
    policy.enter_tier(0, 1)
    step = policy.after_attempt("haiku attempt 1", "t1", False, "sig-a", "target")
    assert step.action == ESCALATE and step.climb.tier == "sonnet"
    policy.enter_tier(1, 1)
    step = policy.after_attempt("sonnet attempt 1", "t2", False, "sig-a", "target")
    assert step.action == GIVE_UP and step.climb.tier == "opus" and "numbers" in step.reason
    assert asked == [
        (1, [("haiku", "target", "sig-a")]),
        (2, [("haiku", "target", "sig-a"), ("sonnet", "target", "sig-a")]),
    ]

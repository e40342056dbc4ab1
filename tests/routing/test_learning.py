"""Learning from outcomes: the ledger's history moves a class's start tier, with the numbers as reason."""

from __future__ import annotations

import math

import pytest

from escalate.config import Config, RouterConfig
from escalate.records.ledger import Ledger
from escalate.routing.learning import choose_start, cost_per_success, expected_cost, tier_estimates
from escalate.routing.rules import Classification

TIERS = ["haiku", "sonnet", "opus"]
MODELS = {"haiku": "claude-haiku-4-5", "sonnet": "claude-sonnet-4-6", "opus": "claude-opus-4-6"}
GENERATIVE_LOW = Classification(
    "generative", "low", ["a failing test with no mechanical or reasoning signal"]
)


def write_run(
    ledger: Ledger, run: str, klass: Classification, ladder: list[tuple[str, list[str], float]]
) -> None:
    """One finished run the way the runner records it: task, attempts per tier, outcome.

    `ladder` holds (tier, verdicts of its attempts, cost per attempt).
    """
    ledger.record_run_start(run, repo="/srv/shop", base_commit="9e1d3a7", source="cli")
    ledger.record_task(
        run, kind="test", slug=run, title=f"tests/test_shop.py::{run}", complexity=klass.complexity,
        error_cost=klass.error_cost,
    )  # fmt: skip
    total = 0.0
    for tier, verdicts, cost in ladder:
        for n, verdict in enumerate(verdicts, 1):
            ledger.record_attempt(run, tier, MODELS[tier], n, verdict, "target", "", cost)
            total += cost
    fixed = ladder[-1][1][-1] == "pass"
    ledger.record_outcome(run, "fixed" if fixed else "needs_human", total, ladder[-1][0])


HAIKU_FAILS = [("haiku", ["fail", "fail"], 0.02)]


def haiku_rarely_solves(ledger: Ledger, klass: Classification = GENERATIVE_LOW, prefix: str = "t") -> None:
    """8 tasks: haiku solves 1 ($0.04 a task there), sonnet 6 of 7 ($0.09), opus the last ($0.30)."""
    write_run(ledger, f"{prefix}0", klass, [("haiku", ["fail", "pass"], 0.02)])
    for i in range(1, 7):
        write_run(ledger, f"{prefix}{i}", klass, [*HAIKU_FAILS, ("sonnet", ["pass"], 0.09)])
    write_run(
        ledger,
        f"{prefix}7",
        klass,
        [*HAIKU_FAILS, ("sonnet", ["fail", "circular"], 0.045), ("opus", ["pass"], 0.30)],
    )


@pytest.fixture
def ledger(tmp_path):
    with Ledger.open(tmp_path / ".escalate" / "ledger.db") as ledger:
        yield ledger


def test_estimates_and_expected_cost_from_the_ledger(ledger):
    haiku_rarely_solves(ledger)
    est = tier_estimates(ledger.tier_visits("generative", "low"), TIERS)
    assert [(e.tier, e.tasks, e.solved) for e in est] == [("haiku", 8, 1), ("sonnet", 7, 6), ("opus", 1, 1)]
    assert [round(e.mean_cost, 4) for e in est] == [0.04, 0.09, 0.30]
    # From haiku: 0.04 + 7/8 * 0.09 + 7/8 * 1/7 * 0.30; every task is solved somewhere.
    assert expected_cost(est, 0) == (pytest.approx(0.15625), pytest.approx(1.0))
    assert cost_per_success(est, 1) == pytest.approx(0.09 + 0.30 / 7)


def test_history_moves_the_start_when_haiku_rarely_solves_a_class(ledger):
    haiku_rarely_solves(ledger)
    choice = choose_start(ledger, GENERATIVE_LOW, TIERS, 0, RouterConfig(), models=MODELS)
    assert (choice.index, choice.name, choice.moved, choice.used_history) == (1, "sonnet", True, True)
    assert "haiku solved 1/8 generative/low tasks (12%), $0.04 per task there" in choice.reason
    assert "sonnet solved 6/7 generative/low tasks (86%), $0.09 per task there" in choice.reason
    assert choice.reason.endswith("starting at sonnet: expected $0.13 per solved task vs $0.16 from haiku")
    # opus has one task of history, below router.min_history: never a candidate start.
    assert set(choice.per_success) == {"haiku", "sonnet"}


def test_history_keeps_haiku_when_it_solves_most_tasks(ledger):
    for i in range(6):
        write_run(ledger, f"ok{i}", GENERATIVE_LOW, [("haiku", ["pass"], 0.01)])
    write_run(ledger, "hard", GENERATIVE_LOW, [*HAIKU_FAILS, ("sonnet", ["pass"], 0.09)])
    choice = choose_start(ledger, GENERATIVE_LOW, TIERS, 0, RouterConfig())
    assert (choice.index, choice.moved, choice.used_history) == (0, False, True)
    assert "haiku solved 6/7 generative/low tasks (86%)" in choice.reason
    assert "keeping haiku" in choice.reason and "the cheapest start" in choice.reason


def test_a_small_saving_within_the_margin_keeps_the_rule(ledger):
    haiku_rarely_solves(ledger)
    choice = choose_start(ledger, GENERATIVE_LOW, TIERS, 0, RouterConfig(learning_margin=0.5))
    assert (choice.index, choice.moved) == (0, False)
    assert "sonnet would be $0.13, within router.learning_margin (50%)" in choice.reason


def test_too_little_history_falls_back_to_the_rules(ledger):
    for i in range(3):
        write_run(ledger, f"t{i}", GENERATIVE_LOW, [*HAIKU_FAILS, ("sonnet", ["pass"], 0.09)])
    # Another class's history does not count for this one.
    haiku_rarely_solves(ledger, Classification("mechanical", "low"), prefix="m")
    choice = choose_start(ledger, GENERATIVE_LOW, TIERS, 0, RouterConfig(min_history=5))
    assert (choice.index, choice.moved, choice.used_history) == (0, False, False)
    assert choice.reason == (
        "only 3 past generative/low task(s) in the ledger, 5 needed (router.min_history): "
        "rule-based start at haiku"
    )


def test_learning_off_or_no_ledger_keeps_the_rules(ledger):
    haiku_rarely_solves(ledger)
    off = choose_start(ledger, GENERATIVE_LOW, TIERS, 0, RouterConfig(learning=False))
    assert (off.index, off.moved, off.reason) == (
        0,
        False,
        "router.learning is off: rule-based start at haiku",
    )
    none = choose_start(None, GENERATIVE_LOW, TIERS, 0, RouterConfig())
    assert (none.index, none.moved) == (0, False) and "ledger.enabled" in none.reason


def test_history_of_an_older_model_does_not_count(ledger):
    haiku_rarely_solves(ledger)
    newer = {**MODELS, "haiku": "claude-haiku-5"}
    choice = choose_start(ledger, GENERATIVE_LOW, TIERS, 0, RouterConfig(), models=newer)
    # Haiku's history was made by claude-haiku-4-5: nothing to compare the rule's start against.
    assert (choice.index, choice.moved, choice.used_history) == (0, False, True)
    assert "haiku has fewer than 5 generative/low tasks to compare against" in choice.reason


def test_high_error_cost_never_starts_below_its_rule_tier(ledger):
    klass = Classification("generative", "high")
    for i in range(6):
        write_run(ledger, f"h{i}", klass, [("haiku", ["pass"], 0.01)])
        write_run(ledger, f"s{i}", klass, [("sonnet", ["pass"], 0.20)])
    low_start = choose_start(ledger, Classification("generative", "high"), TIERS, 1, RouterConfig())
    assert (low_start.index, low_start.moved) == (1, False)
    assert "haiku" not in low_start.per_success


def test_a_class_that_was_never_solved_is_unbounded(ledger):
    klass = Classification("reasoning", "low")
    for i in range(5):
        write_run(
            ledger, f"r{i}", klass, [("sonnet", ["fail", "fail"], 0.1), ("opus", ["fail", "fail"], 0.4)]
        )
    choice = choose_start(ledger, klass, TIERS, 1, RouterConfig())
    assert math.isinf(choice.per_success["sonnet"]) and math.isinf(choice.per_success["opus"])
    assert (choice.index, choice.moved) == (1, False)
    assert "unbounded (never solved)" in choice.reason


def test_names_come_from_the_configured_ladder(ledger):
    haiku_rarely_solves(ledger)
    two_tiers = Config(tiers=[{"name": "haiku", "line": "haiku"}, {"name": "sonnet", "line": "sonnet"}]).tiers
    choice = choose_start(ledger, GENERATIVE_LOW, two_tiers, 0, RouterConfig())
    assert (choice.index, choice.name) == (1, "sonnet")
    # Without opus in the ladder the one opus-solved task is simply unsolved from sonnet.
    assert choice.per_success["sonnet"] == pytest.approx(0.09 / (6 / 7))

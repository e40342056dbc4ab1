"""Learning from outcomes: the start tier by expected cost, per repository and class, with shrinkage."""

from __future__ import annotations

import pytest

from escalate.config import Config, RouterConfig
from escalate.records.ledger import Ledger
from escalate.routing.learning import breakeven, choose_start, explores, tier_stats
from escalate.routing.rules import Classification

TIERS = ["haiku", "sonnet", "opus"]
MODELS = {"haiku": "claude-haiku-4-5", "sonnet": "claude-sonnet-4-6", "opus": "claude-opus-4-6"}
GENERATIVE_LOW = Classification(
    "generative", "low", ["a failing test with no mechanical or reasoning signal"]
)
NO_EXPLORE = RouterConfig(explore_share=0)


def write_run(
    ledger: Ledger,
    run: str,
    klass: Classification,
    ladder: list[tuple[str, list[str], float]],
    repo: str = "/srv/shop",
) -> None:
    """One finished run the way the runner records it: task, attempts per tier, outcome.

    `ladder` holds (tier, verdicts of its attempts, cost per attempt).
    """
    ledger.record_run_start(run, repo=repo, base_commit="9e1d3a7", source="cli")
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
    """12 tasks: haiku solves 1 ($0.04 a task there), sonnet 10 of 11 ($0.09), opus the last ($0.30)."""
    write_run(ledger, f"{prefix}0", klass, [("haiku", ["fail", "pass"], 0.02)])
    for i in range(1, 11):
        write_run(ledger, f"{prefix}{i}", klass, [*HAIKU_FAILS, ("sonnet", ["pass"], 0.09)])
    write_run(
        ledger,
        f"{prefix}11",
        klass,
        [*HAIKU_FAILS, ("sonnet", ["fail", "circular"], 0.045), ("opus", ["pass"], 0.30)],
    )


@pytest.fixture
def ledger(tmp_path):
    with Ledger.open(tmp_path / ".escalate" / "ledger.db") as ledger:
        yield ledger


def test_rates_are_shrunk_per_repo_and_class_and_costs_measured_per_tier(ledger):
    haiku_rarely_solves(ledger)
    stats = tier_stats(ledger.tier_visits(), TIERS, GENERATIVE_LOW, "/srv/shop", NO_EXPLORE)
    haiku, sonnet, opus = stats
    # No other class or repository: the prior is 0.5 (Beta(1, 1)); the repo's (1 + 4 * 0.5) / (12 + 4).
    assert (haiku.start.successes, haiku.start.trials) == (1, 12)
    assert haiku.start.prior == pytest.approx(0.5) and haiku.start.mean == pytest.approx(3 / 16)
    assert (haiku.cost_success, haiku.cost_fail) == (pytest.approx(0.04), pytest.approx(0.04))
    # sonnet was only ever reached after haiku failed: its start and after-fail rates are kept apart.
    assert (sonnet.after_fail.successes, sonnet.after_fail.trials) == (10, 11)
    assert sonnet.start.trials == 0 and sonnet.start.mean == pytest.approx(sonnet.after_fail.mean)
    assert sonnet.cost_visit == pytest.approx(0.09) and opus.cost_visit == pytest.approx(0.30)
    # (c_next - c_cheap) / (c_next - c_cheap + F_cheap) = 0.05 / 0.09
    assert breakeven(haiku, sonnet) == pytest.approx(0.05 / 0.09)


def test_history_moves_the_start_when_the_cheap_tier_fails_above_its_break_even(ledger):
    haiku_rarely_solves(ledger)
    choice = choose_start(ledger, GENERATIVE_LOW, TIERS, NO_EXPLORE, repo="/srv/shop", models=MODELS)
    assert (choice.index, choice.name, choice.moved, choice.used_history) == (1, "sonnet", True, True)
    assert [(s.tier, s.move_up) for s in choice.steps] == [("haiku", True), ("sonnet", False)]
    assert "haiku as a start tier solved 1/12 generative/low in /srv/shop tasks" in choice.reason
    # the cautious bound: P(fail) less 1.28 standard errors over 12 + 4 observations
    low = 1 - (3 / 16 + 1.28 * ((3 / 16) * (13 / 16) / 17) ** 0.5)
    assert choice.steps[0].p_fail_low == pytest.approx(low) and low > 0.556 * 1.1
    assert "break-even 56%" in choice.reason and choice.reason.endswith("start at sonnet")


def test_learning_moves_the_start_per_repository(ledger):
    """One repository's haiku fails most tasks, another's solves most: each gets its own start."""
    for i in range(16):
        hard = [*HAIKU_FAILS, ("sonnet", ["pass"], 0.05)] if i < 15 else [("haiku", ["pass"], 0.02)]
        write_run(ledger, f"a{i}", GENERATIVE_LOW, hard, repo="acme/hard")
        easy = [("haiku", ["pass"], 0.02)] if i < 15 else [*HAIKU_FAILS, ("sonnet", ["pass"], 0.05)]
        write_run(ledger, f"b{i}", GENERATIVE_LOW, easy, repo="acme/easy")
    hard = choose_start(ledger, GENERATIVE_LOW, TIERS, NO_EXPLORE, repo="acme/hard")
    easy = choose_start(ledger, GENERATIVE_LOW, TIERS, NO_EXPLORE, repo="acme/easy")
    assert (hard.name, easy.name) == ("sonnet", "haiku")
    assert hard.tiers[0].start.mean < 0.4 < 0.7 < easy.tiers[0].start.mean
    # A repository with no history leans on the class (16 of 32 haiku starts solved): haiku.
    new = choose_start(ledger, GENERATIVE_LOW, TIERS, NO_EXPLORE, repo="acme/new")
    assert new.name == "haiku" and new.tiers[0].start.trials == 0


def test_history_keeps_the_cheapest_tier_when_it_solves_most_tasks(ledger):
    for i in range(6):
        write_run(ledger, f"ok{i}", GENERATIVE_LOW, [("haiku", ["pass"], 0.01)])
    write_run(ledger, "hard", GENERATIVE_LOW, [*HAIKU_FAILS, ("sonnet", ["pass"], 0.09)])
    choice = choose_start(ledger, GENERATIVE_LOW, TIERS, NO_EXPLORE)
    assert (choice.index, choice.moved, choice.used_history) == (0, False, True)
    assert "not above it: try haiku first" in choice.reason


def test_a_margin_over_the_break_even_is_needed(ledger):
    haiku_rarely_solves(ledger)
    cfg = RouterConfig(explore_share=0, learning_margin=0.9)  # needs P(fail) > 0.556 * 1.9
    choice = choose_start(ledger, GENERATIVE_LOW, TIERS, cfg, repo="/srv/shop")
    assert (choice.index, choice.moved) == (0, False)


def test_too_little_history_starts_on_the_cheapest_tier(ledger):
    for i in range(3):
        write_run(ledger, f"t{i}", GENERATIVE_LOW, [*HAIKU_FAILS, ("sonnet", ["pass"], 0.09)])
    choice = choose_start(ledger, GENERATIVE_LOW, TIERS, RouterConfig(min_history=5))
    assert (choice.index, choice.moved, choice.used_history) == (0, False, False)
    assert choice.reason == (
        "only 3 task(s) on haiku in the ledger, 5 needed (router.min_history): "
        "start at the cheapest tier, haiku"
    )


def test_learning_off_or_no_ledger_starts_on_the_cheapest_tier(ledger):
    haiku_rarely_solves(ledger)
    off = choose_start(ledger, GENERATIVE_LOW, TIERS, RouterConfig(learning=False))
    assert (off.index, off.moved, off.reason) == (
        0,
        False,
        "router.learning is off: start at the cheapest tier, haiku",
    )
    none = choose_start(None, GENERATIVE_LOW, TIERS, RouterConfig())
    assert (none.index, none.moved) == (0, False) and "ledger.enabled" in none.reason


def test_history_of_an_older_model_does_not_count(ledger):
    haiku_rarely_solves(ledger)
    newer = {**MODELS, "haiku": "claude-haiku-5"}
    choice = choose_start(ledger, GENERATIVE_LOW, TIERS, NO_EXPLORE, models=newer)
    assert (choice.index, choice.used_history) == (0, False)
    assert "only 0 task(s) on haiku" in choice.reason


def test_infrastructure_errors_are_not_failures(ledger):
    for i in range(8):  # haiku "failed" 8 times, but every one was an API error
        write_run(ledger, f"e{i}", GENERATIVE_LOW, [("haiku", ["error"], 0.0), ("sonnet", ["pass"], 0.09)])
    for i in range(5):
        write_run(ledger, f"ok{i}", GENERATIVE_LOW, [("haiku", ["pass"], 0.01)])
    choice = choose_start(ledger, GENERATIVE_LOW, TIERS, NO_EXPLORE)
    assert choice.tiers[0].start.trials == 5 and choice.name == "haiku"


def test_exploration_is_deterministic_per_task_and_starts_one_tier_lower(ledger):
    assert explores("issue-42", 0.3) == explores("issue-42", 0.3)
    share = sum(explores(f"task-{i}", 0.05) for i in range(4000)) / 4000
    assert 0.04 < share < 0.06
    haiku_rarely_solves(ledger)
    picked = next(f"t-{i}" for i in range(200) if explores(f"t-{i}", 0.05))
    other = next(f"t-{i}" for i in range(200) if not explores(f"t-{i}", 0.05))
    cfg = RouterConfig(explore_share=0.05)
    explored = choose_start(ledger, GENERATIVE_LOW, TIERS, cfg, repo="/srv/shop", task_id=picked)
    assert (explored.name, explored.explored) == ("haiku", True) and "router.explore_share" in explored.reason
    assert choose_start(ledger, GENERATIVE_LOW, TIERS, cfg, repo="/srv/shop", task_id=other).name == "sonnet"


def test_names_come_from_the_configured_ladder(ledger):
    haiku_rarely_solves(ledger)
    two_tiers = Config(tiers=[{"name": "haiku", "line": "haiku"}, {"name": "sonnet", "line": "sonnet"}]).tiers
    choice = choose_start(ledger, GENERATIVE_LOW, two_tiers, NO_EXPLORE, repo="/srv/shop")
    assert (choice.index, choice.name) == (1, "sonnet") and len(choice.steps) == 1


def test_money_names_say_what_they_return():
    """`usd` is a float for files; every `fmt_usd*` is text for people."""
    from decimal import Decimal

    from escalate.llm.pricing import fmt_usd, usd
    from escalate.routing.learning import fmt_usd_short

    assert usd(Decimal("0.0123456")) == 0.012346 and isinstance(usd(Decimal(1)), float)
    assert fmt_usd(Decimal("0.0123")) == "$0.0123"
    assert (fmt_usd_short(0.0123), fmt_usd_short(0.004)) == ("$0.01", "$0.0040")
    assert fmt_usd_short(None) == "unmeasured"

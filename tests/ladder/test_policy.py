import pytest

from escalate.ladder.policy import ACCEPT, ESCALATE, GIVE_UP, RETRY, EscalationPolicy


def policy(tiers: int = 3, max_attempts: int = 2) -> EscalationPolicy:
    p = EscalationPolicy(base_tree="base", tier_count=tiers)
    p.enter_tier(0, max_attempts)
    return p


def test_pass_is_accepted():
    step = policy().after_attempt("haiku attempt 1", "t1", passed=True)
    assert step.action == ACCEPT


def test_two_failures_escalate_one_tier():
    p = policy()
    assert p.after_attempt("a1", "t1", False, "sigA").action == RETRY
    step = p.after_attempt("a2", "t2", False, "sigB")
    assert step.action == ESCALATE and not step.circular
    assert "2 failed attempts" in step.reason


def test_no_change_is_circular_and_escalates_at_once():
    step = policy().after_attempt("a1", "base", False, "sigA")
    assert step.action == ESCALATE and step.circular
    assert "no change" in step.reason


def test_return_to_an_earlier_state_is_circular_even_across_tiers():
    p = policy(max_attempts=3)
    assert p.after_attempt("haiku attempt 1", "t1", False, "sigA").action == RETRY
    step = p.after_attempt("haiku attempt 2", "t1", False, "sigA")
    assert step.action == ESCALATE and step.circular and "haiku attempt 1" in step.reason
    p.enter_tier(1, 2)
    step = p.after_attempt("sonnet attempt 1", "t1", False, "sigA")
    assert step.circular and "haiku attempt 1" in step.reason


def test_signature_flip_flop_is_circular():
    p = policy(max_attempts=5)
    assert p.after_attempt("a1", "t1", False, "A").action == RETRY
    assert p.after_attempt("a2", "t2", False, "B").action == RETRY
    step = p.after_attempt("a3", "t3", False, "A")
    assert step.action == ESCALATE and "A -> B -> A" in step.reason


def test_same_signature_twice_in_a_row_is_not_a_flip_flop():
    p = policy(max_attempts=5)
    for i in range(3):
        assert p.after_attempt(f"a{i}", f"t{i}", False, "A").action == RETRY


def test_top_tier_failing_gives_up():
    p = policy(tiers=2, max_attempts=1)
    assert p.after_attempt("a1", "t1", False, "A").action == ESCALATE
    p.enter_tier(1, 1)
    step = p.after_attempt("b1", "t2", False, "B")
    assert step.action == GIVE_UP and "needs a human" in step.reason


def test_never_de_escalate():
    p = policy()
    p.enter_tier(2, 2)
    with pytest.raises(ValueError, match="de-escalate"):
        p.enter_tier(1, 2)


def test_attempt_counter_resets_per_tier():
    p = policy()
    p.after_attempt("a1", "t1", False, "A")
    p.enter_tier(1, 2)
    assert p.attempts_in_tier == 0
    assert p.after_attempt("b1", "t5", False, "C").action == RETRY

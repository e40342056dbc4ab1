"""escalate's own retries and budget through the real SDK against the simulated API: every try is
logged and paid for, a billed answer that cannot be read is an API error, and a call the budget
cannot pay at the tier's max_tokens is lowered, not refused."""

from decimal import Decimal

import pytest

from escalate.llm.catalog import Catalog
from escalate.llm.client import MIN_USEFUL_MAX_TOKENS, MeteredClient, ModelCallError, ModelRequest
from escalate.llm.pricing import Budget, BudgetExceeded, PriceTable
from escalate.llm.protocols import Stop
from escalate.llm.providers.anthropic import STREAMING_THRESHOLD

CATALOG = Catalog.static()
PRICES = PriceTable.load()


def request(model_id: str = "claude-haiku-4-5", max_tokens: int = 8192, tier: str = "t") -> ModelRequest:
    return ModelRequest(
        model=CATALOG.get(model_id),
        system="be careful",
        messages=[{"role": "user", "content": [{"type": "text", "text": "context"}]}],
        max_tokens=max_tokens,
        tier=tier,
    )


class Recorder:
    def __init__(self) -> None:
        self.calls: list = []
        self.decisions: list[tuple[str, str, str]] = []
        self.sleeps: list[float] = []


def client_for(sim, budget: str = "5", max_retries: int = 2) -> tuple[MeteredClient, Recorder]:
    seen = Recorder()
    llm = MeteredClient(
        CATALOG, PRICES, Budget(budget), seen.calls.append, run="t", max_retries=max_retries,
        provider=sim.provider(), decide=lambda *d: seen.decisions.append(d), sleep=seen.sleeps.append,
    )  # fmt: skip
    return llm, seen


def answered(sim, n: int) -> list[dict]:
    import time

    deadline = time.monotonic() + 5
    while len(sim.messages_requests()) < n and time.monotonic() < deadline:
        time.sleep(0.01)
    return sim.messages_requests()


@pytest.mark.parametrize("max_tokens", [8192, STREAMING_THRESHOLD + 1], ids=["plain", "stream"])
def test_a_malformed_200_body_is_an_api_error_with_the_billed_call_logged(sim, max_tokens):
    sim.set_script({"faults": [{"on_request": 1, "malformed_body": True}]})
    llm, seen = client_for(sim)
    with pytest.raises(ModelCallError) as info:
        llm.send(request(max_tokens=max_tokens))
    [entry] = answered(sim, 1)  # not retried: a second try would be billed again
    assert entry["fault_effect"] == "malformed body" and Decimal(entry["cost_usd_exact"]) > 0
    assert info.value.request_id == entry["request_id"] and "not a message" in str(info.value)
    [record] = seen.calls
    assert (record.outcome, record.request_id, record.cost_estimated) == ("error", entry["request_id"], True)
    # Charged at its worst case: never less than what the API billed.
    assert record.cost_usd >= Decimal(entry["cost_usd_exact"]) and llm.budget.spent == record.cost_usd


def test_a_connection_dropped_after_billing_is_retried_and_both_tries_paid(sim):
    sim.set_script({"faults": [{"on_request": 1, "drop_connection": True}]})
    llm, seen = client_for(sim)
    reply = llm.send(request())
    first, second = answered(sim, 2)
    assert first["fault_effect"] == "connection dropped after billing" and second["status"] == 200
    assert reply.stop == Stop.DONE and reply.record.request_id == second["request_id"]
    lost, ok = seen.calls
    assert (lost.outcome, lost.cost_estimated, ok.outcome) == ("error", True, "ok")
    assert lost.cost_usd >= Decimal(first["cost_usd_exact"]) > 0  # the lost call is in the budget
    assert ok.cost_usd == Decimal(second["cost_usd_exact"])
    assert llm.budget.spent == lost.cost_usd + ok.cost_usd and len(seen.sleeps) == 1


def test_retries_follow_retry_after_and_stop_at_max_retries(sim):
    sim.set_script({"faults": [{"on_request": [1, 2, 3], "status": 529, "retry_after_ms": 250}]})
    llm, seen = client_for(sim, max_retries=2)
    with pytest.raises(ModelCallError) as info:
        llm.send(request())
    requests = answered(sim, 3)
    assert [r["status"] for r in requests] == [529, 529, 529]
    assert seen.sleeps == [0.25, 0.25]  # the API's retry-after-ms, between the three tries
    assert [c.request_id for c in seen.calls] == [r["request_id"] for r in requests]
    assert all(c.outcome == "error" and c.cost_usd == 0 for c in seen.calls)  # refused tries bill nothing
    assert all(c.usage is not None and c.usage.prompt_tokens == 0 for c in seen.calls)  # zeros, not unknown
    assert info.value.status == 529 and info.value.request_id == requests[-1]["request_id"]
    assert "3 tries" in str(info.value)


def test_no_retry_when_the_api_says_not_to_or_the_request_is_bad(sim):
    faults = [{"on_request": 1, "status": 529, "should_retry": False}, {"on_request": 2, "status": 400}]
    sim.set_script({"faults": faults})
    llm, seen = client_for(sim)
    for _ in range(2):
        with pytest.raises(ModelCallError):
            llm.send(request())
    assert len(answered(sim, 2)) == 2 and len(seen.calls) == 2 and seen.sleeps == []


# -- the budget lowers max_tokens ----------------------------------------------------------------


def test_a_call_the_budget_cannot_pay_at_max_tokens_is_sent_with_fewer(sim):
    full = request("claude-sonnet-4-6", tier="sonnet")
    probe, _ = client_for(sim)
    worst = probe.worst_case(full)
    budget = worst / 2  # pays the prompt and about half of the 8,192 output tokens
    llm, seen = client_for(sim, budget=str(budget))
    llm.send(full)
    llm.send(full)  # a second lowered call says so in calls.jsonl, not in another decision
    sent = [r["body"]["max_tokens"] for r in answered(sim, 2)]
    assert MIN_USEFUL_MAX_TOKENS <= sent[1] <= sent[0] < 8192
    assert [c.max_tokens for c in seen.calls] == sent
    [(kind, choice, reason)] = seen.decisions
    assert kind == "max_tokens" and choice == f"sonnet: 8,192 -> {sent[0]:,}"
    assert "instead of refused" in reason
    # What was sent could never pass the budget, even at its worst.
    lowered = probe.worst_case(request("claude-sonnet-4-6", max_tokens=sent[0]))
    assert lowered <= budget and full.max_tokens == 8192  # the caller's request is not modified


def test_below_the_floor_the_call_is_refused_and_not_sent(sim):
    probe, _ = client_for(sim)
    floor = probe.worst_case(request("claude-sonnet-4-6", max_tokens=MIN_USEFUL_MAX_TOKENS))
    llm, seen = client_for(sim, budget=str(floor - Decimal("0.0001")))
    with pytest.raises(BudgetExceeded) as info:
        llm.send(request("claude-sonnet-4-6"))
    assert info.value.needed == probe.worst_case(request("claude-sonnet-4-6"))  # names the full worst case
    assert sim.messages_requests() == [] and seen.calls == [] and seen.decisions == []
    llm_at_floor, _ = client_for(sim, budget=str(floor))
    llm_at_floor.send(request("claude-sonnet-4-6"))
    assert answered(sim, 1)[0]["body"]["max_tokens"] == MIN_USEFUL_MAX_TOKENS


def test_a_retry_the_budget_can_no_longer_pay_is_not_sent(sim):
    sim.set_script({"faults": [{"on_request": 1, "drop_connection": True}]})
    probe, _ = client_for(sim)
    worst = probe.worst_case(request())
    llm, seen = client_for(sim, budget=str(worst * Decimal("1.02")))  # one worst case, then not the floor
    with pytest.raises(BudgetExceeded):
        llm.send(request())
    assert len(answered(sim, 1)) == 1 and [c.outcome for c in seen.calls] == ["error"]
    assert llm.budget.spent == worst <= llm.budget.limit

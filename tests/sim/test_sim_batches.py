"""The Message Batches API of the simulated API, from create to results, via the real SDK."""

from __future__ import annotations

import urllib.request
from decimal import Decimal

import anthropic
import pytest

HOUR = 3600.0


def params(text: str = "hi", **kw) -> dict:
    return {
        "model": "claude-haiku-4-5",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": text}],
        **kw,
    }


def test_batch_with_succeeded_errored_and_expired_results(sim):
    sim.set_script({"models": {"*": [{"content": "batched answer", "repeat": True}]}})
    sim.batch_seconds = 48 * HOUR  # request i of 6 finishes at 8h*(i+1); the window closes at 24h
    client = sim.client()
    batch = client.messages.batches.create(
        requests=[
            {"custom_id": "ok-1", "params": params()},
            {"custom_id": "bad id!", "params": params()},
            {"custom_id": "effort", "params": params(output_config={"effort": "low"})},
            {"custom_id": "late-1", "params": params()},
            {"custom_id": "late-2", "params": params()},
            {"custom_id": "late-3", "params": params()},
        ]
    )
    assert batch.id.startswith("msgbatch_") and batch.processing_status == "in_progress"
    assert batch.request_counts.processing == 6 and batch.results_url is None
    sim.clock.advance(20 * HOUR)
    mid = client.messages.batches.retrieve(batch.id)
    assert mid.processing_status == "in_progress"
    assert (mid.request_counts.succeeded, mid.request_counts.errored, mid.request_counts.expired) == (0, 0, 0)
    with pytest.raises(anthropic.AnthropicError, match="No `results_url`|results_url"):
        list(client.messages.batches.results(batch.id))
    sim.clock.advance(4 * HOUR + 1)
    done = client.messages.batches.retrieve(batch.id)
    assert done.processing_status == "ended" and done.ended_at is not None
    counts = done.request_counts
    assert (counts.processing, counts.succeeded, counts.errored, counts.expired) == (0, 1, 2, 3)
    assert done.results_url == f"{sim.url}/v1/messages/batches/{batch.id}/results"
    results = {r.custom_id: r.result for r in client.messages.batches.results(batch.id)}
    assert results["ok-1"].type == "succeeded"
    message = results["ok-1"].message
    assert message.content[0].text == "batched answer" and message.usage.service_tier == "batch"
    assert results["bad id!"].type == "errored"
    assert "custom_id" in results["bad id!"].error.error.message
    assert results["effort"].error.error.type == "invalid_request_error"
    assert "effort parameter" in results["effort"].error.error.message
    assert {results[k].type for k in ("late-1", "late-2", "late-3")} == {"expired"}
    item = next(r for r in sim.requests if r["method"] == "BATCH" and r["status"] == 200)
    usage = message.usage
    assert Decimal(item["cost_usd_exact"]) == (usage.input_tokens * 1 + usage.output_tokens * 5) / Decimal(
        2_000_000
    )


def test_duplicate_custom_ids_are_errored_and_results_are_jsonl(sim):
    client = sim.client()
    batch = client.messages.batches.create(
        requests=[{"custom_id": "same", "params": params()}, {"custom_id": "same", "params": params("again")}]
    )
    done = client.messages.batches.retrieve(batch.id)  # batch_seconds=0: ends at the first look
    assert done.request_counts.succeeded == 1 and done.request_counts.errored == 1
    req = urllib.request.Request(done.results_url, headers={"x-api-key": "k", "Accept": "application/binary"})
    with urllib.request.urlopen(req) as resp:
        raw = resp.read().decode()
    lines = raw.split("\n")
    assert len(lines) == 3 and lines[-1] == "" and raw.endswith("\n")
    assert '"errored"' in lines[1] and "unique" in lines[1]


def test_cancel_list_and_delete(sim):
    client = sim.client()
    sim.batch_seconds = 100  # four requests finish at 25, 50, 75, 100 s
    batch = client.messages.batches.create(
        requests=[{"custom_id": f"r{i}", "params": params()} for i in range(4)]
    )
    with pytest.raises(anthropic.BadRequestError, match="still processing"):
        client.messages.batches.delete(batch.id)
    sim.clock.advance(60)
    canceling = client.messages.batches.cancel(batch.id)
    assert canceling.processing_status == "canceling" and canceling.cancel_initiated_at is not None
    ended = client.messages.batches.retrieve(batch.id)
    assert ended.processing_status == "ended"
    assert (ended.request_counts.succeeded, ended.request_counts.canceled) == (2, 2)
    types = [r.result.type for r in client.messages.batches.results(batch.id)]
    assert types == ["succeeded", "succeeded", "canceled", "canceled"]
    second = client.messages.batches.create(requests=[{"custom_id": "x", "params": params()}])
    page = client.messages.batches.list(limit=1)
    assert [b.id for b in page.data] == [second.id] and page.has_more
    assert [b.id for b in client.messages.batches.list(limit=1)] == [second.id, batch.id]  # auto-paginates
    deleted = client.messages.batches.delete(batch.id)
    assert deleted.id == batch.id and deleted.type == "message_batch_deleted"
    with pytest.raises(anthropic.NotFoundError):
        client.messages.batches.retrieve(batch.id)


def test_create_needs_requests(sim):
    with pytest.raises(anthropic.BadRequestError, match="requests"):
        sim.client().messages.batches.create(requests=[])


def test_fault_aimed_at_a_batch_item_makes_it_errored(sim):
    sim.set_script({"faults": [{"custom_id": "doomed", "status": 500}]})
    client = sim.client()
    batch = client.messages.batches.create(
        requests=[{"custom_id": "fine", "params": params()}, {"custom_id": "doomed", "params": params()}]
    )
    client.messages.batches.retrieve(batch.id)
    results = {r.custom_id: r.result for r in client.messages.batches.results(batch.id)}
    assert results["fine"].type == "succeeded"
    assert results["doomed"].type == "errored" and results["doomed"].error.error.type == "api_error"
    assert client.messages.create(**params()).content  # the fault never touches /v1/messages

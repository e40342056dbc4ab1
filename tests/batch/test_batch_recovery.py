"""Nothing is lost: a crash between the create call and the ledger write; an intent that never ran."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from batchrepo import TEST_EDITS, tool_uses
from samplerepo import CALC_FILES, CALC_TARGET, PYTEST_COMMAND, git, make_calc_repo, make_repo

from escalate.batch.collect import collect
from escalate.batch.queue import WAITING, Queue
from escalate.batch.submit import SUBMITTING, reconcile, submit
from escalate.config import load_config
from escalate.records.ledger import Ledger


class Crash(Exception):
    """Stands in for the process dying right after the API accepted the batch."""


def _config(root):
    return load_config(root, {"validate": {"test_command": PYTEST_COMMAND}})


def _creates(sim) -> list[dict]:
    return [r for r in sim.requests if r["method"] == "POST" and r["path"] == "/v1/messages/batches"]


def test_a_crash_after_create_cannot_orphan_the_batch(tmp_path, sim):
    root = make_calc_repo(tmp_path)
    config = _config(root)
    config.validate.full_suite = False  # the target test proves the fix; the suite is not the point here
    provider = sim.provider()
    sim.set_script({"models": {"*": [{"content": tool_uses(TEST_EDITS)}]}})

    def crash(batch):
        raise Crash(batch.id)

    with pytest.raises(Crash) as died:
        submit(root, config, provider=provider, on_created=crash)
    api_id = str(died.value)
    with Ledger.open(root / ".escalate/ledger.db") as ledger:
        [intent] = ledger.batches()
        assert (intent["status"], intent["api_batch_id"]) == (SUBMITTING, None)
        planned = [t["custom_id"] for t in intent["tasks"]]

    # The next run finds the batch by its custom_id set, adopts it and collects it.
    out = collect(root, config, provider=provider)
    assert any(api_id in note and "adopted" in note for note in out.reconciled)
    assert [r.custom_id for r in out.results] == planned and out.results[0].state == "fixed"
    # The same cost log as `escalate fix`: one call, flagged as a batch call, at the batch price.
    [call] = [
        json.loads(line) for line in (Path(out.results[0].log_dir) / "calls.jsonl").read_text().splitlines()
    ]
    assert call["batch"] is True and call["cost_usd"] == round(float(out.results[0].cost_usd), 6)
    with Ledger.open(root / ".escalate/ledger.db") as ledger:
        [batch] = ledger.batches()
        assert (batch["status"], batch["api_batch_id"]) == ("collected", api_id)
    assert len(_creates(sim)) == 1  # the task was never sent twice


def test_an_intent_without_a_batch_is_queued_again(tmp_path, sim):
    root = make_calc_repo(tmp_path)
    provider = sim.provider()
    # Another batch of the account, with a different custom_id set, must not be mistaken for ours.
    other = provider.sdk.messages.batches.create(
        requests=[{"custom_id": "someone-else", "params": {"model": "claude-haiku-4-5", "max_tokens": 10,
                                                          "messages": [{"role": "user", "content": "hi"}]}}]
    )  # fmt: skip
    task = {"kind": "test", "title": "t", "text": "", "target_tests": [], "labels": [], "source": "nightly",
            "slug": "test-x-0123456789"}  # fmt: skip
    record = {"task": task, "model": "claude-haiku-4-5", "check": None, "base_commit": "0" * 40,
              "input_tokens": 1000, "max_tokens": 100}  # fmt: skip
    with Ledger.open(root / ".escalate/ledger.db") as ledger:
        ledger.record_batch_intent("nightly-dead", [("test-x-0123456789", json.dumps(record), "haiku")])
        notes = reconcile(ledger, provider)
        assert notes == ["nightly-dead: no batch was created; its 1 task(s) are queued again"]
        assert ledger.batches()[0]["status"] == "abandoned"
        entry = Queue(ledger).get("test-x-0123456789")
        assert (entry.state, entry.tier) == (WAITING, "haiku")
        assert other.id not in {b["api_batch_id"] for b in ledger.batches()}


def test_nothing_to_do_sends_nothing(tmp_path, sim):
    fixed = CALC_FILES["calc/ops.py"].replace(
        "def add(a, b):\n    return a - b", "def add(a, b):\n    return a + b"
    )
    root = make_repo(tmp_path, {**CALC_FILES, "calc/ops.py": fixed})
    out = submit(root, _config(root), provider=sim.provider())
    assert out.planned == [] and out.api_batch_id is None
    assert _creates(sim) == [] and [r for r in sim.requests if r["method"] == "BATCH"] == []


def test_a_result_that_cannot_be_applied_does_not_hold_up_the_others(tmp_path, sim):
    root = make_calc_repo(tmp_path)
    provider = sim.provider()
    sim.set_script({"models": {"*": [{"content": tool_uses(TEST_EDITS), "repeat": True}]}})
    params = {
        "model": "claude-haiku-4-5",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "fix"}],
    }
    batch = provider.sdk.messages.batches.create(
        requests=[
            {"custom_id": "test-gone-base", "params": params},
            {"custom_id": "test-ok", "params": params},
        ]
    )
    task = {
        "kind": "test",
        "title": "t",
        "text": "",
        "target_tests": [CALC_TARGET],
        "labels": [],
        "source": "nightly",
    }
    records = [
        # A base commit the repository does not have (a force-pushed default branch, say).
        ("test-gone-base", {"task": {**task, "slug": "test-gone-base"}, "model": "claude-haiku-4-5",
                            "base_commit": "f" * 40}, "haiku"),
        ("test-ok", {"task": {**task, "slug": "test-ok"}, "model": "claude-haiku-4-5",
                     "base_commit": git(root, "rev-parse", "HEAD").strip()}, "haiku"),
    ]  # fmt: skip
    config = _config(root)
    config.validate.full_suite = False
    with Ledger.open(root / ".escalate/ledger.db") as ledger:
        ledger.record_batch_intent(
            "nightly-two", [(cid, json.dumps(rec), tier) for cid, rec, tier in records]
        )
        ledger.update_batch("nightly-two", status="submitted", api_batch_id=batch.id)
    out = collect(root, config, provider=provider)
    by_id = {r.custom_id: r for r in out.results}
    assert (
        by_id["test-gone-base"].state == "error" and "cannot resolve base" in by_id["test-gone-base"].detail
    )
    assert by_id["test-gone-base"].next_tier == "haiku"
    assert by_id["test-ok"].state == "fixed"  # handled although the one before it failed
    assert out.collected == ["nightly-two"]

"""`escalate stats`: numbers per class and tier from known ledger rows, JSON shape and table."""

from __future__ import annotations

import json

import pytest

from escalate.cli.main import main
from escalate.records.ledger import Ledger

MODELS = {"haiku": "claude-haiku-4-5", "sonnet": "claude-sonnet-4-6", "opus": "claude-opus-4-6"}
COST = {"haiku": 0.01, "sonnet": 0.05, "opus": 0.20}


def run(ledger, run_id, klass, ladder, outcome, extra_cost=0.0, kind="test"):
    """Record one run: `ladder` is [(tier, [verdicts])]; attempts cost COST[tier] each."""
    ledger.record_run_start(run_id, source="cli")
    complexity, error_cost = klass.split("/") if klass else (None, None)
    ledger.record_task(run_id, kind=kind, slug=run_id, complexity=complexity, error_cost=error_cost)
    total = extra_cost
    for tier, verdicts in ladder:
        for n, verdict in enumerate(verdicts, 1):
            ledger.record_attempt(run_id, tier, MODELS[tier], n, verdict, "target", "", COST[tier])
            total += COST[tier]
    ledger.record_outcome(run_id, outcome, total, ladder[-1][0])


def fill(path):
    with Ledger.open(path) as ledger:
        two_fails = ["fail", "fail"]
        # A committer call after the fix is in the run's cost but on no tier.
        run(
            ledger,
            "r1",
            "generative/low",
            [("haiku", ["fail", "circular"]), ("sonnet", ["pass"])],
            "fixed",
            0.005,
        )
        run(ledger, "r2", "generative/low", [("haiku", ["pass"])], "fixed")
        run(
            ledger,
            "r3",
            "generative/low",
            [("haiku", two_fails), ("sonnet", two_fails), ("opus", ["pass"])],
            "fixed",
        )
        all_fail = [("haiku", two_fails), ("sonnet", two_fails), ("opus", two_fails)]
        run(ledger, "r4", "generative/low", all_fail, "needs_human")
        run(ledger, "m1", "mechanical/low", [("haiku", ["pass"])], "fixed", kind="lint")
        run(ledger, "u1", None, [("haiku", ["pass"])], "fixed", kind="lint")


def test_stats_json_from_known_rows(tmp_path, capsys):
    fill(tmp_path / ".escalate" / "ledger.db")
    assert main(["stats", "--repo", str(tmp_path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ledger"].endswith("ledger.db")
    assert [c["class"] for c in data["classes"]] == ["generative/low", "mechanical/low", "unclassified"]

    gen = data["classes"][0]
    assert {k: gen[k] for k in ("complexity", "error_cost", "tasks", "finished", "fixed", "fix_rate")} == {
        "complexity": "generative",
        "error_cost": "low",
        "tasks": 4,
        "finished": 4,
        "fixed": 3,
        "fix_rate": 0.75,
    }
    assert gen["cost_usd"] == pytest.approx(0.925)
    assert gen["cost_per_fix_usd"] == pytest.approx(0.925 / 3, abs=1e-6)
    tiers = {t["tier"]: t for t in gen["tiers"]}
    assert [t["tier"] for t in gen["tiers"]] == ["haiku", "sonnet", "opus"]
    assert tiers["haiku"] == {
        "tier": "haiku",
        "tasks": 4,
        "solved": 1,
        "success_rate": 0.25,
        "attempts": 7,
        "cost_usd": pytest.approx(0.07),
        "cost_per_success_usd": pytest.approx(0.07),
        "escalation_rate": 0.75,
        "circular_rate": 0.25,
    }
    assert (tiers["sonnet"]["tasks"], tiers["sonnet"]["solved"], tiers["sonnet"]["attempts"]) == (3, 1, 5)
    assert tiers["sonnet"]["success_rate"] == 0.3333
    assert tiers["sonnet"]["escalation_rate"] == 0.6667
    assert tiers["sonnet"]["cost_per_success_usd"] == pytest.approx(0.25)
    # Opus is the last tier: its failure is a hand-over to a human, not an escalation.
    assert (tiers["opus"]["success_rate"], tiers["opus"]["escalation_rate"]) == (0.5, 0.0)
    assert tiers["opus"]["cost_per_success_usd"] == pytest.approx(0.6)

    mech = data["classes"][1]
    assert (mech["tasks"], mech["fixed"], mech["tiers"][0]["success_rate"]) == (1, 1, 1.0)
    assert data["classes"][2]["complexity"] is None


def test_stats_table_for_people(tmp_path, capsys):
    fill(tmp_path / ".escalate" / "ledger.db")
    assert main(["stats", "--repo", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[1].split() == [
        "class",
        "tier",
        "tasks",
        "success",
        "$/success",
        "spent",
        "escalated",
        "circular",
    ]
    assert lines[2].split() == ["generative/low", "haiku", "4", "25%", "(1)", "$0.07", "$0.07", "75%", "25%"]
    assert lines[5].split() == ["all", "4", "75%", "(3)", "$0.3083", "$0.925"]


def test_stats_reads_the_configured_ledger_path(tmp_path, capsys):
    (tmp_path / ".escalate.yml").write_text("ledger:\n  path: var/escalate.sqlite\n")
    fill(tmp_path / "var" / "escalate.sqlite")
    assert main(["stats", "--repo", str(tmp_path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ledger"].endswith("var/escalate.sqlite")
    assert len(data["classes"]) == 3


def test_stats_without_a_ledger_reports_nothing_and_creates_nothing(tmp_path, capsys):
    assert main(["stats", "--repo", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["classes"] == []
    assert main(["stats", "--repo", str(tmp_path)]) == 0
    assert "No runs recorded" in capsys.readouterr().out
    assert not (tmp_path / ".escalate").exists()

"""`escalate batch ...` through the real CLI entry point, and the nightly workflow file."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import yaml
from batchrepo import make_nightly_repo
from samplerepo import PYTEST_COMMAND

from escalate.cli.main import main
from escalate.llm.pricing import PriceTable, fmt_usd
from escalate.records.ledger import Ledger

WORKFLOW = Path(__file__).resolve().parents[2] / ".github/workflows/escalate-nightly.yml"


def _repo(tmp_path, sim, monkeypatch):
    root = make_nightly_repo(tmp_path)
    # Untracked on purpose: the scan's worktree never sees it, only the config loader does.
    (root / ".escalate.yml").write_text(yaml.safe_dump({"validate": {"test_command": PYTEST_COMMAND}}))
    for name, value in sim.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    return root


def test_dry_run_sends_nothing_and_prints_the_worst_case(tmp_path, sim, monkeypatch, capsys):
    root = _repo(tmp_path, sim, monkeypatch)
    assert main(["batch", "submit", "--dry-run", "--json", "--repo", str(root)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["dry_run"] and data["api_batch_id"] is None
    assert [r["kind"] for r in data["requests"]] == ["test", "warning", "lint"]
    prices = PriceTable.load()
    for r in data["requests"]:
        batch = prices.worst_case(r["model"], r["input_tokens_estimate"], r["max_tokens"], batch=True)
        interactive = prices.worst_case(r["model"], r["input_tokens_estimate"], r["max_tokens"])
        assert r["worst_case_usd"] == round(float(batch), 6) and batch == interactive / 2
    total = sum(Decimal(str(r["worst_case_usd"])) for r in data["requests"])
    assert abs(Decimal(str(data["worst_case_usd"])) - total) < Decimal("0.00001")

    # batch.max_tasks caps the batch; the rest wait for the next one.
    config = {"validate": {"test_command": PYTEST_COMMAND}, "batch": {"max_tasks": 1}}
    (root / ".escalate.yml").write_text(yaml.safe_dump(config))
    assert main(["batch", "submit", "--dry-run", "--repo", str(root)]) == 0
    text = capsys.readouterr().out
    first = fmt_usd(Decimal(str(data["requests"][0]["worst_case_usd"])))
    assert f"Dry run: 1 request(s) would be sent; worst case {first}" in text
    assert text.count("over batch.max_tasks=1; next batch") == 2
    assert sim.requests == []  # not even a list call
    with Ledger.open(root / ".escalate/ledger.db") as ledger:
        assert ledger.batches() == []


def test_status_json_on_a_fresh_ledger(tmp_path, sim, monkeypatch, capsys):
    root = _repo(tmp_path, sim, monkeypatch)
    assert main(["batch", "status", "--json", "--repo", str(root)]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "in_flight": [],
        "waiting": [],
        "queued_worst_case_usd": 0.0,
        "held": [],
    }


def test_collect_timeout_needs_wait(tmp_path, sim, monkeypatch, capsys):
    root = _repo(tmp_path, sim, monkeypatch)
    assert main(["batch", "collect", "--timeout", "5", "--repo", str(root)]) == 2
    assert "--timeout only makes sense with --wait" in capsys.readouterr().err


def test_nightly_workflow_parses_and_collects_before_it_submits():
    flow = yaml.safe_load(WORKFLOW.read_text())
    triggers = flow.get("on", flow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "schedule" in triggers and "workflow_dispatch" in triggers
    [job] = flow["jobs"].values()
    steps = job["steps"]
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout"))
    assert checkout["with"]["persist-credentials"] is False
    runs = [s.get("run", "") for s in steps]
    collect_at = next(i for i, r in enumerate(runs) if '/bin/escalate" batch collect' in r)
    submit_at = next(i for i, r in enumerate(runs) if '/bin/escalate" batch submit' in r)
    restore_at = next(i for i, s in enumerate(steps) if s.get("uses", "").startswith("actions/cache/restore"))
    save = next(s for s in steps if s.get("uses", "").startswith("actions/cache/save"))
    assert restore_at < collect_at < submit_at
    assert save["if"] == "always()" and ".escalate/ledger.db" in save["with"]["path"]
    assert any("GITHUB_STEP_SUMMARY" in r for r in runs)


def test_the_nightly_sandboxes_the_projects_code_and_keeps_secrets_from_its_install():
    flow = yaml.safe_load(WORKFLOW.read_text())
    [job] = flow["jobs"].values()
    assert "env" not in job  # no secret in every step's environment
    steps = {s.get("name"): s for s in job["steps"]}
    for name in ("Install escalate", "Install the project (sandboxed)"):
        assert not set(steps[name].get("env", {})) & {"ANTHROPIC_API_KEY", "GITHUB_TOKEN"}, name
    # The project's build code runs in the sandbox, after bubblewrap is set up.
    assert steps["Install the project (sandboxed)"]["env"]["ESCALATE_SANDBOX"] == "bwrap"
    assert '/bin/escalate" install --command' in steps["Install the project (sandboxed)"]["run"]
    for name in ("Collect the previous batch", "Submit the next batch", "Status"):
        assert steps[name]["env"]["ESCALATE_SANDBOX"] == "bwrap", name
    # The same bubblewrap set-up as the Action's, kept in one shape.
    action = yaml.safe_load((WORKFLOW.parents[2] / "action.yml").read_text())
    [ours] = [s for s in action["runs"]["steps"] if s.get("name") == "Install the sandbox (bubblewrap)"]
    assert steps["Install the sandbox (bubblewrap)"]["run"] == ours["run"]
    names = list(steps)
    assert names.index("Install the sandbox (bubblewrap)") < names.index("Install the project (sandboxed)")
    assert names.index("Install the sandbox (bubblewrap)") < names.index("Collect the previous batch")

"""`escalate explain`: the same decisions `escalate fix` then takes, ledger evidence, offline use."""

import json
import sys
from pathlib import Path

import pytest
from samplerepo import CALC_TARGET, FIX, PYTEST_COMMAND, git, make_calc_repo

from escalate.cli.main import main
from escalate.records.ledger import Ledger

CONFIG = {
    "validate": {
        "test_command": PYTEST_COMMAND,
        "ruff_command": [sys.executable, "-m", "ruff", "check"],
        "timeout_s": 60,
        "full_suite": False,
    },
    "roles": {role: {"enabled": False} for role in ("explorer", "planner", "reviewer", "committer")},
}
ROUTING = ("context", "class", "start_tier", "effort", "thinking")


def repo(tmp_path: Path) -> Path:
    return make_calc_repo(tmp_path, {".escalate.yml": json.dumps(CONFIG)})


def one_json(capsys, *args: str) -> tuple[int, dict]:
    code = main(list(args))
    out, _ = capsys.readouterr()
    assert len(out.splitlines()) == 1, out
    return code, json.loads(out)


def seed_haiku_rarely_solves(root: Path) -> None:
    """Twelve generative/low tasks: haiku solved one, sonnet solved every one that reached it."""
    with Ledger.open(root / ".escalate/ledger.db") as ledger:
        for i in range(12):
            run = ledger.record_run_start(f"seed-{i}", repo=str(root), base_commit="abc", source="seed")
            ledger.record_task(run, kind="test", slug=f"t{i}", complexity="generative", error_cost="low")
            solved = i == 0
            ledger.record_attempt(
                run, "haiku", "claude-haiku-4-5", 1, "pass" if solved else "fail", "target", "", 0.04
            )
            if not solved:
                ledger.record_attempt(run, "sonnet", "claude-sonnet-4-6", 1, "pass", "ok", "", 0.09)
            ledger.record_outcome(run, "fixed", 0.04 if solved else 0.13, "haiku" if solved else "sonnet")


def routing(decisions: list[dict]) -> list[tuple[str, str, str]]:
    return [(d["kind"], d["choice"], d["reason"]) for d in decisions if d["kind"] in ROUTING]


@pytest.mark.slow
def test_the_ledger_moves_the_start_and_explain_agrees_with_fix(tmp_path, env, capsys):
    root = repo(tmp_path)
    seed_haiku_rarely_solves(root)
    code, report = one_json(capsys, "explain", "--test", CALC_TARGET, "--repo", str(root), "--json")
    assert code == 0 and report["calls"] == [] and env.messages_requests() == []  # no model call
    assert report["route"]["start"] == "sonnet"
    assert report["route"]["history"]["moved"] is True
    start = next(d for d in report["route"]["decisions"] if d["kind"] == "start_tier")
    assert "haiku as a start tier solved 1/12 generative/low in" in start["reason"]
    assert "break-even" in start["reason"] and start["reason"].endswith("start at sonnet")
    haiku = report["route"]["history"]["tiers"][0]
    assert (haiku["start"]["successes"], haiku["start"]["trials"]) == (1, 12)
    assert report["route"]["history"]["steps"][0]["move_up"] is True

    env.set_script(
        {
            "models": {
                "claude-sonnet-4-6": [
                    {"when": {"last_user_has_tool_result": False}, "content": [FIX]},
                    {"when": {"last_user_has_tool_result": True}, "content": "DONE"},
                ]
            }
        }
    )
    code, result = one_json(capsys, "fix", "--test", CALC_TARGET, "--repo", str(root), "--json")
    assert code == 0 and result["outcome"] == "fixed"
    assert [a["tier"] for a in result["attempts"]] == ["sonnet"]  # haiku was never asked
    # Same class, start tier, context size, effort and thinking, with the same reasons.
    assert routing(result["decisions"]) == routing(report["route"]["decisions"])
    sent = env.messages_requests()[0]["body"]
    sonnet = next(t for t in report["route"]["tiers"] if t["name"] == "sonnet")
    assert sent.get("thinking") == sonnet["thinking"]
    assert (sent.get("output_config") or {}).get("effort") == sonnet["effort"]


def test_explain_offline_without_baseline_or_key(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    root = repo(tmp_path)
    text = "Fix the race condition in the payment retry worker: a privilege escalation"
    code = main(["explain", "--issue-text", text, "--repo", str(root), "--no-baseline"])
    out, err = capsys.readouterr()
    assert code == 0
    assert "Class: reasoning/high" in out and "the task's prose mentions 'race condition'" in out
    assert "Start tier: haiku (claude-haiku-4-5)" in out  # no history: the cheapest tier, whatever the class
    assert "local estimate, characters / 4; no API client" in out
    assert "Baseline: not run" in out and "Model calls: none" in out
    assert "Preset and roles:" in out and "implementer" in out  # roles.describe, offline too
    assert git(root, "status", "--porcelain") == ""  # the ledger it opened is in the ignored .escalate/
    assert "running the test suite" not in err


def test_explain_shows_the_numbers_behind_the_start(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    root = repo(tmp_path)
    seed_haiku_rarely_solves(root)
    code = main(["explain", "--test", CALC_TARGET, "--repo", str(root), "--no-baseline"])
    out, _ = capsys.readouterr()
    assert code == 0 and "Start tier: sonnet" in out
    assert "Ledger evidence (this repository and class" in out
    assert "  haiku: as start 1/12 -> " in out and "a success $0.0400, a failure $0.0400" in out
    assert "  sonnet: as start 0/0" in out and "after a lower tier failed 11/11" in out
    assert "  haiku: P(fail) 81% (at least 69%) vs break-even 56%: move up" in out


def test_explain_needs_a_task(tmp_path, capsys):
    assert main(["explain", "--repo", str(repo(tmp_path))]) == 2
    assert "Say what to explain" in capsys.readouterr().err

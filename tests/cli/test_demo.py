"""`escalate demo`: the real runner on the sample repo against an in-process sim, nothing leaked.

The command runs in the pytest process (the real entry point, ``main(argv, harden=False)``): nothing
here depends on a fresh process, and a new interpreter spends ~1.3 s of CPU importing the SDK."""

import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from samplerepo import git

from escalate.cli.demo_run import DemoSpec, run_demo
from escalate.cli.main import main
from escalate.validation.stages import STAGES


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def escalate(capfd, monkeypatch):
    """``escalate <args>`` in this process with no ANTHROPIC_* set; stdout and stderr as file
    descriptors 1 and 2 saw them (the processes the demo starts write there too)."""
    for key in [k for k in os.environ if k.startswith("ANTHROPIC_")]:
        monkeypatch.delenv(key)

    def run(*args: str) -> Done:
        capfd.readouterr()
        code = main(list(args), harden=False)
        out, err = capfd.readouterr()
        return Done(code, out, err)

    return run


@pytest.mark.slow  # end to end: the real SDK against the demo's sim
def test_demo_json_keeps_the_repo_with_the_fix_on_a_branch(tmp_path, escalate):
    keep = tmp_path / "shop"
    proc = escalate("demo", "--json", "--keep", str(keep))
    assert proc.returncode == 0, proc.stderr
    [line] = proc.stdout.splitlines()  # stdout is exactly one JSON object
    result = json.loads(line)
    assert result["outcome"] == "fixed" and result["simulated"] is True
    assert [(a["tier"], a["verdict"]) for a in result["attempts"]] == [
        ("haiku", "fail"),
        ("haiku", "circular"),
        ("sonnet", "pass"),
    ]
    assert result["attempts"][0]["stage"] == "target"
    assert any(d["kind"] == "escalate" and "haiku -> sonnet" in d["choice"] for d in result["decisions"])
    assert 0 < result["cost_usd"] < 0.1 and result["calls"] == result["sim_requests"] >= 6
    # The person's story went to stderr: simulated, said at the start and at the end.
    lines = proc.stderr.splitlines()
    assert "SIMULATED" in "\n".join(lines[:3]) and "SIMULATED" in "\n".join(lines[-3:])
    assert "escalating haiku -> sonnet" in proc.stderr and "total $" in proc.stderr
    # The roles around the implementer ran too (default config): explorer, reviewer, commit writer.
    assert "review approve" in proc.stderr and "explorer: files" in proc.stderr
    # The stages it names are the registry's (validation.stages.STAGES), as the PR body names them.
    every = ", ".join(s.title for s in STAGES.values())
    assert f"sonnet (claude-sonnet-4-6) attempt 1: passed every stage: {every}" in proc.stderr
    assert "+    return round(price - price * percent / 100, 2)" in proc.stderr
    # The kept repository: main untouched, the fix on the branch, no worktree left behind.
    spec = DemoSpec.load()
    branch = result["branch"]
    assert result["repo"] == str(keep.resolve())
    assert spec.right[0]["new_str"] in git(keep, "show", f"{branch}:shop/pricing.py")
    assert (
        git(keep, "log", "-1", "--format=%s", branch).strip() == "fix: divide the discount percentage by 100"
    )
    assert spec.right[0]["old_str"] in (keep / "shop/pricing.py").read_text()
    assert git(keep, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert git(keep, "status", "--porcelain") == ""
    assert (Path(result["log_dir"]) / "calls.jsonl").read_text().count("\n") == result["calls"]


@pytest.mark.slow  # end to end: the real SDK against the demo's sim
def test_a_real_key_is_left_alone_and_the_sim_env_does_not_leak(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-the-users-own")
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "user-token")
    out = io.StringIO()
    result = run_demo(out=out)
    assert result.outcome.outcome == "fixed"
    assert os.environ["ANTHROPIC_API_KEY"] == "sk-ant-the-users-own"
    assert os.environ["ANTHROPIC_AUTH_TOKEN"] == "user-token"
    assert "ANTHROPIC_BASE_URL" not in os.environ
    text = out.getvalue()
    assert "ANTHROPIC_API_KEY is set, but the demo always uses the simulator" in text
    assert "escalate fix" in text
    assert not result.repo.exists()  # the temp repo is gone without --keep
    assert result.to_json()["repo"] is None


def test_keep_refuses_a_folder_with_files_in_it(tmp_path, escalate):
    keep = tmp_path / "busy"
    keep.mkdir()
    (keep / "mine.txt").write_text("mine\n")
    proc = escalate("demo", "--keep", str(keep))
    assert proc.returncode == 2
    assert "not empty" in proc.stderr and "--keep" in proc.stderr
    assert sorted(p.name for p in keep.iterdir()) == ["mine.txt"]

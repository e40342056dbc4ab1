"""Every exit keeps the --json contract (one object on stdout), says its message once, and is
checked before any work where it can be: usage errors, misspelt models, a task already running."""

import json
import os
import subprocess
import sys
import time

import pytest
from samplerepo import AFTER_TOOLS, CALC_TARGET, FIX, OPEN, config_yaml, git, make_calc_repo

from escalate.cli.main import main

CONFIG = config_yaml()


def one_object(capsys, *args: str) -> tuple[int, dict, str]:
    code = main([*args, "--json"])
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 1, out
    return code, json.loads(lines[0]), err


@pytest.mark.parametrize(
    ("args", "kind", "words"),
    [
        (["fix"], "usage", "Say what to fix"),
        (["fix", CALC_TARGET, "--max-cost", "inf"], "usage", "inf is not in the range"),
        (["fix", CALC_TARGET, "--max-cost", "nan"], "usage", "nan is not a number of dollars"),
        (["fix", CALC_TARGET, "--max-cost", "-1"], "usage", "not in the range"),
        (["fix", CALC_TARGET, "--no-such-flag"], "usage", "No such option"),
        (["fix", "tests/test_ops.py::test_nope"], "validation", "Target test not found"),
    ],
)
def test_usage_errors_print_one_json_object_and_exit_2(tmp_path, env, capsys, args, kind, words):
    root = make_calc_repo(tmp_path, {".escalate.yml": CONFIG})
    code, body, err = one_object(capsys, *args, "--repo", str(root))
    assert code == 2 and body["exit_code"] == 2
    assert body["outcome"] == "error" and body["error_kind"] == kind and words in body["explanation"]
    assert words in err and err.count(words) == 1  # said once on stderr, not twice


def test_no_key_is_a_json_error_before_any_work(tmp_path, monkeypatch, capsys):
    root = make_calc_repo(tmp_path, {".escalate.yml": CONFIG})
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    code, body, _ = one_object(capsys, "fix", CALC_TARGET, "--repo", str(root))
    assert (code, body["error_kind"]) == (2, "missing_credential")
    assert not (root / ".escalate").exists()


def test_a_misspelt_model_is_named_before_the_worktree_and_the_tests(tmp_path, env, capsys):
    config = CONFIG + "tiers:\n  - {name: haiku, model: claude-haiku-4-6}\n"
    root = make_calc_repo(tmp_path, {".escalate.yml": config})
    code, body, _ = one_object(capsys, "fix", CALC_TARGET, "--repo", str(root))
    assert code == 2 and body["error_kind"] == "price"
    assert "tiers.haiku.model: unknown model 'claude-haiku-4-6'" in body["explanation"]
    assert "Did you mean 'claude-haiku-4-5'?" in body["explanation"]
    assert not (root / ".escalate" / "runs").exists()  # no run log, no worktree, no test run
    assert git(root, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert env.messages_requests() == []


@pytest.mark.slow
def test_a_second_run_of_the_same_task_says_so_and_exits_2(tmp_path, env, capsys):
    # The first run (its own process: it holds the task's lock) has its second model call hang in the
    # sim; meanwhile the same task is started again, here in the pytest process.
    env.set_script(
        {
            "models": {"*": [{"when": OPEN, "content": [FIX]}, {"when": AFTER_TOOLS, "content": "DONE"}]},
            "faults": [{"on_request": 2, "delay_s": 30}],
        }
    )
    root = make_calc_repo(tmp_path, {".escalate.yml": CONFIG})
    argv = [sys.executable, "-m", "escalate.cli", "fix", CALC_TARGET, "--repo", str(root), "--json"]
    first = subprocess.Popen(
        argv,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while env.sim._messages_seen < 2 and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.05)
        assert first.poll() is None, first.communicate()
        code, body, err = one_object(capsys, "fix", CALC_TARGET, "--repo", str(root))
        assert code == 2, err
        assert body["error_kind"] == "task_locked"
        assert f"pid {first.pid}" in body["explanation"]
        assert env.sim._messages_seen == 2  # the second run paid for nothing
    finally:
        first.kill()
        first.wait(timeout=30)


@pytest.mark.slow
def test_uncommitted_edits_are_warned_about_at_the_start(tmp_path, env, capsys):
    replies = [{"when": OPEN, "content": [FIX]}, {"when": AFTER_TOOLS, "content": "DONE"}]
    env.set_script({"models": {"*": replies}})
    root = make_calc_repo(tmp_path, {".escalate.yml": CONFIG})
    ops = root / "calc" / "ops.py"
    ops.write_text(ops.read_text() + "\n# work in progress\n")
    code, body, err = one_object(capsys, "fix", CALC_TARGET, "--repo", str(root))
    assert code == 0 and body["outcome"] == "fixed"
    [dirty] = [d for d in body["decisions"] if d["kind"] == "dirty"]
    assert dirty["choice"] == "1" and "calc/ops.py" in dirty["reason"] and "git merge" in dirty["reason"]
    assert "warning: uncommitted changes in calc/ops.py" in err
    assert ops.read_text().endswith("# work in progress\n")  # the user's edit is left alone

"""`escalate sim serve` as a real subprocess, used by the real SDK, stopped with Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import anthropic
import pytest

from escalate.cli.main import main

ROOT = Path(__file__).resolve().parents[2]


def ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a shell starts a background job


@pytest.mark.parametrize("start", [None, ignore_sigint], ids=["foreground", "sigint-ignored-at-start"])
def test_serve_prints_env_lines_serves_the_script_and_stops_cleanly(tmp_path, start):
    log = tmp_path / "requests.jsonl"
    cmd = [
        sys.executable,
        "-m",
        "escalate.cli",
        "sim",
        "serve",
        "--port",
        "0",
        "--log",
        str(log),
        "--script",
        "faults",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    env["PYTHONUNBUFFERED"] = "1"
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, preexec_fn=start
    )
    try:
        lines = []
        while not any(line.startswith("export ANTHROPIC_API_KEY=") for line in lines):
            line = proc.stdout.readline()
            assert line, f"serve exited early: {proc.stderr.read()}"
            lines.append(line.strip())
        exports = dict(
            line.removeprefix("export ").split("=", 1) for line in lines if line.startswith("export ")
        )
        client = anthropic.Anthropic(
            base_url=exports["ANTHROPIC_BASE_URL"], api_key=exports["ANTHROPIC_API_KEY"], max_retries=2
        )
        reply = client.messages.create(  # faults.yml: 429 then 529, the third attempt answers
            model="claude-haiku-4-5", max_tokens=50, messages=[{"role": "user", "content": "hi"}]
        )
        assert reply.content[0].text == "Hello from the simulated API."
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped" in out
    statuses = [json.loads(line)["status"] for line in log.read_text().splitlines()]
    assert statuses == [429, 529, 200]


@pytest.mark.slow
def test_escalation_example_walks_haiku_twice_then_sonnet(tmp_path, env, monkeypatch, capsys):
    """The docs/sim.md walkthrough: the shipped escalation script on the tiny calc sample."""
    repo = tmp_path / "calc"
    (repo / "tests").mkdir(parents=True)
    (repo / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (repo / "tests" / "test_calc.py").write_text(
        "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
    )
    (repo / "pyproject.toml").write_text('[tool.pytest.ini_options]\npythonpath = ["."]\n')
    for args in (
        ["init", "-q"],
        ["config", "user.name", "t"],
        ["config", "user.email", "t@example.com"],
        ["add", "-A"],
        ["commit", "-qm", "init"],
    ):
        subprocess.run(["git", *args], cwd=repo, check=True)
    env.set_script("escalation")
    # In this process (the real entry point): nothing here needs a new interpreter's SDK import.
    monkeypatch.chdir(repo)
    assert main(["fix", "tests/test_calc.py::test_add"], harden=False) == 0, capsys.readouterr()
    # Each tool_result turn carries the edit it answers: the assistant message just before it.
    edits = [
        (r["model"], block["input"]["new_str"])
        for r in env.messages_requests()
        if len(r["body"]["messages"]) > 1
        for block in r["body"]["messages"][-2]["content"]
        if isinstance(block, dict) and block.get("type") == "tool_use"
    ]
    assert edits == [  # Haiku wrong twice, then Sonnet right
        ("claude-haiku-4-5", "a * b"),
        ("claude-haiku-4-5", "b - a"),
        ("claude-sonnet-4-6", "a + b"),
    ]
    assert (
        repo / "calc.py"
    ).read_text() == "def add(a, b):\n    return a - b\n"  # the user's checkout untouched

"""`escalate sim serve` as a real subprocess, used by the real SDK, stopped with Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import anthropic

ROOT = Path(__file__).resolve().parents[1]


def test_serve_prints_env_lines_serves_the_script_and_stops_cleanly(tmp_path):
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
        str(ROOT / "examples" / "sim" / "faults.yml"),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    env["PYTHONUNBUFFERED"] = "1"
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
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

"""Start-up: ``escalate --help`` against ``python -c pass``, and what ``--help`` imports."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

# Imported only by the subcommands that need them; `escalate --help` must not pay for them.
HEAVY = ("anthropic", "git", "github", "httpx", "pydantic", "yaml")
PROBE = (
    "import sys, runpy; sys.argv = ['escalate', '--help']\n"
    "try:\n    runpy.run_module('escalate.cli', run_name='__main__')\nexcept SystemExit:\n    pass\n"
    "import json; print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
)


def _time(argv: list[str], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return times


def run_startup(repeat: int = 15) -> dict:
    bare = _time([sys.executable, "-c", "pass"], repeat)
    script = Path(sys.executable).parent / "escalate"  # the console script users run
    command = [str(script)] if script.exists() else [sys.executable, "-m", "escalate.cli"]
    help_ = _time([*command, "--help"], repeat)
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    modules = json.loads(proc.stderr.strip().splitlines()[-1])
    escalate_modules = sorted(m for m in modules if m.split(".")[0] == "escalate")
    heavy = {name: any(m == name or m.startswith(name + ".") for m in modules) for name in HEAVY}
    return {
        "repeat": repeat,
        "command": " ".join([*command, "--help"]),
        "python_c_pass_s": statistics.median(bare),
        "escalate_help_s": statistics.median(help_),
        "overhead_s": statistics.median(help_) - statistics.median(bare),
        "modules_total": len(modules),
        "escalate_modules": escalate_modules,
        "heavy_imported": heavy,
    }

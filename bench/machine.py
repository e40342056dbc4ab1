"""The machine a benchmark ran on: CPUs, CPU model, RAM, Python, OS, tool versions, load."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gib() -> float | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _ruff_binary() -> str:
    proc = subprocess.run([sys.executable, "-m", "ruff", "--version"], capture_output=True, text=True)
    return proc.stdout.strip() or "unknown"


def describe() -> dict:
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "ram_gib": _ram_gib(),
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "anthropic": _version("anthropic"),
        "ruff": _ruff_binary(),
        "pytest": _version("pytest"),
        "escalate": _version("escalate"),
        "load_average_at_start": [round(x, 2) for x in load] if load else None,
    }

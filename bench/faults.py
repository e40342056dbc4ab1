"""The fault matrix: run tests/test_fault_matrix.py with --junitxml and read back its table."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULE = "tests/test_fault_matrix.py"


QUICK = "burst or budget or secrets or hidden"  # the in-process cases: a smoke run's subset


def run_faults(workers: int = 2, *, quick: bool = False) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-faults-") as tmp:
        junit = Path(tmp) / "faults.xml"
        argv = [sys.executable, "-m", "pytest", MODULE, "-q", "-p", "no:cacheprovider", f"--junitxml={junit}"]
        if quick:
            argv += ["-k", QUICK]
        if workers > 1:
            argv += ["-n", str(workers)]
        env = {
            k: v for k, v in os.environ.items() if k != "PYTEST_DISABLE_PLUGIN_AUTOLOAD"
        }  # needs xdist, sim
        proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, env=env)
        rows = read_junit(junit) if junit.exists() else []
    return {"exit_code": proc.returncode, "rows": rows, "tail": proc.stdout[-1500:]}


def read_junit(path: Path) -> list[dict]:
    """One row per test case: fault, expected, observed (from record_property) and pass/fail."""
    rows = []
    for case in ET.parse(path).iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        failed = case.find("failure") is not None or case.find("error") is not None
        skipped = case.find("skipped") is not None
        message = ""
        for tag in ("failure", "error"):
            node = case.find(tag)
            if node is not None:
                message = (node.get("message") or "").splitlines()[0][:160] if node.get("message") else ""
        rows.append(
            {
                "test": case.get("name"),
                "fault": props.get("fault", case.get("name")),
                "expected": props.get("expected", ""),
                "observed": props.get("observed", message or ("skipped" if skipped else "")),
                "passed": not failed and not skipped,
                "seconds": float(case.get("time") or 0),
            }
        )
    return rows

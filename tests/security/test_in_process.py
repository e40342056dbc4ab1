"""The in-process runner of conftest.py: ``main(argv, harden=False)`` leaves the dumpable flag alone
(the command itself and ``main(argv)`` still clear it), so the pytest process is left as found."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.skipif(sys.platform != "linux", reason="prctl is Linux only")
def test_harden_false_leaves_the_dumpable_flag_and_the_default_clears_it():
    code = (
        "import ctypes\nfrom escalate.cli.main import main\n"
        "flag = lambda: ctypes.CDLL(None).prctl(3, 0, 0, 0, 0)\n"
        "main(['--version'], harden=False)\nprint('unhardened', flag())\n"
        "main(['--version'])\nprint('hardened', flag())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout
    assert "unhardened 1" in out and "hardened 0" in out, out

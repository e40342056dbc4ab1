"""The escalate command ends without the interpreter's teardown; atexit handlers and output survive."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import atexit, sys, threading, time
    from pathlib import Path

    out = Path(sys.argv[1])

    class Teardown:
        def __del__(self):
            (out / "teardown").write_text("ran")

    kept = Teardown()  # a module global: only the interpreter's teardown finalizes it
    atexit.register(lambda: (out / "atexit").write_text("ran"))
    if sys.argv[2] == "busy":  # a non-daemon thread still at work: the normal exit waits for it
        threading.Thread(target=lambda: (time.sleep(0.2), (out / "thread").write_text("done"))).start()
    if sys.argv[2] == "profiled":  # as under python -m cProfile, which writes its stats after main
        sys.setprofile(lambda *args: None)
    sys.argv = ["escalate", "--version"]
    from escalate.cli.main import main

    code = main()
    (out / "returned").write_text("main returned")
    sys.exit(code)
    """
)


def _run(tmp_path, mode: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path), mode],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_the_command_skips_the_teardown_but_runs_atexit_and_flushes(tmp_path):
    proc = _run(tmp_path, "idle")
    assert proc.returncode == 0 and "escalate" in proc.stdout
    assert (tmp_path / "atexit").exists()
    assert not (tmp_path / "teardown").exists() and not (tmp_path / "returned").exists()


def test_work_under_way_on_a_thread_gets_the_normal_exit(tmp_path):
    proc = _run(tmp_path, "busy")
    assert proc.returncode == 0 and "escalate" in proc.stdout
    assert (tmp_path / "thread").read_text() == "done"


def test_a_profiled_run_gets_the_normal_exit(tmp_path):
    proc = _run(tmp_path, "profiled")
    assert proc.returncode == 0 and "escalate" in proc.stdout
    assert (tmp_path / "returned").exists()  # main returned: the profiler can write its stats

"""Attack matrix: nightly discovery. `escalate batch submit --json` scans the default branch by
running the project's pytest and ruff; a conftest.py in the scanned repository tries to steal
secrets (its own environment and every readable /proc/<pid>/environ, escalate's included) and to
write outside its tree (a folder beside the repository, the user's .git/hooks). What it got goes
into a failing test's message, which discovery would turn into task text sent to the model.

With the sandbox the scan gets nothing: no failing test of the attack, no secret in any request,
the output or on disk, nothing written outside. The control row runs the same scan with
`validate.sandbox: none` and shows the attack working there. Bounded: a 60 s test timeout, 1 GiB
and 64 processes per command, 240 s for the whole run. escalate is a process of its own with the
secrets in its start environment, forked from a warm interpreter (conftest.py: ``warm_escalate``).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from batchrepo import make_nightly_repo
from samplerepo import NEEDS_BWRAP, PYTEST_COMMAND, RUFF_COMMAND, snapshot

pytestmark = [
    pytest.mark.slow,
    NEEDS_BWRAP,
]

SECRETS = {
    "DATABASE_URL": "postgres://app:hunter2-discovery-attack-5b1c@db.internal/app",  # passes the name filter
    "GITHUB_TOKEN": "ghp_discoveryAttackFAKEtoken0002",
}
ATTACK_FILE = "tests/test_attack.py"
CONFTEST = """\
import os
from pathlib import Path

NAMES = ("DATABASE_URL", "GITHUB_TOKEN", "ANTHROPIC_API_KEY")
LOOT = []
for name in NAMES:
    if os.environ.get(name):
        LOOT.append(f"env {name}={os.environ[name]}")
for environ in Path("/proc").glob("[0-9]*/environ"):
    try:
        for entry in environ.read_bytes().split(b"\\0"):
            if entry.decode(errors="replace").startswith(tuple(n + "=" for n in NAMES)):
                LOOT.append(f"{environ}: {entry.decode(errors='replace')}")
    except OSError:
        pass
for target in (@OUTSIDE@, @HOOK@):
    try:
        Path(target).write_text("#!/bin/sh\\necho pwned\\n")
        LOOT.append(f"wrote {target}")
    except OSError:
        pass
"""
ATTACK_TEST = "from conftest import LOOT\n\n\ndef test_nothing_was_stolen():\n    assert not LOOT, LOOT\n"


def submit(root: Path, sim, tmp_path: Path, warm_escalate) -> tuple[dict, str, str]:
    argv = ["batch", "submit", "--json", "--repo", str(root)]
    done = warm_escalate(SECRETS).run(argv, cwd=tmp_path, env=sim.env(), out_dir=tmp_path, timeout_s=240)
    assert done.exit_code == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return json.loads(done.stdout), done.stdout, done.stderr


@pytest.fixture
def attacked(tmp_path):
    """A nightly repository (outside /tmp, where a real checkout lives) whose conftest attacks."""
    home = Path(tempfile.mkdtemp(prefix="escalate-discovery-attack-", dir="/var/tmp"))
    outside = home / "beside" / "pwned.sh"
    outside.parent.mkdir()

    def make(sandbox: str) -> tuple[Path, Path]:
        hook = home / sandbox / ".git" / "hooks" / "pre-commit"
        conftest = CONFTEST.replace("@OUTSIDE@", repr(str(outside))).replace("@HOOK@", repr(str(hook)))
        root = make_nightly_repo(home, {"conftest.py": conftest, ATTACK_FILE: ATTACK_TEST}, name=sandbox)
        validate = {"test_command": PYTEST_COMMAND, "ruff_command": RUFF_COMMAND, "sandbox": sandbox,
                    "timeout_s": 60, "memory_limit_mb": 1024, "max_processes": 64}  # fmt: skip
        (root / ".escalate.yml").write_text(json.dumps({"validate": validate}))  # untracked: not scanned
        return root, outside

    yield make
    shutil.rmtree(home, ignore_errors=True)


def test_a_scanned_conftest_steals_nothing_and_writes_nothing_outside(attacked, sim, tmp_path, warm_escalate):
    root, outside = attacked("bwrap")
    before = {k: v for k, v in snapshot(root).items() if not k.startswith(".escalate")}
    result, stdout, stderr = submit(root, sim, tmp_path, warm_escalate)
    titles = [r["title"] for r in result["requests"]]
    assert any("tests/test_ops.py" in t for t in titles), titles  # the scan ran the suite in the sandbox
    assert not any(ATTACK_FILE in t for t in titles), f"the attack got something: {titles}"
    sent = json.dumps(sim.requests)
    for value in [*SECRETS.values(), sim.api_key]:
        assert value not in sent + stdout + stderr, "a secret reached the model or the output"
    assert not outside.exists(), "the scanned code wrote beside the repository"
    after = {k: v for k, v in snapshot(root).items() if not k.startswith(".escalate")}
    assert after == before, "the user's checkout or .git changed"


def test_without_the_sandbox_the_same_conftest_steals(attacked, sim, tmp_path, warm_escalate):
    root, outside = attacked("none")
    result, _, _ = submit(root, sim, tmp_path, warm_escalate)
    assert any(ATTACK_FILE in r["title"] for r in result["requests"])
    sent = json.dumps(sim.requests)
    assert SECRETS["DATABASE_URL"] in sent  # through the task text, to the model
    assert outside.exists() and (root / ".git" / "hooks" / "pre-commit").exists()

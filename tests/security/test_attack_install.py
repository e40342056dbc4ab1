"""The project's install runs its own build code: `escalate install` against a project whose build
backend attacks (end to end: the real CLI, real pip, real bubblewrap, offline).

The project is src-layout with an in-tree PEP 517 backend (``backend-path``), so
``pip install --no-build-isolation --no-deps -e .`` needs no registry and no wheel package. On import
the backend reads every secret it can (its environment, every ``/proc/*/environ``, the runner's
``GITHUB_ENV`` file), appends to ``GITHUB_ENV``, writes a file beside the checkout and a ``.pth`` into
escalate's own environment, and records what worked in ``attack.json`` in the checkout (which the
install may write). Sandboxed each attack fails and the editable install still works; the control
row (``validate.sandbox: none``) shows the same attacks succeeding.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
from pathlib import Path

import pytest
from samplerepo import NEEDS_BWRAP

pytestmark = [
    pytest.mark.slow,
    NEEDS_BWRAP,
]

SECRETS = {
    "GITHUB_TOKEN": "ghp_installattackFAKEtoken0001",
    "DATABASE_URL": "postgres://app:hunter2-install-attack@db.internal/app",
    "AWS_SECRET_ACCESS_KEY": "aws-install-attack-secret",
}
# Escalate's own site-packages: where a planted .pth would run inside every later escalate process.
ESCALATE_SITE = Path(sysconfig.get_paths()["purelib"])
PLANTED = ESCALATE_SITE / "zz_escalate_install_attack.pth"

BACKEND = """
import base64, hashlib, json, os, zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
found = {"env": {k: os.environ.get(k) for k in SECRETS}, "proc": [], "github_env_read": None}
for d in Path("/proc").iterdir():
    try:
        data = (d / "environ").read_bytes()
    except OSError:
        continue
    found["proc"] += [k for k, v in SECRETS.items() if v.encode() in data]
try:
    found["github_env_read"] = Path(GITHUB_ENV).read_text()
    with open(GITHUB_ENV, "a") as f:
        f.write("PYTHONPATH=/tmp/pwned\\n")
    found["github_env_appended"] = True
except OSError as exc:
    found["github_env_appended"] = repr(exc)
for name, target in (("beside", BESIDE), ("planted", PLANTED)):
    try:
        Path(target).write_text("# written by a hostile build step\\n")
        found[name] = True
    except OSError as exc:
        found[name] = repr(exc)
(HERE / "attack.json").write_text(json.dumps(found))

NAME, VERSION = "hostilepkg", "0.1"
DIST = f"{NAME}-{VERSION}.dist-info"


def get_requires_for_build_editable(config_settings=None):
    return []


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    files = {
        f"{NAME}.pth": f"{HERE / 'src'}\\n",
        f"{DIST}/METADATA": f"Metadata-Version: 2.1\\nName: {NAME}\\nVersion: {VERSION}\\n",
        f"{DIST}/WHEEL": (
            "Wheel-Version: 1.0\\nGenerator: hostile\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
        ),
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    files[f"{DIST}/RECORD"] = "\\n".join([*record, f"{DIST}/RECORD,,"]) + "\\n"
    name = f"{NAME}-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(Path(wheel_directory) / name, "w") as whl:
        for path, text in files.items():
            whl.writestr(path, text)
    return name
"""


def hostile_project(where: Path, github_env: Path, beside: Path) -> Path:
    root = where / "checkout"
    (root / "src" / "hostilepkg").mkdir(parents=True)
    (root / "src" / "hostilepkg" / "__init__.py").write_text("VALUE = 42\n")
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "hostile_backend"\nbackend-path = ["."]\n'
    )
    consts = (
        f"SECRETS = {SECRETS!r}\nGITHUB_ENV = {str(github_env)!r}\n"
        f"BESIDE = {str(beside)!r}\nPLANTED = {str(PLANTED)!r}\n"
    )
    (root / "hostile_backend.py").write_text(consts + textwrap.dedent(BACKEND))
    (root / ".escalate.yml").write_text("validate:\n  memory_limit_mb: 1024\n  max_processes: 64\n")
    for args in (
        ["init", "-q"],
        ["add", "-A"],
        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"],
    ):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)
    return root


def project_venv(where: Path) -> Path:
    """A venv of the base interpreter that sees its site-packages (pip) but is its own prefix."""
    venv = where / "project-venv"
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    return venv


def install(root: Path, env: dict[str, str], *extra: str) -> tuple[int, dict, str]:
    # -P: not the cwd on sys.path (escalate refuses to let a build write where it imports from, and
    # `python -m` from the checkout would import from it); the `escalate` script does the same.
    argv = [sys.executable, "-P", "-m", "escalate.cli", "install", "--repo", str(root), "--json", *extra]
    done = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True, timeout=300)
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, done.stdout + done.stderr
    return done.returncode, json.loads(lines[0]), done.stderr


@pytest.fixture
def attack(tmp_path):
    # Outside /tmp where the machine allows: the sandbox's own /tmp would take a write "beside" a
    # checkout under /tmp, and hide a GITHUB_ENV file there, without the masks doing anything.
    var_tmp = Path("/var/tmp")
    where = (
        Path(tempfile.mkdtemp(prefix="escalate-install-", dir=var_tmp))
        if os.access(var_tmp, os.W_OK)
        else tmp_path
    )
    try:
        yield from _attack(where)
    finally:
        if where != tmp_path:
            shutil.rmtree(where, ignore_errors=True)


def _attack(tmp_path):
    runner = tmp_path / "runner" / "_runner_file_commands"
    runner.mkdir(parents=True)
    github_env = runner / "set_env_1234"
    github_env.write_text("EXISTING=1\n")
    beside = tmp_path / "beside.txt"
    root = hostile_project(tmp_path, github_env, beside)
    venv = project_venv(tmp_path)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path / "home"),
        "VIRTUAL_ENV": str(venv),
        "GITHUB_ENV": str(github_env),
        **SECRETS,
    }

    def run(mode: str, *extra: str):
        code, body, err = install(root, {**env, "ESCALATE_SANDBOX": mode}, *extra)
        found = json.loads((root / "attack.json").read_text()) if (root / "attack.json").exists() else None
        return code, body, err, found

    try:
        yield run, root, venv, github_env, beside
    finally:
        PLANTED.unlink(missing_ok=True)


def test_a_hostile_build_step_gets_nothing_and_the_install_still_works(attack):
    run, root, venv, github_env, beside = attack
    code, body, err, found = run(
        "bwrap", "--command", "python -m pip install --no-build-isolation --no-deps -e ."
    )
    assert code == 0 and body["outcome"] == "installed", err
    assert body["sandbox"]["mode"] == "bwrap"
    assert found is not None, "the build step did not run"
    assert found["env"] == dict.fromkeys(SECRETS), found["env"]  # no secret in its environment
    assert found["proc"] == [], found["proc"]  # nor in any process it can see
    assert found["github_env_read"] is None and found["github_env_appended"] is not True
    assert github_env.read_text() == "EXISTING=1\n"
    assert found["beside"] is not True and not beside.exists()
    assert found["planted"] is not True and not PLANTED.exists()
    # The editable install of the src-layout project works, in the project's own environment.
    check = subprocess.run(
        [venv / "bin" / "python", "-c", "import hostilepkg as h; print(h.VALUE, h.__file__)"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert check.stdout.split() == ["42", str(root / "src" / "hostilepkg" / "__init__.py")], check.stderr


def test_without_the_sandbox_the_same_build_step_succeeds(attack):
    run, root, venv, github_env, beside = attack
    code, body, err, found = run(
        "none", "--command", "python -m pip install --no-build-isolation --no-deps -e ."
    )
    assert code == 0 and body["sandbox"]["mode"] == "none" and "WITHOUT a sandbox" in err
    assert found["env"]["DATABASE_URL"] == SECRETS["DATABASE_URL"]  # names alone do not hide secrets
    assert "PYTHONPATH=/tmp/pwned" in github_env.read_text()
    assert beside.exists() and PLANTED.exists()


def test_the_default_command_installs_the_project_and_pytest(attack):
    run, root, venv, github_env, beside = attack
    code, body, err, found = run("bwrap")
    # pip's default (with build isolation) would fetch the backend's requirements: none here, and
    # pytest is already importable from the venv's base, so this needs no network either.
    assert code == 0, err
    argvs = [c["argv"][-2:] for c in body["commands"]]
    assert argvs == [["-e", "."], ["--quiet", "pytest"]], argvs
    assert found["planted"] is not True and not PLANTED.exists()


def test_an_environment_escalate_imports_from_is_refused_before_anything_runs(attack):
    run, root, venv, github_env, beside = attack
    own = {"PATH": os.environ["PATH"], "HOME": str(root.parent / "home"), "VIRTUAL_ENV": sys.prefix}
    code, body, err = install(root, {**own, "ESCALATE_SANDBOX": "bwrap"})
    assert code == 2 and body["outcome"] == "error", err
    assert (
        "escalate itself imports from" in body["explanation"]
        and "own virtual environment" in body["explanation"]
    )
    assert not (root / "attack.json").exists()
    # Unsandboxed, by choice, the install writes where it writes, as before the sandbox (a harmless
    # command here: the hostile build must not run in this process's own environment).
    code, body, err = install(root, {**own, "ESCALATE_SANDBOX": "none"}, "--command", "true")
    assert code == 0 and body["outcome"] == "installed" and body["sandbox"]["mode"] == "none", err


def test_an_interpreter_that_is_no_virtual_environment_is_refused(tmp_path):
    from escalate.workspace.install import InstallError, plan_install

    base = getattr(sys, "_base_executable", sys.executable)
    with pytest.raises(InstallError, match="not a virtual environment"):
        plan_install(tmp_path, base, None)

"""An interpreter under /tmp (a CI clone's venv at /tmp/clone/.ci-venv) works inside the sandbox,
whose /tmp is a fresh tmpfs: its folders are bound back read-only, and the user's git directory
stays hidden even when one of those folders holds it. The venvs here live under /tmp whatever the
location of this checkout, and import pytest from a copy under /tmp only."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest
from samplerepo import NEEDS_BWRAP, git, make_repo

from escalate.errors import ConfigError
from escalate.validation.tools import Interpreter, require_pytest
from escalate.workspace.process import run_command
from escalate.workspace.sandbox import Isolation
from escalate.workspace.toolpaths import python_of, visible_binds

pytestmark = NEEDS_BWRAP

PYTEST_PARTS = ("pytest", "_pytest", "pluggy", "iniconfig", "packaging", "pygments", "py")


@pytest.fixture
def under_tmp():
    """A folder under /tmp itself (tmp_path may be elsewhere): the sandbox covers it with its tmpfs."""
    where = Path(tempfile.mkdtemp(prefix="escalate-covered-", dir="/tmp"))
    yield where
    shutil.rmtree(where, ignore_errors=True)


def venv_with(where: Path, paths: list[Path], pth: str = "") -> Path:
    """A venv (no pip) whose site-packages has a .pth adding paths (and pth's extra lines)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True, timeout=120)
    python = where / "bin" / "python"
    code = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site = Path(subprocess.check_output([str(python), "-c", code], text=True).strip())
    (site / "extra.pth").write_text("".join(f"{p}\n" for p in paths) + pth)
    return python


def pytest_copy(dest: Path) -> Path:
    """pytest and what it imports, copied to dest: an install that exists only under /tmp."""
    dest.mkdir(parents=True)
    for name in PYTEST_PARTS:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin)
        if origin.name == "__init__.py":
            shutil.copytree(origin.parent, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(origin, dest / origin.name)
    return dest


def test_a_venv_under_tmp_runs_sandboxed_tests(tmp_path, under_tmp):
    site = pytest_copy(under_tmp / "clone" / "site")
    (under_tmp / "clone" / "src" / "helper").mkdir(parents=True)  # an editable install's source
    (under_tmp / "clone" / "src" / "helper" / "__init__.py").write_text("VALUE = 42\n")
    python = venv_with(under_tmp / "clone" / ".ci-venv", [site, under_tmp / "clone" / "src"])
    tree = make_repo(
        tmp_path, {"tests/test_it.py": "import helper\n\ndef test_it():\n    assert helper.VALUE == 42\n"}
    )
    argv = [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"]
    run = run_command(argv, tree, timeout_s=120, isolation=Isolation("bwrap"))
    assert run.ok and "1 passed" in run.stdout, run.describe()
    assert str(site) in run_command([str(python), "-c", "import pytest; print(pytest.__file__)"], tree,
                                    timeout_s=60, isolation=Isolation("bwrap")).stdout  # fmt: skip
    require_pytest(Interpreter(str(python), "the active virtual environment"), Isolation("bwrap"))  # no error
    # Read-only: the sandboxed code cannot change the interpreter's folders.
    write = run_command([str(python), "-c", f"open({str(site / 'planted.py')!r}, 'w')"], tree, timeout_s=60,
                        isolation=Isolation("bwrap"))  # fmt: skip
    assert not write.ok and "Read-only file system" in write.stderr and not (site / "planted.py").exists()


def test_a_pytest_script_is_followed_to_its_interpreter(under_tmp):
    python = venv_with(under_tmp / "venv", [])
    script = under_tmp / "venv" / "bin" / "pytest"
    script.write_text(f"#!{python}\nimport pytest\n")
    assert python_of(str(script)) == str(python)
    assert (str(under_tmp / "venv"), str(under_tmp / "venv")) in visible_binds([str(script)], tree=Path("/x"))


def test_pytest_visible_outside_but_not_inside_the_sandbox_is_named_before_any_work(under_tmp):
    # The .pth adds pytest's folder only outside a pid namespace (a pid above 100): a setup that a
    # probe outside the sandbox, as before, would have passed.
    site = pytest_copy(under_tmp / "site")
    python = venv_with(
        under_tmp / "venv", [], f"import os, sys; os.getpid() > 100 and sys.path.append({str(site)!r})\n"
    )
    assert subprocess.run([str(python), "-I", "-c", "import pytest"], cwd="/", timeout=60).returncode == 0
    with pytest.raises(ConfigError) as err:
        require_pytest(Interpreter(str(python), "validate.python"), Isolation("bwrap", memory_limit_mb=1024))
    assert "has pytest, but cannot import it inside the sandbox" in str(err.value)
    assert "No module named 'pytest'" in str(err.value) and "validate.sandbox: none" in str(err.value)
    require_pytest(Interpreter(str(python), "validate.python"), Isolation("none"))  # outside it is fine


def test_a_bound_folder_holding_the_users_repository_keeps_its_git_hidden(under_tmp):
    # A flat-layout editable install adds the user's checkout itself to sys.path; under /tmp it is
    # bound back so the imports work, and its .git is masked like anywhere else.
    user = make_repo(under_tmp, {"mod.py": "X = 1\n"}, name="user")
    worktree = under_tmp / "wt"
    git(user, "worktree", "add", "-q", "--detach", str(worktree))
    python = venv_with(under_tmp / "venv", [user])
    code = (
        "import mod, os\n"
        f"print('imported', mod.X, 'git', sorted(os.listdir({str(user / '.git')!r})))\n"
        f"open({str(user / 'mod.py')!r}, 'a')\n"
    )
    run = run_command([str(python), "-c", code], worktree, timeout_s=60, isolation=Isolation("bwrap"))
    assert "imported 1 git []" in run.stdout, run.describe()
    assert "Read-only file system" in run.stderr
    assert (user / ".git" / "config").is_file()  # the mask hid it; it is still there


def test_runs_that_ask_at_the_same_moment_share_one_probe(monkeypatch):
    # The baseline's import check, ruff and target run start together: one interpreter start, not three.
    from concurrent.futures import ThreadPoolExecutor

    from escalate.workspace import toolpaths

    started: list[str] = []
    real = toolpaths._probe

    def probe(python: str):
        started.append(python)
        return real(python)

    monkeypatch.setattr(toolpaths, "_CACHE", {})
    monkeypatch.setattr(toolpaths, "_probe", probe)
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(toolpaths.interpreter_paths, [sys.executable] * 4))
    assert started == [sys.executable]
    assert all(a == answers[0] for a in answers) and Path(sys.prefix) in answers[0]


def test_prefetch_asks_the_commands_interpreter_ahead(monkeypatch):
    from escalate.workspace import toolpaths

    monkeypatch.setattr(toolpaths, "_CACHE", {})
    toolpaths.prefetch([sys.executable, "-m", "pytest"], ["/nonexistent/ruff", "check"])
    for thread in [t for t in threading.enumerate() if t.name == "escalate-interpreter-probe"]:
        thread.join(timeout=60)
    assert sys.executable in toolpaths._CACHE and Path(sys.prefix) in toolpaths._CACHE[sys.executable]

"""The project's interpreter and ruff, found where they are: an explicit validate.python, the active
venv, the repository's .venv/, then python on PATH; and a standalone install (pipx-style: escalate in
its own venv whose bin folder is not on PATH) fixing the README's calc sample through the sim."""

import subprocess
import sys
from pathlib import Path

import pytest

import escalate
from escalate.errors import ConfigError
from escalate.validation import tools
from escalate.validation.tools import Interpreter, find_python, require_pytest

# This session's site-packages folders (a venv's and its base's): where pytest and escalate's deps are.
SITE_DIRS = [p for p in sys.path if p.endswith("site-packages")]


def make_venv(where: Path, *, with_pytest: bool) -> Path:
    """A real venv (no pip: fast); with_pytest puts this test session's site-packages on its path."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True, timeout=120)
    if with_pytest:
        site = Path(
            subprocess.check_output(
                [
                    str(where / "bin" / "python"),
                    "-c",
                    "import sysconfig; print(sysconfig.get_path('purelib'))",
                ],
                text=True,
            ).strip()
        )
        (site / "outer.pth").write_text("\n".join(SITE_DIRS) + "\n")
    return where / "bin" / "python"


def test_the_order_explicit_then_active_venv_then_dot_venv_then_path(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    dot_venv = make_venv(repo / ".venv", with_pytest=False)
    active = make_venv(tmp_path / "active", with_pytest=False)
    env = {"PATH": "/usr/bin:/bin", "VIRTUAL_ENV": str(tmp_path / "active")}
    assert find_python(repo, str(dot_venv), env) == Interpreter(str(dot_venv), "validate.python")
    assert find_python(repo, None, env) == Interpreter(
        str(active), "the active virtual environment, $VIRTUAL_ENV"
    )
    assert find_python(repo, None, {"PATH": "/usr/bin:/bin"}) == Interpreter(
        str(dot_venv), "the repository's .venv/"
    )
    found = find_python(tmp_path, None, {"PATH": str(active.parent)})
    assert found == Interpreter(str(active.parent / "python"), "'python' on PATH")


def test_no_interpreter_and_a_missing_explicit_one_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="No Python found for the project's tests"):
        find_python(tmp_path, None, {"PATH": str(tmp_path)})
    with pytest.raises(ConfigError, match="validate.python is '/nope/python'"):
        find_python(tmp_path, "/nope/python", {"PATH": ""})


def test_an_interpreter_without_pytest_is_named_with_the_fix(tmp_path):
    bare = make_venv(tmp_path / "bare", with_pytest=False)
    with pytest.raises(ConfigError) as err:
        require_pytest(Interpreter(str(bare), "the repository's .venv/"))
    assert "pytest is not installed for the project's Python" in str(err.value)
    assert f"{bare} -m pip install pytest" in str(err.value)
    require_pytest(Interpreter(str(make_venv(tmp_path / "full", with_pytest=True)), "x"))  # no error


def test_only_the_default_commands_are_rewritten(tmp_path):
    found = tools.resolve(["tox", "-e", "py"], ["flake8"], tmp_path, None)
    assert (found.test_command, found.ruff_command, found.interpreter) == (
        ["tox", "-e", "py"],
        ["flake8"],
        None,
    )
    found = tools.resolve(["python", "-m", "pytest", "-x"], ["ruff", "check"], tmp_path, sys.executable)
    assert found.test_command == [sys.executable, "-m", "pytest", "-x"]
    assert Path(found.ruff_command[0]).name == "ruff" and found.ruff_command[1:] == ["check"]


CALC = {
    "calc.py": "def add(a, b):\n    return a - b\n",
    "tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n",
    "pyproject.toml": '[tool.pytest.ini_options]\npythonpath = ["."]\n',
}


@pytest.mark.slow
def test_a_standalone_install_fixes_the_readme_sample(tmp_path, sim):
    # escalate in its own venv, as pipx makes it: reachable only by its full path, not on PATH.
    tool = tmp_path / "pipx" / "escalate"
    tool_python = make_venv(tool, with_pytest=False)
    site = Path(
        subprocess.check_output(
            [str(tool_python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], text=True
        ).strip()
    )
    deps = [str(Path(escalate.__file__).parents[1]), *SITE_DIRS]
    (site / "escalate-and-deps.pth").write_text("\n".join(deps) + "\n")
    script = tool / "bin" / "escalate"
    script.write_text(f"#!{tool_python}\nimport sys\nfrom escalate.cli.main import main\nsys.exit(main())\n")
    script.chmod(0o755)
    # The user's project, with its own .venv (which has pytest); PATH has neither venv's bin.
    repo = tmp_path / "calc"
    for name, text in CALC.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    project_python = make_venv(repo / ".venv", with_pytest=True)
    (repo / ".gitignore").write_text(".venv/\n")
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "init"]):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@e.x", *args], cwd=repo, check=True)
    sim.set_script("escalation")
    # PYTEST_DISABLE_PLUGIN_AUTOLOAD: the project's pytest sees this session's site-packages, whose
    # plugins (hypothesis: ~1 s of CPU a start) the sample does not use; which python runs is the point.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", **sim.env()}
    env["GIT_CONFIG_GLOBAL"] = str(tmp_path / "gitconfig")
    (tmp_path / "gitconfig").write_text("[user]\n\tname = t\n\temail = t@e.x\n")
    proc = subprocess.run(
        [str(script), "fix", "tests/test_calc.py::test_add", "--json"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    import json

    result = json.loads(proc.stdout)
    assert result["outcome"] == "fixed"
    tool_rows = {d["choice"]: d["reason"] for d in result["decisions"] if d["kind"] == "tools"}
    assert tool_rows[str(project_python)] == f"tests run with {project_python} (the repository's .venv/)"
    assert any(Path(choice).name == "ruff" for choice in tool_rows)

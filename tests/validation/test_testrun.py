"""A pytest run taken as the truth only when complete; node ids as pytest means them; environment
problems told apart from bugs."""

import sys
from pathlib import Path

import pytest
from samplerepo import PYTEST_COMMAND

from escalate.config import ValidateConfig
from escalate.validation.environment import missing_dependency
from escalate.validation.junit import IncompleteReport, covers, norm_nodeid, parse_junit, selects, strip_ansi
from escalate.validation.testrun import _running_when_killed, run_pytest


def config(command: list[str]) -> ValidateConfig:
    # Unsandboxed: the fake runners count their runs in a file of the tree, and a sandboxed run's
    # writes stay in its own copy (by design, tests/workspace/test_sandbox.py).
    return ValidateConfig(test_command=command, ruff=False, timeout_s=60, sandbox="none")


def fake_pytest(tmp_path: Path, body: str) -> list[str]:
    """A test command: ``body`` runs with ``report`` (the --junitxml path) and ``count`` (how many
    times it ran before, kept in a file) defined."""
    script = tmp_path / "fake_pytest.py"
    counter = tmp_path / "runs"
    script.write_text(
        "import sys, pathlib\n"
        "report = next(a.split('=', 1)[1] for a in sys.argv if a.startswith('--junitxml='))\n"
        f"counter = pathlib.Path({str(counter)!r})\n"
        "count = int(counter.read_text()) if counter.exists() else 0\n"
        "counter.write_text(str(count + 1))\n" + body
    )
    return [sys.executable, str(script)]


GOOD = '<testsuites><testsuite><testcase classname="t" name="test_a" file="t.py"/></testsuite></testsuites>'


def test_an_internal_error_is_tried_again_and_then_not_trusted(tmp_path):
    body = f"print('INTERNALERROR> boom')\nopen(report, 'w').write({GOOD!r})\nsys.exit(3)\n"
    tr = run_pytest(tmp_path, config(fake_pytest(tmp_path, body)), [])
    assert (tr.tries, tr.complete) == (2, False)
    assert "exit code 3" in tr.aborted and "tries: 2" in tr.describe()


def test_a_run_that_aborts_once_is_complete_on_the_second_try(tmp_path):
    body = (
        "if count == 0:\n"
        "    open(report, 'w').write('<testsuites><testsuite><testcase/></testsuite></testsuites>')\n"
        "    sys.exit(1)\n"
        f"open(report, 'w').write({GOOD!r})\nsys.exit(0)\n"
    )
    tr = run_pytest(tmp_path, config(fake_pytest(tmp_path, body)), [])
    assert (tr.tries, tr.complete, list(tr.results)) == (2, True, ["t.py::test_a"])


def test_a_nameless_testcase_is_an_incomplete_report():
    with pytest.raises(IncompleteReport):
        parse_junit('<testsuites><testsuite><testcase time="0"/></testsuite></testsuites>')


def test_colour_codes_never_survive_the_report():
    xml = (
        '<testsuites><testsuite><testcase classname="t" name="test_a" file="t.py">'
        '<failure message="#x1B[31massert 1 == 2#x1B[0m">#x1B[1mE   assert 1 == 2#x1B[0m</failure>'
        "</testcase></testsuite></testsuites>"
    )
    result = parse_junit(xml)["t.py::test_a"]
    assert (result.message, result.text) == ("assert 1 == 2", "E   assert 1 == 2")
    assert strip_ansi("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\ \x1b[0;32mok") == "link ok"


def test_node_ids_keep_backslashes_after_the_path():
    assert (
        norm_nodeid(" ./tests\\test_x.py::test_p[C:\\\\foo;bar] ") == "tests/test_x.py::test_p[C:\\\\foo;bar]"
    )
    # a parametrized function covers each case; a collection error of the module covers its tests
    assert selects("tests/t.py::test_p", "tests/t.py::test_p[a/b]")
    assert not selects("tests/t.py::test_p", "tests/t.py::test_pq")
    assert covers("tests/t.py::test_p", "tests/t.py", "error")
    assert not covers("tests/t.py::test_p", "tests/t.py", "failed")
    assert covers("tests", "tests/sub/t.py::test_x", "passed")


def test_the_hanging_test_is_the_last_one_announced_without_a_result():
    out = "collecting ... collected 3 items\n\nt.py::test_a PASSED  [ 33%]\nt.py::test_p[x y] \n"
    assert _running_when_killed(out) == "t.py::test_p[x y]"
    assert _running_when_killed("t.py::test_a PASSED [100%]\n\n== 1 passed ==\n") is None


def test_a_target_whose_module_fails_to_import_is_answered_not_aborted(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests/test_x.py").write_text("from tests import nope  # noqa\n\n\ndef test_x():\n    pass\n")
    (tmp_path / "tests/__init__.py").write_text("")
    tr = run_pytest(tmp_path, config(PYTEST_COMMAND), ["tests/test_x.py::test_x"])
    assert tr.run.returncode == 4 and tr.complete and tr.tries == 1
    assert tr.results["tests/test_x.py"].outcome == "error"


def test_missing_dependencies_and_generated_files_are_the_environment_a_typo_is_not(tmp_path):
    (tmp_path / "src/pkg").mkdir(parents=True)
    (tmp_path / "src/pkg/__init__.py").write_text("")
    (tmp_path / "pyproject.toml").write_text('[tool.setuptools_scm]\nwrite_to = "src/pkg/_ver.py"\n')
    cfg = config([sys.executable, "-m", "pytest"])
    dep = missing_dependency(tmp_path, cfg, "E   ModuleNotFoundError: No module named 'numpyy'")
    assert dep is not None and "pip install -e" in dep.fix and "'numpyy'" in str(dep)
    generated = missing_dependency(tmp_path, cfg, "ModuleNotFoundError: No module named 'pkg._ver'")
    assert (
        generated is not None and "src/pkg/_ver.py" in str(generated) and "pip install -e ." in generated.fix
    )
    assert missing_dependency(tmp_path, cfg, "ModuleNotFoundError: No module named 'pkg.helpres'") is None
    assert missing_dependency(tmp_path, cfg, "ImportError: cannot import name 'x' from 'pkg'") is None


def test_a_suite_that_cannot_be_collected_for_a_missing_dependency_stops_the_baseline(tmp_path):
    from samplerepo import CALC_FILES, make_repo

    from escalate.validation.baseline import EnvironmentProblem, run_baseline

    files = {**CALC_FILES, "tests/test_extra.py": "import not_installed_dep_xyz  # noqa: F401\n"}
    root = make_repo(tmp_path, files)
    with pytest.raises(EnvironmentProblem, match="tests/test_extra.py cannot be collected") as exc:
        run_baseline(root, config(PYTEST_COMMAND), [])  # no targets: the whole suite at base
    assert "pip install" in exc.value.fix

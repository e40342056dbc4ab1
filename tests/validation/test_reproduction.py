"""The runner's verdict on a test writer's test, on the unchanged code: accepted only when new tests
fail there for a reason about the code, never because the test broke itself."""

from __future__ import annotations

import pytest
from samplerepo import PYTEST_COMMAND, make_repo

from escalate.config import load_config
from escalate.validation.reproduction import check_reproduction
from escalate.workspace.worktree import Workspace

FILES = {
    "pyproject.toml": '[tool.pytest.ini_options]\ntestpaths = ["tests"]\npythonpath = ["."]\n',
    "calc/__init__.py": "",
    # mul() adds; div() names a variable that does not exist (a NameError inside the code under test).
    "calc/ops.py": (
        "def mul(a, b):\n    return a + b\n\n\ndef div(a, b):\n    return a / divisor\n\n\n"
        "def parse(text):\n    return None\n"  # should return an object with .value
    ),
    "tests/test_ops.py": "def test_true():\n    assert True\n",
}
HEAD = "from calc.ops import div, mul\n\n\n"
FAILS = HEAD + "def test_mul():\n    assert mul(2, 3) == 6\n"
PASSES = HEAD + "def test_mul():\n    assert mul(2, 0) == 2\n"
SKIPPED = "import pytest\n\n\n@pytest.mark.skip\ndef test_mul():\n    assert False\n"
NO_IMPORT = "def test_mul():\n    assert mul(2, 3) == 6\n"
BAD_IMPORT = "from calc.ops import multiply\n\n\ndef test_mul():\n    assert multiply(2, 3)\n"
MODULE_ATTRIBUTE = "import calc.ops\n\n\ndef test_mul():\n    assert calc.ops.multiply(2, 3) == 6\n"
IMPORT_IN_BODY = "def test_mul():\n    from calc.ops import multiply\n\n    assert multiply(2, 3) == 6\n"


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    root = make_repo(tmp_path_factory.mktemp("repro"), FILES)
    return root, load_config(root, {"validate": {"test_command": PYTEST_COMMAND, "timeout_s": 60}})


def judge(repo, files: dict[str, str | None]):
    """Write (or, for None, delete) files in a fresh worktree and judge them as a reproduction."""
    root, config = repo
    with Workspace.create(root, "repro-check") as ws:
        for rel, text in files.items():
            if text is None:
                (ws.path / rel).unlink()
            else:
                (ws.path / rel).parent.mkdir(parents=True, exist_ok=True)
                (ws.path / rel).write_text(text)
        return check_reproduction(ws.path, ws.changes(), ws.read_base_text, config.validate)


def test_a_new_test_that_fails_on_an_assertion_is_accepted_with_its_output(repo):
    check = judge(repo, {"tests/test_mul.py": FAILS})
    assert check.accepted, check.reason
    assert check.tests == ["tests/test_mul.py::test_mul"] and check.files == ["tests/test_mul.py"]
    assert "assert 5 == 6" in check.failures["tests/test_mul.py::test_mul"]
    assert check.source == "# tests/test_mul.py\ndef test_mul():\n    assert mul(2, 3) == 6"


def test_the_source_shown_is_the_new_tests_only_decorators_included(repo):
    test = "@pytest.mark.parametrize('n', [3])\ndef test_mul_n(n):\n    assert mul(2, n) == 6"
    added = f"{FILES['tests/test_ops.py']}\n\nimport pytest  # noqa: E402\n{HEAD}{test}\n"
    check = judge(repo, {"tests/test_ops.py": added})
    assert check.accepted, check.reason
    assert check.source == f"# tests/test_ops.py\n{test}"


def test_a_name_error_raised_inside_the_code_under_test_is_the_issues_failure(repo):
    check = judge(repo, {"tests/test_div.py": HEAD + "def test_div():\n    assert div(6, 3) == 2\n"})
    assert check.accepted, check.reason
    assert "NameError" in check.output


@pytest.mark.parametrize(
    ("files", "words"),
    [
        ({"tests/test_mul.py": PASSES}, "passes on the unchanged"),
        ({"tests/test_mul.py": SKIPPED}, "is skipped"),
        ({"tests/test_mul.py": NO_IMPORT}, "NameError at tests/test_mul.py"),
        ({"tests/test_mul.py": BAD_IMPORT}, "does not load"),
        ({"tests/test_mul.py": MODULE_ATTRIBUTE}, "AttributeError at tests/test_mul.py (a module attribute"),
        ({"tests/test_mul.py": IMPORT_IN_BODY}, "ImportError at tests/test_mul.py"),
        ({"tests/test_mul.py": FAILS.replace("def test_mul()", "def test_mul(")},
         "does not load: SyntaxError in tests/test_mul.py line 4"),
        ({"tests/test_mul.py": HEAD + "def helper():\n    assert mul(2, 3) == 6\n"}, "no new test function"),
        ({"tests/test_ops.py": FAILS + "\n\ndef test_true():\n    assert False\n"},
         "existing tests were changed or removed in tests/test_ops.py: test_true"),
        ({"tests/test_ops.py": None, "tests/test_mul.py": FAILS}, "files were deleted: tests/test_ops.py"),
        ({"tests/conftest.py": "", "tests/test_mul.py": FAILS}, "only test files may change"),
        ({"calc/ops.py": "", "tests/test_mul.py": FAILS}, "only test files may change, but these did: calc"),
        ({}, "no test was written"),
    ],
    ids=["passes", "skipped", "name error in the test", "import error", "a missing module attribute",
         "an import in the test body", "syntax error", "no test function",
         "an existing test changed", "a file deleted", "a conftest", "the code changed", "nothing written"],
)  # fmt: skip
def test_what_is_not_a_reproduction(repo, files, words):
    check = judge(repo, files)
    assert not check.accepted
    assert words in check.reason


def test_a_missing_name_asserted_not_imported_reproduces_a_feature_request(repo):
    check = judge(repo, {"tests/test_mul.py": "import calc.ops\n\n\ndef test_has_multiply():\n"
                                              "    assert hasattr(calc.ops, 'multiply')\n"})  # fmt: skip
    assert check.accepted, check.reason


def test_an_attribute_error_on_a_wrong_value_is_the_issues_failure(repo):
    """Raised in the test, but about the value the code returned (None): that is the bug."""
    test = "from calc.ops import parse\n\n\ndef test_parse():\n    assert parse('1').value == 1\n"
    check = judge(repo, {"tests/test_parse.py": test})
    assert check.accepted, check.reason
    assert "'NoneType' object has no attribute 'value'" in check.output


def test_the_syntax_error_goes_back_with_the_offending_line(repo):
    check = judge(repo, {"tests/test_mul.py": FAILS.replace("def test_mul()", "def test_mul(")})
    assert "def test_mul(:" in check.output and "SyntaxError" in check.output

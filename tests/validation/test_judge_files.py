"""The judge's files: which paths count, the editor's refusal, and discarding what still appears."""

from __future__ import annotations

import pytest
from samplerepo import CALC_TARGET, SAMPLE_PYPROJECT, make_calc_repo

from escalate.agent.editor import EDITOR_TOOL_NAME, Editor
from escalate.validation.judge_files import JudgeFiles, is_test_file, judge_reason
from escalate.workspace.worktree import Workspace

EXTRA = {
    "setup.cfg": "[metadata]\nname = sample\n\n[tool:pytest]\nxfail_strict = true\n",
    "tests/data/expected.txt": "5\n",
    "checks/check_ops.py": "def check_add():\n    pass\n",
}


@pytest.fixture
def ws(tmp_path):
    root = make_calc_repo(tmp_path, EXTRA)
    with Workspace.create(root, "judge") as ws:
        yield ws


@pytest.mark.parametrize(
    "path, at_base, judged",
    [
        ("conftest.py", False, True),
        ("deep/down/conftest.py", False, True),
        ("tests/CONFTEST.py", False, True),
        ("tests/pytest.ini", False, True),
        ("calc/.ruff.toml", False, True),
        ("ruff.toml", True, True),
        ("sub/.gitattributes", False, True),
        ("tests/test_ops.py", True, True),
        ("tests/test_new.py", False, False),  # new tests may be added
        ("tests/data/expected.txt", True, True),  # test data decides outcomes too
        ("calc/ops.py", True, False),
        ("pytest.py", False, True),
        ("src/_pytest/runner.py", False, True),
        ("sitecustomize.py", False, True),
        ("calc/sitecustomize.py", False, False),  # not on the import path the tests run with
        # pytest prefers these to pyproject.toml: a new one would replace the base's settings.
        (".pytest.ini", False, True),
        ("pytest.toml", False, True),
        ("tests/.pytest.toml", False, True),
        # A test package's __init__.py runs before its tests (it could patch the code under test).
        ("tests/__init__.py", False, True),
        ("tests/unit/__init__.py", False, True),
        ("calc/__init__.py", True, False),  # the code's own package
    ],
)
def test_which_paths_judge(path, at_base, judged):
    assert (judge_reason(path, b"x", b"y", at_base=at_base) is not None) is judged


def test_shared_config_files_judge_only_through_their_pytest_and_ruff_sections():
    base = SAMPLE_PYPROJECT.encode()
    renamed = base.replace(b'version = "0.0.1"', b'version = "0.0.2"')
    assert judge_reason("pyproject.toml", base, renamed, at_base=True) is None
    no_select = base.replace(b'select = ["E", "F"]', b"select = []")
    assert "pytest/ruff" in judge_reason("pyproject.toml", base, no_select, at_base=True)
    assert judge_reason("pyproject.toml", base, b"[broken", at_base=True) is not None
    cfg = b"[metadata]\nname = x\n\n[tool:pytest]\naddopts = -q\n"
    assert judge_reason("setup.cfg", cfg, cfg.replace(b"name = x", b"name = y"), at_base=True) is None
    assert judge_reason("setup.cfg", cfg, cfg.replace(b"-q", b"-p no:python"), at_base=True) is not None
    assert judge_reason("tox.ini", None, b"[pytest]\naddopts = -x\n", at_base=False) is not None
    assert judge_reason("tox.ini", None, b"[tox]\nenvlist = py311\n", at_base=False) is None


def test_test_files_are_what_pytest_collects_or_a_test_directory_holds():
    assert is_test_file("test_x.py") and is_test_file("pkg/x_test.py") and is_test_file("Tests/helpers.py")
    assert not is_test_file("calc/ops.py") and not is_test_file("contest.py")


def test_the_editor_refuses_the_judges_files_and_allows_new_tests(ws):
    judge = JudgeFiles.of(ws, ["checks/check_ops.py::check_add"])
    editor = Editor(ws.path, write_guard=judge.refusal)

    def create(path, text="x = 1\n"):
        return editor.handle(EDITOR_TOOL_NAME, {"command": "create", "path": path, "file_text": text})

    for path in ("conftest.py", "tests/conftest.py", "tests/test_ops.py", "ruff.toml", "checks/check_ops.py"):
        result = create(path)
        assert result.is_error and "judge a patch" in result.content, (path, result)
        assert not (ws.path / path).exists() or path.startswith(("tests/test_ops", "checks/"))
    assert (ws.path / "tests/test_ops.py").read_text().startswith("from calc import")
    assert not create("tests/test_more.py", "def test_more():\n    pass\n").is_error
    # The rest of pyproject.toml may change; its pytest/ruff tables may not.
    old = 'version = "0.0.1"'
    edit = {"command": "str_replace", "path": "pyproject.toml", "old_str": old, "new_str": 'version = "0.1"'}
    assert not editor.handle(EDITOR_TOOL_NAME, edit).is_error
    edit = {"command": "str_replace", "path": "pyproject.toml", "old_str": "line-length = 110",
            "new_str": "line-length = 300"}  # fmt: skip
    assert editor.handle(EDITOR_TOOL_NAME, edit).is_error


def test_what_appears_without_the_editor_is_put_back_and_reported(ws):
    (ws.path / "conftest.py").write_text("def pytest_pyfunc_call(pyfuncitem):\n    return True\n")
    (ws.path / "tests/test_ops.py").write_text("def test_add():\n    pass\n")
    (ws.path / "tests/data/expected.txt").unlink()
    (ws.path / "setup.cfg").write_text("[metadata]\nname = sample\n")  # [tool:pytest] removed
    (ws.path / "calc/ops.py").write_text("def add(a, b):\n    return a + b\n")  # the code: kept
    (ws.path / "tests/test_new.py").write_text("def test_new():\n    pass\n")  # a new test: kept
    discarded = JudgeFiles.of(ws, [CALC_TARGET]).discard(ws)
    assert sorted(d.path for d in discarded) == [
        "conftest.py",
        "setup.cfg",
        "tests/data/expected.txt",
        "tests/test_ops.py",
    ]
    assert "conftest.py (conftest.py decides" in str(discarded[0])
    assert sorted(ws.changed_files()) == ["calc/ops.py", "tests/test_new.py"]
    assert not (ws.path / "conftest.py").exists()
    assert (ws.path / "tests/data/expected.txt").read_text() == "5\n"
    assert "[tool:pytest]" in (ws.path / "setup.cfg").read_text()


def test_a_doctest_target_leaves_its_module_editable_a_test_target_does_not():
    base = {"textkit/words.py": b"def f():\n    '''>>> f()\n    1\n    '''\n", "checks/ops.py": b""}
    judge = JudgeFiles(base, base.get, ["textkit/words.py::textkit.words.f", "checks/ops.py::test_ops[a.b]"])
    assert judge.refusal("textkit/words.py", "def f():\n    return 1\n") is None  # the code under test
    assert judge.refusal("checks/ops.py", "") is not None  # a target test's file, however it is named

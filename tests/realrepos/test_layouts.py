"""`escalate fix` end to end on small projects with real-world layouts, through the simulated API.

Each case builds a project as real ones are laid out (src/ with an editable install and a
generated, git-ignored ``_version.py``; pytest config in tox.ini with doctests and
``--color=yes``; ``[tool.ruff] fix = true``; parametrized ids with backslashes and ``;``; an
import error at base; a hanging unrelated test; a run that aborts once; pre-existing and flaky
failures), runs the CLI with a model that sends the true fix, and asserts the outcome and the
exact fix commit: the files and lines the model changed, nothing else.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from realproject import commit_files, commit_lines, fix, project, replies, script
from samplerepo import SAMPLE_PYPROJECT, edit, git

pytestmark = pytest.mark.slow


# -- src layout, editable install, generated _version.py, ruff fix = true ----------------------------

VERPKG = {
    "pyproject.toml": (
        '[project]\nname = "verpkg"\ndynamic = ["version"]\n\n'
        '[tool.hatch.build.hooks.vcs]\nversion-file = "src/verpkg/_version.py"\n\n'
        '[tool.pytest.ini_options]\ntestpaths = ["tests"]\n\n'
        '[tool.ruff]\nfix = true\nline-length = 110\n\n[tool.ruff.lint]\nselect = ["E", "F"]\n'
    ),
    ".gitignore": "__pycache__/\nsrc/verpkg/_version.py\n",
    "src/verpkg/__init__.py": "from verpkg._version import __version__\nfrom verpkg.core import double\n\n"
    '__all__ = ["__version__", "double"]\n',
    "src/verpkg/core.py": "def double(x):\n    return x + x + 1\n",
    # A fixable finding ruff's `fix = true` would rewrite if escalate let it.
    "src/verpkg/other.py": "import os\n\n\ndef name():\n    return 'other'\n",
    "tests/test_core.py": "import verpkg\n\n\ndef test_double():\n    assert verpkg.double(2) == 4\n\n\n"
    "def test_version():\n    assert verpkg.__version__ == '1.2.3'\n",
}
VERSION_FILE = "__version__ = '1.2.3'\n"
DOUBLE_FIX = edit("return x + x + 1", "return x + x", "src/verpkg/core.py")


def test_src_layout_with_a_generated_version_file_and_ruff_fix_true(tmp_path, env, capsys, monkeypatch):
    root = project(tmp_path, VERPKG)
    (root / "src/verpkg/_version.py").write_text(VERSION_FILE)  # what `pip install -e .` wrote
    monkeypatch.setenv("PYTHONPATH", str(root / "src"))  # the editable install's path entry
    env.set_script(script([DOUBLE_FIX]))
    code, result, err = fix(capsys, root, "tests/test_core.py::test_double")
    assert (code, result["outcome"]) == (0, "fixed"), err
    assert commit_files(root, result) == ["src/verpkg/core.py"]
    assert commit_lines(root, result) == ["-    return x + x + 1", "+    return x + x"]
    # ruff never fixed the other file, in the worktree or on the branch
    assert git(root, "show", f"{result['branch']}:src/verpkg/other.py").startswith("import os\n")
    assert (root / "src/verpkg/_version.py").read_text() == VERSION_FILE
    assert git(root, "status", "--porcelain") == ""  # the checkout untouched


def test_a_repeated_wrong_patch_is_circular_across_tiers_though_ruff_would_fix(
    tmp_path, env, capsys, monkeypatch
):
    models = (("haiku", "claude-haiku-4-5"), ("sonnet", "claude-sonnet-4-6"), ("opus", "claude-opus-4-6"))
    tiers = [{"name": n, "model": m, "max_attempts": 1} for n, m in models]
    root = project(tmp_path, VERPKG, tiers=tiers)
    (root / "src/verpkg/_version.py").write_text(VERSION_FILE)
    wrong = edit("return x + x + 1", "return x * x + 1", "src/verpkg/core.py")
    env.set_script(
        {
            "models": {
                "claude-haiku-4-5": replies([wrong]),
                "claude-sonnet-4-6": replies([wrong]),
                "claude-opus-4-6": replies([DOUBLE_FIX]),
            }
        }  # fmt: skip
    )
    code, result, err = fix(capsys, root, "tests/test_core.py::test_double")
    # Each tier starts from the same base (ruff rewrote nothing), so Sonnet's repeat of Haiku's
    # patch is the same tree: circular, caught without running the tests.
    assert [(a["tier"], a["verdict"]) for a in result["attempts"]] == [
        ("haiku", "fail"), ("sonnet", "circular"), ("opus", "pass")
    ], err  # fmt: skip
    assert (code, result["outcome"]) == (0, "fixed")
    assert commit_files(root, result) == ["src/verpkg/core.py"]


def test_a_missing_generated_version_file_stops_before_any_call(tmp_path, env, capsys):
    root = project(tmp_path, VERPKG)  # never installed: no _version.py anywhere
    env.set_script(script([DOUBLE_FIX]))
    code, result, err = fix(capsys, root, "tests/test_core.py::test_double")
    assert code == 2 and result["outcome"] == "error"
    assert "src/verpkg/_version.py" in result["explanation"] and "pip install -e ." in result["explanation"]
    assert env.messages_requests() == []


# -- tox.ini, doctests, --color=yes ---------------------------------------------------------------------

TEXTKIT = {
    "tox.ini": "[pytest]\naddopts = --color=yes --doctest-modules\ntestpaths = textkit tests\n",
    "textkit/__init__.py": "",
    "textkit/words.py": (
        "def title_case(text):\n"
        '    """Every word capitalised.\n\n'
        "    >>> title_case('hello big world')\n"
        "    'Hello Big World'\n"
        '    """\n'
        "    return ' '.join(w.upper() for w in text.split())\n"
    ),
    "tests/test_words.py": "from textkit.words import title_case\n\n\n"
    "def test_empty():\n    assert title_case('') == ''\n",
}
DOCTEST = "textkit/words.py::textkit.words.title_case"


def test_tox_ini_doctest_target_and_no_colour_in_feedback(tmp_path, env, capsys):
    root = project(tmp_path, TEXTKIT)
    # The first patch kills the test process: the feedback is pytest's own (coloured) output.
    wrong = edit(
        "def title_case(text):", "import os\n\nos._exit(3)\n\n\ndef title_case(text):", "textkit/words.py"
    )
    undo = edit("import os\n\nos._exit(3)\n\n\ndef title_case", "def title_case", "textkit/words.py")
    right = edit("w.upper() for w", "w.capitalize() for w", "textkit/words.py")
    env.set_script(script([wrong], [undo, right]))
    code, result, err = fix(capsys, root, DOCTEST)
    assert (code, result["outcome"]) == (0, "fixed"), err
    assert [(a["verdict"], a["stage"]) for a in result["attempts"]] == [("fail", "target"), ("pass", "ok")]
    feedback = str(env.messages_requests()[-1]["body"]["messages"])
    assert "test session starts" in feedback and "exit code: 3" in feedback
    assert "\x1b" not in feedback and "\\x1b" not in feedback and "#x1B" not in feedback
    assert "\x1b" not in (Path(result["log_dir"]) / "attempts.xml").read_text()
    assert commit_files(root, result) == ["textkit/words.py"]
    assert commit_lines(root, result) == [
        "-    return ' '.join(w.upper() for w in text.split())",
        "+    return ' '.join(w.capitalize() for w in text.split())",
    ]


# -- node ids: a parametrized function, one case with backslashes and ';' --------------------------------

PATHS = {
    "pyproject.toml": SAMPLE_PYPROJECT,
    "pathkit/__init__.py": "",
    "pathkit/split.py": (
        "def drive(path):\n    return path.split('/')[0] if ':' in path else ''\n\n\n"
        "def parts(path, sep=';'):\n    return path.split(sep)[:-1]\n"
    ),
    "tests/test_split.py": (
        "import pytest\n\nfrom pathkit.split import drive, parts\n\n\n"
        '@pytest.mark.parametrize("path", ["C:\\\\foo;bar", "relative"])\n'
        "def test_drive(path):\n    assert drive(path) == ('C:' if ':' in path else '')\n\n\n"
        '@pytest.mark.parametrize("path, n", [("a", 1), ("a;b", 2)])\n'
        "def test_parts(path, n):\n    assert len(parts(path)) == n\n"
    ),
}
BACKSLASH_CASE = "tests/test_split.py::test_drive[C:\\\\foo;bar]"  # exactly as pytest prints it


def test_parametrized_function_and_a_case_with_backslashes_and_semicolons(tmp_path, env, capsys):
    root = project(tmp_path, PATHS)
    env.set_script(
        script(
            [
                edit("path.split('/')[0] if", "path.split('\\\\')[0] if", "pathkit/split.py"),
                edit("return path.split(sep)[:-1]", "return path.split(sep)", "pathkit/split.py"),
            ]
        )
    )
    code, result, err = fix(capsys, root, BACKSLASH_CASE, "tests/test_split.py::test_parts")
    assert (code, result["outcome"]) == (0, "fixed"), err
    assert BACKSLASH_CASE in env.messages_requests()[0]["body"]["messages"][0]["content"][0]["text"]
    assert commit_files(root, result) == ["pathkit/split.py"]
    assert commit_lines(root, result) == [
        "-    return path.split('/')[0] if ':' in path else ''",
        "+    return path.split('\\\\')[0] if ':' in path else ''",
        "-    return path.split(sep)[:-1]",
        "+    return path.split(sep)",
    ]


# -- import errors: a bug at base vs. a missing dependency ------------------------------------------------

INV = {
    "pyproject.toml": SAMPLE_PYPROJECT,
    "inv/__init__.py": "from inv.helpres import total\n\n__all__ = ['total']\n",
    "inv/helpers.py": "def total(items):\n    return sum(items)\n",
    "tests/test_inv.py": "from inv import total\n\n\ndef test_total():\n    assert total([1, 2]) == 3\n",
}


def test_an_import_error_at_base_is_the_target_failing(tmp_path, env, capsys):
    root = project(tmp_path, INV)
    env.set_script(script([edit("from inv.helpres import", "from inv.helpers import", "inv/__init__.py")]))
    code, result, err = fix(capsys, root, "tests/test_inv.py::test_total")
    assert (code, result["outcome"]) == (0, "fixed"), err
    first = str(env.messages_requests()[0]["body"]["messages"])
    assert "No module named 'inv.helpres'" in first  # the collection error is shown to the model
    assert commit_files(root, result) == ["inv/__init__.py"]
    assert commit_lines(root, result) == [
        "-from inv.helpres import total",
        "+from inv.helpers import total",
    ]


def test_a_missing_dependency_stops_before_any_call_with_the_fix(tmp_path, env, capsys):
    files = {**INV, "inv/__init__.py": "import not_installed_dep_xyz  # noqa: F401\n"}
    root = project(tmp_path, files)
    env.set_script(script([]))
    code, result, err = fix(capsys, root, "tests/test_inv.py::test_total")
    assert code == 2 and result["outcome"] == "error"
    assert "not_installed_dep_xyz" in result["explanation"] and "pip install" in result["explanation"]
    assert env.messages_requests() == []


# -- runs that misbehave: a hang, an abort, pre-existing and flaky failures ------------------------------

CALC = {
    "pyproject.toml": SAMPLE_PYPROJECT,
    ".gitignore": "__pycache__/\n.flag-*\n",
    "calc/__init__.py": "",
    "calc/ops.py": "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n",
    "tests/test_ops.py": "from calc.ops import add, mul\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\n"
    "def test_mul():\n    assert mul(4, 3) == 12\n",
}
ADD_FIX = edit("return a - b", "return a + b", "calc/ops.py")
ADD_LINES = ["-    return a - b", "+    return a + b"]


def test_a_hanging_unrelated_test_is_named_and_not_blamed(tmp_path, env, capsys):
    files = {**CALC, "tests/test_slow.py": "import time\n\n\ndef test_hang():\n    time.sleep(600)\n"}
    root = project(tmp_path, files, timeout_s=3)
    env.set_script(script([ADD_FIX]))
    code, result, err = fix(capsys, root, "tests/test_ops.py::test_add")
    assert (code, result["outcome"]) == (0, "fixed"), err
    assert "suite: tests/test_slow.py::test_hang did not finish within 3 s" in err
    assert "s elapsed" in err
    assert commit_lines(root, result) == ADD_LINES


def test_a_test_the_patch_makes_hang_is_named_and_blamed(tmp_path, env, capsys):
    files = {**CALC, "tests/test_loop.py": "from calc.ops import mul\n\n\ndef test_loop():\n"
             "    while mul(1, 1) == 2:\n        pass\n"}  # fmt: skip
    root = project(tmp_path, files, timeout_s=3)
    hang = [ADD_FIX, edit("return a * b", "return a * b * 2", "calc/ops.py")]
    env.set_script(script(hang, [edit("return a * b * 2", "return a * b", "calc/ops.py")]))
    code, result, err = fix(capsys, root, "tests/test_ops.py::test_add")
    first = result["attempts"][0]
    assert (first["verdict"], first["stage"]) == ("fail", "suite"), result["attempts"]
    assert "tests/test_loop.py::test_loop" in first["reason"] and "timed out" in first["reason"]
    assert (code, result["outcome"]) == (0, "fixed"), err
    assert commit_lines(root, result) == ADD_LINES


ABORT_ONCE = (
    "import pathlib\n\nFLAG = pathlib.Path(__file__).parent / '.flag-aborted'\n\n\n"
    "def pytest_collection_finish(session):\n"
    "    if not FLAG.exists():\n"
    "        FLAG.write_text('x')\n"
    "        raise RuntimeError('plugin state not ready')\n"
)


def test_a_run_that_aborts_once_is_retried_not_taken_as_the_truth(tmp_path, env, capsys):
    # The test code keeps state between runs (a flag file), which the sandbox rightly throws away
    # with its exported tree: the retry is what is under test, so this run is unsandboxed.
    root = project(tmp_path, {**CALC, "conftest.py": ABORT_ONCE}, sandbox="none")
    env.set_script(script([ADD_FIX]))
    code, result, err = fix(capsys, root, "tests/test_ops.py::test_add")
    assert (code, result["outcome"]) == (0, "fixed"), err
    assert commit_files(root, result) == ["calc/ops.py"] and commit_lines(root, result) == ADD_LINES


def test_a_run_that_always_aborts_is_an_environment_error(tmp_path, env, capsys):
    always = ABORT_ONCE.replace("    if not FLAG.exists():\n        FLAG.write_text('x')\n", "    if True:\n")
    root = project(tmp_path, {**CALC, "conftest.py": always})
    env.set_script(script([ADD_FIX]))
    code, result, err = fix(capsys, root, "tests/test_ops.py::test_add")
    assert code == 2 and result["outcome"] == "error"
    assert "aborted twice" in result["explanation"] and "INTERNALERROR" in result["explanation"]
    assert env.messages_requests() == []


FLAKY = (
    "import pathlib\n\nFLAG = pathlib.Path(__file__).parent.parent / '.flag-flaky'\n\n\n"
    "def test_flaky():\n"
    "    first = not FLAG.exists()\n"
    "    FLAG.write_text('x')\n"
    "    assert not first, 'fails the first time only'\n"
)


def test_pre_existing_and_flaky_failures_are_not_blamed_new_ones_are(tmp_path, env, capsys):
    files = {
        **CALC,
        "tests/test_legacy.py": "def test_legacy():\n    assert False, 'known broken'\n",
        "tests/test_flaky.py": FLAKY,
    }
    root = project(tmp_path, files, sandbox="none")  # the flaky test keeps state between runs
    breaks_mul = [ADD_FIX, edit("return a * b", "return a ** b", "calc/ops.py")]
    env.set_script(script(breaks_mul, [edit("return a ** b", "return a * b", "calc/ops.py")]))
    code, result, err = fix(capsys, root, "tests/test_ops.py::test_add")
    first = result["attempts"][0]
    assert (first["verdict"], first["stage"]) == ("fail", "suite"), result["attempts"]
    assert "tests/test_ops.py::test_mul" in first["reason"]
    assert "test_legacy" not in first["reason"] and "test_flaky" not in first["reason"]
    assert "flaky" in err and "tests/test_flaky.py::test_flaky" in err
    assert (code, result["outcome"]) == (0, "fixed"), err
    assert commit_files(root, result) == ["calc/ops.py"] and commit_lines(root, result) == ADD_LINES


def test_base_outcomes_are_remembered_per_commit(tmp_path, env, capsys):
    runs = tmp_path / "legacy-runs.txt"  # outside the tree: counts every run of the legacy test
    legacy = (
        f"def test_legacy():\n    open({str(runs)!r}, 'a').write('run\\n')\n"
        "    assert False, 'known broken'\n"
    )
    root = project(tmp_path, {**CALC, "tests/test_legacy.py": legacy}, sandbox="none")  # counts outside
    env.set_script(script([ADD_FIX]))
    code, first, err = fix(capsys, root, "tests/test_ops.py::test_add")
    assert (code, first["outcome"]) == (0, "fixed"), err
    assert runs.read_text().count("run") == 2  # the suite, then once on the base: pre-existing
    env.set_script(script([ADD_FIX]))
    code, second, err = fix(capsys, root, "tests/test_ops.py::test_add")
    assert (code, second["outcome"]) == (0, "fixed"), err
    assert runs.read_text().count("run") == 3  # the suite only: the ledger knew it fails at base
    assert any(d["choice"] == "remembered" for d in second["decisions"])
    assert commit_lines(root, second) == ADD_LINES

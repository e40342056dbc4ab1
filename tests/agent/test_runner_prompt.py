"""The runner's prompts: what the model reads first, the feedback and the tier hand-over."""

from samplerepo import CALC_FILES, write_files

from escalate.agent.prompts import (
    WHOLE_FILE_CHARS,
    diff_summary,
    file_excerpt,
    first_message,
    handover_summary,
    imported_files,
    source_of_test,
    truncate,
)
from escalate.ladder.attempt import commit_message
from escalate.task import Frame


def test_first_message_holds_what_an_engineer_looks_at_first(tmp_path):
    write_files(tmp_path, CALC_FILES)
    (tmp_path / ".git").write_text("gitdir: /elsewhere\n")  # a worktree's .git file is not listed
    output = (
        "def test_add():\n>       assert add(2, 3) == 5\nE       assert -1 == 5\n\n"
        "tests/test_ops.py:5: AssertionError"
    )
    context, task = first_message(
        root=tmp_path,
        task_title="Make tests/test_ops.py::test_add pass",
        task_text="add() is wrong",
        target_failures={"tests/test_ops.py::test_add": output},
        frames=[Frame("tests/test_ops.py", 5, "test_add")],
        handover="## haiku attempt 1: fail",
    )
    text = context["text"]
    assert str(tmp_path) not in text  # the worktree path would make every run's cached prefix new
    assert "def test_add():\n    assert add(2, 3) == 5" in text  # the test's source
    assert "E       assert -1 == 5" in text  # its output at base
    assert "- tests/test_ops.py:5" in text  # the frames
    assert "### calc/ops.py (whole file" in text and "return a - b" in text  # the code under test
    assert "\n.git\n" not in text
    assert "add() is wrong" in task["text"] and "haiku attempt 1" in task["text"]
    # The stable context comes first, so it can sit behind a cache breakpoint.
    assert "What earlier attempts tried" not in text


def test_the_stable_context_is_the_same_wherever_the_worktree_is(tmp_path):
    # Two worktrees of one repository: the repository-context block (the end of the cached prefix)
    # must be byte-identical, so a later run reads it from cache instead of writing it again.
    blocks = []
    for where in ("a/escalate-fix-1", "b/escalate-fix-2"):
        root = tmp_path / where
        write_files(root, CALC_FILES)
        blocks.append(
            first_message(
                root=root,
                task_title="t",
                task_text="",
                target_failures={"tests/test_ops.py::test_add": "E   assert -1 == 5"},
                frames=[Frame("calc/ops.py", 2, "add")],
            )[0]
        )
    assert blocks[0] == blocks[1]


def test_source_of_test_finds_methods_and_parametrized_ids(tmp_path):
    write_files(
        tmp_path, {"tests/test_k.py": "class TestK:\n    @staticmethod\n    def test_m(x):\n        pass\n"}
    )
    src = source_of_test(tmp_path, "tests/test_k.py::TestK::test_m[1-2]")
    assert src.startswith("# tests/test_k.py, line 2") and "def test_m(x):" in src
    assert source_of_test(tmp_path, "tests/test_k.py::test_gone") is None


def test_big_files_are_shown_as_windows_around_the_frames(tmp_path):
    lines = [f"x_{i} = {i}" for i in range(1, 3001)]
    write_files(tmp_path, {"big.py": "\n".join(lines) + "\n"})
    assert len((tmp_path / "big.py").read_text()) > WHOLE_FILE_CHARS
    excerpt = file_excerpt(tmp_path, "big.py", [1500])
    assert "x_1500 = 1500" in excerpt and "x_1460 = 1460" in excerpt
    assert "x_10 = 10" not in excerpt and "x_2000 = 2000" not in excerpt


def test_imports_are_followed_through_re_exports(tmp_path):
    write_files(tmp_path, CALC_FILES)
    assert imported_files(tmp_path, ["tests/test_ops.py"]) == ["calc/__init__.py", "calc/ops.py"]


def test_truncate_keeps_the_head_and_the_tail():
    text = "HEAD" + "x" * 10_000 + "TAIL"
    short = truncate(text, 600)
    assert short.startswith("HEAD") and short.endswith("TAIL") and len(short) < 700


def test_hand_over_summarises_diffs_and_reasons():
    diff = (
        "--- a/calc/ops.py\n+++ b/calc/ops.py\n@@ -1,2 +1,2 @@\n"
        " def add(a, b):\n-    return a - b\n+    return a * b\n"
    )
    assert diff_summary(diff).splitlines()[0] == "files: calc/ops.py"
    text = handover_summary(
        [("haiku attempt 1 (claude-haiku-4-5)", "target", "test_add failed", diff, "fail")]
    )
    assert "haiku attempt 1 (claude-haiku-4-5): fail at the target stage: test_add failed" in text
    assert "+    return a * b" in text


def test_commit_message_has_subject_tests_and_trailer():
    msg = commit_message(
        "Make tests/t.py::test_a pass",
        ["tests/t.py::test_a"],
        "sonnet",
        "claude-sonnet-4-6",
        "add() subtracted; it adds now. DONE",
    )
    lines = msg.splitlines()
    assert lines[0] == "fix: Make tests/t.py::test_a pass"
    assert "  tests/t.py::test_a" in lines and "add() subtracted; it adds now." in lines
    assert lines[-1] == "Escalated-by: escalate (sonnet/claude-sonnet-4-6)"

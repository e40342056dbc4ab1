import os

import pytest
from samplerepo import CALC_FILES, CALC_FIX, git, make_calc_repo, write_files

from escalate.agent.editor import (
    EDITOR_TOOL_NAME,
    MAX_LISTED,
    Editor,
    glob_regex,
    path_matches,
)
from escalate.agent.search import MAX_SEARCH_HITS
from escalate.workspace.worktree import Workspace

PROTECTED = [".github/workflows/**", ".escalate.yml"]
EXTRA = {
    ".github/workflows/ci.yml": "on: push\n",
    ".escalate.yml": "budget: {max_cost_usd: 1}\n",
    "docs/guide.md": "# Guide\nadd numbers\n",
    "dup.py": "x = 1\ny = 2\nx = 1\nz = 3\nx = 1\n",
}


@pytest.fixture
def repo(tmp_path):
    return make_calc_repo(tmp_path, EXTRA)


@pytest.fixture
def editor(repo):
    return Editor(repo, PROTECTED, max_view_chars=2000)


def edit(editor, **tool_input):
    return editor.handle(EDITOR_TOOL_NAME, tool_input)


def test_tools_are_the_text_editor_plus_read_only_helpers(editor):
    tools = editor.tools()
    assert tools[0] == {"type": "text_editor_20250728", "name": EDITOR_TOOL_NAME, "max_characters": 2000}
    names = [t["name"] for t in tools]
    assert names == [EDITOR_TOOL_NAME, "search_repo", "list_files"]
    for tool in tools[1:]:
        assert tool["input_schema"]["type"] == "object" and tool["description"]
    assert not any("bash" in n for n in names)


def test_view_numbers_lines_like_cat_n(editor):
    result = edit(editor, command="view", path="calc/ops.py")
    assert not result.is_error and result.changed is None
    assert result.content.splitlines()[:2] == ["     1\tdef add(a, b):", "     2\t    return a - b"]
    assert len(result.content.splitlines()) == len(CALC_FILES["calc/ops.py"].splitlines())


def test_view_range_one_indexed_with_minus_one_to_the_end(editor):
    assert (
        edit(editor, command="view", path="dup.py", view_range=[2, 3]).content
        == "     2\ty = 2\n     3\tx = 1"
    )
    assert (
        edit(editor, command="view", path="dup.py", view_range=[4, -1]).content
        == "     4\tz = 3\n     5\tx = 1"
    )
    assert edit(editor, command="view", path="dup.py", view_range=[5, 99]).content == "     5\tx = 1"
    for bad in ([0, 2], [6, 7], [3, 2], [1], ["1", 2], "1-2"):
        result = edit(editor, command="view", path="dup.py", view_range=bad)
        assert result.is_error and "view_range" in result.content, bad


def test_view_truncates_long_files_with_a_note(repo):
    write_files(repo, {"big.py": "".join(f"value_{n} = {n}\n" for n in range(1000))})
    result = edit(Editor(repo, [], max_view_chars=1000), command="view", path="big.py")
    assert len(result.content) < 1300
    assert "truncated at 1000 characters" in result.content and "of 1000" in result.content
    assert "view_range" in result.content


def test_view_directory_lists_two_levels(editor, repo):
    write_files(repo, {"calc/deep/deeper/hidden_too_deep.py": "", "calc/deep/one.py": ""})
    text = edit(editor, command="view", path=".").content
    listed = text.splitlines()[1:]
    assert "calc/" in listed and "calc/ops.py" in listed and "calc/deep/" in listed
    assert "calc/deep/one.py" not in listed and not any("too_deep" in e for e in listed)
    assert not any(e.startswith(".git") for e in listed)
    sub = edit(editor, command="view", path="calc").content.splitlines()[1:]
    assert "calc/deep/one.py" in sub and "calc/deep/deeper/" in sub
    assert edit(editor, command="view", path="calc", view_range=[1, 2]).is_error


def test_view_missing_binary_and_non_utf8_files(editor, repo):
    (repo / "blob.bin").write_bytes(b"\x00\x01\x02")
    (repo / "latin.txt").write_bytes("caf\xe9".encode("latin-1"))
    (repo / "empty.py").write_text("")
    assert "does not exist" in edit(editor, command="view", path="nope.py").content
    assert "binary" in edit(editor, command="view", path="blob.bin").content
    assert "not UTF-8" in edit(editor, command="view", path="latin.txt").content
    assert edit(editor, command="view", path="empty.py").content == "The file empty.py is empty."


def test_str_replace_exact_unique_match(editor, repo):
    result = edit(editor, command="str_replace", **CALC_FIX)
    assert not result.is_error, result.content
    assert result.changed == "calc/ops.py" and editor.changed == {"calc/ops.py"}
    assert "     2\t    return a + b" in result.content
    assert (repo / "calc/ops.py").read_text().startswith("def add(a, b):\n    return a + b\n")


def test_str_replace_errors_name_count_and_lines(editor, repo):
    before = (repo / "dup.py").read_text()
    multi = edit(editor, command="str_replace", path="dup.py", old_str="x = 1", new_str="x = 2")
    assert multi.is_error
    assert multi.content == (
        "Error: No replacement was performed. Multiple occurrences of old_str in lines [1, 3, 5]. "
        "Please ensure it is unique."
    )
    none = edit(editor, command="str_replace", path="dup.py", old_str="w = 9", new_str="")
    assert none.is_error and "did not appear verbatim in dup.py" in none.content
    assert edit(editor, command="str_replace", path="dup.py", old_str="", new_str="a").is_error
    assert "`old_str` is required" in edit(editor, command="str_replace", path="dup.py").content
    assert (repo / "dup.py").read_text() == before and editor.changed == set()


def test_str_replace_without_new_str_deletes_and_keeps_crlf(editor, repo):
    (repo / "win.py").write_bytes(b"a = 1\r\nb = 2\r\nc = 3\r\n")
    result = edit(
        editor, command="str_replace", path="win.py", old_str="b = 2\nc = 3", new_str="b = 20\nc = 30"
    )
    assert not result.is_error, result.content
    assert (repo / "win.py").read_bytes() == b"a = 1\r\nb = 20\r\nc = 30\r\n"
    assert not edit(editor, command="str_replace", path="win.py", old_str="a = 1\r\n").is_error
    assert (repo / "win.py").read_bytes() == b"b = 20\r\nc = 30\r\n"


def test_create_new_and_overwrite(editor, repo):
    result = edit(editor, command="create", path="calc/extra/new.py", file_text="NEW = 1\n")
    assert not result.is_error and result.changed == "calc/extra/new.py"
    assert "created" in result.content
    assert (repo / "calc/extra/new.py").read_text() == "NEW = 1\n"
    again = edit(editor, command="create", path="calc/extra/new.py", file_text="NEW = 2\n")
    assert "overwritten" in again.content and (repo / "calc/extra/new.py").read_text() == "NEW = 2\n"
    assert edit(editor, command="create", path="calc", file_text="x").is_error
    assert "`file_text` is required" in edit(editor, command="create", path="a.py").content
    assert editor.changed == {"calc/extra/new.py"}


def test_insert_at_start_middle_and_end(editor, repo):
    assert not edit(editor, command="insert", path="dup.py", insert_line=0, insert_text="# head").is_error
    assert (repo / "dup.py").read_text().splitlines()[0] == "# head"
    assert not edit(editor, command="insert", path="dup.py", insert_line=2, insert_text="mid = 0\n").is_error
    assert (repo / "dup.py").read_text().splitlines()[:3] == ["# head", "x = 1", "mid = 0"]
    n = len((repo / "dup.py").read_text().splitlines())
    result = edit(editor, command="insert", path="dup.py", insert_line=n, insert_text="tail = 1")
    assert not result.is_error and result.changed == "dup.py"
    assert (repo / "dup.py").read_text().endswith("x = 1\ntail = 1\n")
    (repo / "nonl.py").write_text("a = 1")
    edit(editor, command="insert", path="nonl.py", insert_line=1, insert_text="b = 2")
    assert (repo / "nonl.py").read_text() == "a = 1\nb = 2\n"
    bad = edit(editor, command="insert", path="dup.py", insert_line=n + 5, insert_text="x")
    assert bad.is_error and f"[0, {n + 1}]" in bad.content
    assert edit(editor, command="insert", path="dup.py", insert_line="3", insert_text="x").is_error
    assert "`insert_text` is required" in edit(editor, command="insert", path="dup.py", insert_line=1).content
    # The older tool versions' name for the text.
    assert not edit(editor, command="insert", path="nonl.py", insert_line=0, new_str="z = 0").is_error


def test_unknown_command_tool_and_missing_parameters(editor):
    assert "Unknown command `undo_edit`" in edit(editor, command="undo_edit", path="dup.py").content
    assert "`command` is required" in edit(editor, path="dup.py").content
    assert "`path` is required" in edit(editor, command="view").content
    result = editor.handle("bash", {"command": "rm -rf /"})
    assert result.is_error and "Unknown tool `bash`" in result.content
    assert editor.handle(EDITOR_TOOL_NAME, "view x").is_error


@pytest.mark.parametrize(
    "path", ["../x", "../../etc/passwd", "sub/../../x", "/etc/passwd", "calc/../../repo/x"]
)
def test_paths_outside_the_root_are_refused(editor, path):
    for command in ("view", "create"):
        result = edit(editor, command=command, path=path, file_text="x")
        assert result.is_error, (command, path)
        assert "outside the repository" in result.content or "leaves the repository" in result.content


def test_absolute_paths_under_the_root_and_harmless_dotdot_work(editor, repo):
    absolute = str(repo.resolve() / "calc/ops.py")
    assert not edit(editor, command="view", path=absolute).is_error
    assert not edit(editor, command="view", path="tests/../calc/ops.py").is_error
    result = edit(editor, command="create", path=str(repo.resolve() / "n.py"), file_text="")
    assert result.changed == "n.py"
    assert edit(editor, command="view", path=str(repo.resolve()) + "-sibling/x").is_error


def test_symlinks_leaving_the_tree_are_refused(editor, repo, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("s3cret\n")
    os.symlink(outside / "secret.txt", repo / "link.txt")
    os.symlink(outside, repo / "linkdir")
    for tool_input in (
        {"command": "view", "path": "link.txt"},
        {"command": "str_replace", "path": "link.txt", "old_str": "s3cret", "new_str": "x"},
        {"command": "create", "path": "linkdir/new.txt", "file_text": "x"},
        {"command": "insert", "path": "linkdir/secret.txt", "insert_line": 0, "insert_text": "x"},
    ):
        result = editor.handle(EDITOR_TOOL_NAME, tool_input)
        assert result.is_error and "symlink" in result.content, tool_input
    assert (outside / "secret.txt").read_text() == "s3cret\n" and not (outside / "new.txt").exists()
    assert editor.handle("search_repo", {"pattern": "s3cret"}).content.startswith("No matches")
    # A symlink that stays inside the tree is fine and the real file is what changed.
    os.symlink(repo / "dup.py", repo / "alias.py")
    result = edit(editor, command="str_replace", path="alias.py", old_str="z = 3", new_str="z = 4")
    assert not result.is_error and result.changed == "dup.py"


def test_git_internals_are_refused(editor, repo):
    for path in (".git/config", ".git", "./.git/HEAD", "calc/.git/x", str(repo.resolve() / ".git/config")):
        result = edit(editor, command="view", path=path)
        assert result.is_error and ".git" in result.content, path
    os.symlink(repo / ".git/config", repo / "cfg")
    assert edit(editor, command="create", path="cfg", file_text="[core]\n").is_error
    assert "Sample Author" in (repo / ".git/config").read_text()


def test_protected_paths_can_be_viewed_not_edited(editor, repo):
    assert not edit(editor, command="view", path=".github/workflows/ci.yml").is_error
    for tool_input in (
        {"command": "create", "path": ".github/workflows/new.yml", "file_text": "x"},
        {"command": "create", "path": ".github/workflows/sub/deep.yml", "file_text": "x"},
        {"command": "str_replace", "path": ".github/workflows/ci.yml", "old_str": "push", "new_str": "pr"},
        {"command": "insert", "path": ".escalate.yml", "insert_line": 0, "insert_text": "x: 1"},
        {"command": "create", "path": "./.github/../.escalate.yml", "file_text": "x"},
    ):
        result = editor.handle(EDITOR_TOOL_NAME, tool_input)
        assert result.is_error and "protected" in result.content, tool_input
    assert (repo / ".github/workflows/ci.yml").read_text() == "on: push\n"
    assert not (repo / ".github/workflows/new.yml").exists()
    # Only the root .escalate.yml is named; a file of that name elsewhere is not protected.
    assert not edit(editor, command="create", path="docs/.escalate.yml", file_text="x").is_error


def test_glob_rules():
    assert path_matches(".github/workflows/a/b.yml", [glob_regex(".github/workflows/**")])
    assert path_matches(".github/workflows/ci.yml", [glob_regex(".github/workflows")])
    assert not path_matches(".github/ci.yml", [glob_regex(".github/workflows/**")])
    assert path_matches("src/pkg/mod.py", [glob_regex("**/*.py")])
    assert path_matches("mod.py", [glob_regex("**/*.py")])
    assert not path_matches("src/mod.py", [glob_regex("*.py")])
    assert path_matches("a/secrets/k.txt", [glob_regex("**/secrets/**")])


def test_search_repo_literal_regex_and_cap(editor, repo):
    out = editor.handle("search_repo", {"pattern": "return a - b"}).content.splitlines()
    assert out == ["calc/ops.py:2: return a - b", "calc/ops.py:6: return a - b"]
    regex = editor.handle("search_repo", {"pattern": r"def \w+\(a, b\)", "regex": True, "glob": "**/*.py"})
    assert regex.content.count("calc/ops.py:") == 3
    assert editor.handle(
        "search_repo", {"pattern": "ADD NUMBERS", "ignore_case": True, "path": "docs"}
    ).content == ("docs/guide.md:2: add numbers")
    assert editor.handle("search_repo", {"pattern": "a(", "regex": True}).is_error
    assert editor.handle("search_repo", {"pattern": "zzz-not-there"}).content.startswith("No matches")
    assert editor.handle("search_repo", {}).is_error
    assert editor.handle("search_repo", {"pattern": "x", "path": "../"}).is_error
    write_files(repo, {"many.txt": "needle\n" * (MAX_SEARCH_HITS + 30)})
    capped = editor.handle("search_repo", {"pattern": "needle"}).content.splitlines()
    assert len(capped) == MAX_SEARCH_HITS + 1 and "30 more matches" in capped[-1]


def test_list_files_glob_and_cap(editor, repo):
    listed = editor.handle("list_files", {"path": "calc", "glob": "*.py"}).content.splitlines()
    assert listed == ["calc/__init__.py", "calc/ops.py"]
    everything = editor.handle("list_files", {}).content.splitlines()
    assert "tests/test_ops.py" in everything and not any(p.startswith(".git/") for p in everything)
    write_files(repo, {f"gen/f{n:03}.py": "" for n in range(MAX_LISTED + 5)})
    capped = editor.handle("list_files", {"path": "gen"}).content.splitlines()
    assert len(capped) == MAX_LISTED + 1 and "5 more files" in capped[-1]
    assert editor.handle("list_files", {"path": "/etc"}).is_error


def test_helpers_follow_gitignore_through_the_workspace(repo):
    write_files(repo, {".gitignore": "__pycache__/\nbuild/\n"})
    git(repo, "commit", "-qam", "ignore build")
    with Workspace.create(repo, "editor") as ws:
        (ws.path / "build").mkdir()
        (ws.path / "build/gen.py").write_text("def add(a, b): pass\n")
        (ws.path / "fresh.py").write_text("def add(a, b): pass\n")
        editor = Editor(ws.path, PROTECTED, file_lister=ws.files)
        hits = editor.handle("search_repo", {"pattern": "def add"}).content
        assert "build/gen.py" not in hits and "fresh.py:1:" in hits and "calc/ops.py:1:" in hits
        edit(editor, command="str_replace", **CALC_FIX)
        assert ws.changed_files() == ["calc/ops.py", "fresh.py"]


def test_absolute_paths_through_an_unresolved_root(tmp_path):
    real = make_calc_repo(tmp_path)
    alias = tmp_path / "alias"
    os.symlink(real, alias)  # like /tmp -> /private/tmp on macOS
    editor = Editor(alias, PROTECTED)
    assert not edit(editor, command="view", path=str(alias / "calc/ops.py")).is_error
    assert not edit(editor, command="view", path=str(real.resolve() / "calc/ops.py")).is_error
    assert edit(editor, command="view", path=str(tmp_path / "elsewhere.py")).is_error


# -- bad input: every one is a tool error, none an exception ----------------------------------

DEEP = "/".join(["d"] * 2000) + "/f.py"
BAD_CALLS = {
    "nul in path": {"command": "view", "path": "calc/ops\x00.py"},
    "nul in new path": {"command": "create", "path": "a\x00b.py", "file_text": "x"},
    "2000 levels, view": {"command": "view", "path": DEEP},
    "2000 levels, create": {"command": "create", "path": DEEP, "file_text": "x"},
    "100 levels, create": {"command": "create", "path": "/".join(["d"] * 100), "file_text": "x"},
    "300-byte name, view": {"command": "view", "path": "x" * 300},
    "300-byte name, create": {"command": "create", "path": "x" * 300 + ".py", "file_text": "x"},
    "long multi-byte name": {"command": "create", "path": "é" * 130, "file_text": "x"},
    "lone surrogate in path": {"command": "view", "path": "calc/\ud800.py"},
    "lone surrogate in text": {"command": "create", "path": "s.py", "file_text": "x = '\udfff'"},
    "newline in path": {"command": "create", "path": "a\nb.py", "file_text": "x"},
    "path too long": {"command": "view", "path": "a" * 5000},
    "str_replace on a directory": {"command": "str_replace", "path": "calc", "old_str": "a", "new_str": "b"},
    "insert on a directory": {"command": "insert", "path": "calc", "insert_line": 0, "insert_text": "x"},
    "create on a directory": {"command": "create", "path": "calc", "file_text": "x"},
    "view under a file": {"command": "view", "path": "calc/ops.py/inner.py"},
    "create under a file": {"command": "create", "path": "calc/ops.py/inner.py", "file_text": "x"},
    "non-UTF-8 file, str_replace": {
        "command": "str_replace",
        "path": "latin.txt",
        "old_str": "c",
        "new_str": "d",
    },
    "binary file, insert": {"command": "insert", "path": "blob.bin", "insert_line": 0, "insert_text": "x"},
    "fifo, view": {"command": "view", "path": "pipe"},
    "fifo, create": {"command": "create", "path": "pipe", "file_text": "x"},
    "fifo, str_replace": {"command": "str_replace", "path": "pipe", "old_str": "a", "new_str": "b"},
    "symlink loop": {"command": "view", "path": "loop/x.py"},
    "file over the size cap": {"command": "view", "path": "huge.txt"},
    "text over the size cap": {"command": "create", "path": "big.py", "file_text": "x" * 5_000_001},
    "path not a string": {"command": "view", "path": ["calc"]},
    "command not a string": {"command": {"view": 1}, "path": "calc"},
}


@pytest.fixture
def hostile(repo):
    """The sample repo plus files the editor must refuse without blocking or raising."""
    (repo / "blob.bin").write_bytes(b"\x00\x01\x02")
    (repo / "latin.txt").write_bytes("caf\xe9".encode("latin-1"))
    os.mkfifo(repo / "pipe")
    os.symlink("loop", repo / "loop")
    with open(repo / "huge.txt", "wb") as fh:
        fh.truncate(5_000_001)  # sparse: no disk used
    return repo


@pytest.mark.timeout(30)
@pytest.mark.parametrize("case", list(BAD_CALLS), ids=list(BAD_CALLS))
def test_bad_input_is_a_tool_error_not_an_exception(hostile, case):
    editor = Editor(hostile, PROTECTED)
    before = snapshot_tree(hostile)
    result = edit(editor, **BAD_CALLS[case])
    assert result.is_error and result.content.startswith("Error: "), result.content
    assert result.changed is None and editor.changed == set()
    assert len(result.content) < 600  # a bad path is echoed back shortened, not whole
    assert result.content.isprintable()  # no NUL, surrogate or newline from the input goes back raw
    assert snapshot_tree(hostile) == before  # nothing written, no stray directory made


def snapshot_tree(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if ".git" not in p.parts)


def test_bad_input_messages_say_what_to_do(hostile):
    editor = Editor(hostile, PROTECTED)

    def error(case: str) -> str:
        return edit(editor, **BAD_CALLS[case]).content

    assert "'\\x00'" in error("nul in path") and "printable" in error("nul in path")
    assert "4004 characters long; at most 1024" in error("2000 levels, create")
    assert "100 levels; at most 64" in error("100 levels, create")
    assert "300 bytes" in error("300-byte name, view") and "255" in error("300-byte name, view")
    assert "260 bytes" in error("long multi-byte name")
    assert "lone surrogate" in error("lone surrogate in text")
    assert "not a regular file" in error("fifo, view") and "not a regular file" in error("fifo, create")
    assert "5,000,001 bytes" in error("file over the size cap") and "search_repo" in error(
        "file over the size cap"
    )
    assert "is a file, not a directory" in error("create under a file")
    assert "cannot be resolved" in error("symlink loop")
    # What no check foresees is still an answer: the OSError's reason, with the path as the model gave it.
    assert (
        error("view under a file")
        == "Error: the filesystem refused this: Not a directory (calc/ops.py/inner.py)."
    )


def test_str_replace_with_200k_matches_counts_once_and_lists_a_few(editor, repo):
    (repo / "many.py").write_text("x = 1\n" * 200_000)
    result = edit(editor, command="str_replace", path="many.py", old_str="x = 1", new_str="x = 2")
    assert result.is_error
    assert result.content == (
        "Error: No replacement was performed. Multiple occurrences of old_str in lines "
        "[1, 2, 3, 4, 5, ... (200000 in all)]. Please ensure it is unique."
    )
    spread = "a\n" * 10 + "needle\n" + "b\n" * 5 + "needle needle\n"
    (repo / "spread.py").write_text(spread)
    two = edit(editor, command="str_replace", path="spread.py", old_str="needle", new_str="x")
    assert "lines [11, 17, 17]" in two.content and "in all" not in two.content


@pytest.mark.timeout(30)  # Python's re takes exponential time on this pattern and input
def test_search_repo_cannot_hang_on_catastrophic_backtracking(editor, repo):
    (repo / "evil.txt").write_text("a" * 50_000 + "!\n" + "aaaa\n")
    result = editor.handle("search_repo", {"pattern": "(a+)+$", "regex": True})
    assert not result.is_error and result.content == "evil.txt:2: aaaa"
    for pattern in (r"(?<=a)b", r"(a)\1"):
        refused = editor.handle("search_repo", {"pattern": pattern, "regex": True})
        assert refused.is_error and "RE2 syntax" in refused.content and "backreferences" in refused.content
    long = editor.handle("search_repo", {"pattern": "a" * 1001, "regex": True})
    assert long.is_error and "at most 1000" in long.content


def test_search_repo_counts_at_most_a_bounded_number_of_lines(editor, repo, monkeypatch):
    import escalate.agent.search as search

    monkeypatch.setattr(search, "MAX_COUNTED", 120)
    (repo / "hay.txt").write_text("needle\n" * 1000)
    lines = editor.handle("search_repo", {"pattern": "needle"}).content.splitlines()
    assert len(lines) == MAX_SEARCH_HITS + 1 and "counting stopped at 120 matching lines" in lines[-1]
    monkeypatch.setattr(search, "MAX_SCAN_BYTES", 10)
    note = editor.handle("search_repo", {"pattern": "needle", "path": "hay.txt"}).content
    assert note.startswith("hay.txt:1: needle")
    wide = editor.handle("search_repo", {"pattern": "zzz-none"}).content
    assert wide.startswith("No matches") and "files not searched" in wide


@pytest.mark.timeout(30)  # Python's re would take hours: time exponential in the number of `*`
def test_a_glob_from_the_model_cannot_hang_the_helpers(editor, repo):
    (repo / ("a" * 200 + ".txt")).write_text("needle\n")
    glob = "*a" * 12 + "*c"
    assert editor.handle("list_files", {"glob": glob}).content == "No files match."
    assert editor.handle("search_repo", {"pattern": "needle", "glob": "**/" + glob}).content.startswith(
        "No matches"
    )
    found = editor.handle("list_files", {"glob": "*a" * 12 + "*.txt"}).content
    assert found == "a" * 200 + ".txt"
    assert editor.handle("list_files", {"glob": "*" * 9000}).is_error

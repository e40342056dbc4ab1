"""Which issues get a reproduction test first, which are judged without one, and which failing
tests are an issue's own targets; `escalate explain` says which and why."""

import json

import pytest
from samplerepo import make_repo

from escalate.cli.main import main
from escalate.routing import testability as proof
from escalate.task import Task, named_tests


@pytest.mark.parametrize(
    ("title", "text", "labels", "reproduce", "why"),
    [
        ("mul() adds instead of multiplying", "mul(2, 3) returns 5; it should be 6.", [], True, "reproduce"),
        ("Typo in the docstring of add", "It says 'substract'.", [], False, "'typo', 'docstring'"),
        ("Update the README", "", ["documentation"], False, "labelled 'documentation'"),
        # A bug label wins over the title's words: this typo is in code, and the service misbehaves.
        ("A typo in the settings path silently starts with defaults", "", ["bug"], True, "labelled 'bug'"),
        ("Improve the wording", "The comment above parse() is unclear.", [], False, "'wording'"),
        # The body alone never makes it a docs issue: it quotes a docstring about wrong behaviour.
        ("Split shares don't add up", "The docstring promises shares that sum to the bill.", [], True,
         "reproduce"),
        # Behaviour words win over documentation words: a crash described in a docs-flavoured title.
        ("Docs build: parse() raises on empty input", "parse('') raises IndexError.", [], True, "reproduce"),
        # Words inside code are not read: a docstring in a snippet does not make it a docs issue.
        ("parse() drops the last item", '```\ndef f():\n    """docstring typo"""\n```\nparse("a,b") == ["a"]',
         [], True, "reproduce"),
        ("Spelling of an error message", "The message says 'recieved'. This is not a crash.", [], False,
         "'spelling'"),
        # Messages: what they say, not whether they are raised.
        ("The error message for a missing file is unclear", "", [], False,
         "a message's wording, not behaviour ('error message')"),
        ("Parsing an error message crashes", "", [], True, "reproduce"),  # behaviour wins
        # Configuration and tooling, from the title or a label.
        ("Add Python 3.13 to the pyproject classifiers", "", [], False,
         "about configuration, not behaviour ('pyproject', 'classifiers')"),
        ("Run ruff in the pre-commit hooks", "", [], False, "configuration, not behaviour ('pre-commit')"),
        ("CI workflow fails on Python 3.12", "", [], True, "reproduce"),  # "fails": behaviour
        ("Update the lock file", "", ["dependencies"], False, "labelled 'dependencies'"),
        ("Settings", "", ["config"], False, "labelled 'config'"),
        # Words that merely contain a config word are not read as one.
        ("Config loader ignores the home directory", "", [], True, "reproduce"),
    ],
)  # fmt: skip
def test_which_issues_are_reproduced(title, text, labels, reproduce, why):
    found = proof.testability(Task.from_issue_text(text or "x", title=title, labels=labels))
    assert found.reproduce is reproduce and why in found.reason


def test_an_issue_is_not_reproduced_when_the_test_writer_is_off():
    task = Task.from_issue_text("mul(2, 3) returns 5.", title="mul() adds")
    assert proof.testability(task, writer_enabled=False) == proof.Testability(
        False, "roles.test_writer.enabled is false"
    )


def test_a_task_with_named_tests_needs_no_reproduction():
    assert proof.testability(Task.from_tests(["tests/t.py::test_x"])).reproduce is False


def test_an_issues_targets_are_the_failing_tests_it_names():
    text = "Since 2.0 `tests/test_ops.py::test_add` fails, and tests/test_io.py::TestRead too."
    task = Task.from_issue_text(text, title="add broke")
    assert named_tests(text) == ["tests/test_ops.py::test_add", "tests/test_io.py::TestRead"]
    failing = {
        "tests/test_ops.py::test_add",
        "tests/test_io.py::TestRead::test_a[x]",
        "tests/test_legacy.py::test_old",  # fails at base, but the issue is not about it
    }
    targets = ["tests/test_io.py::TestRead::test_a[x]", "tests/test_ops.py::test_add"]
    assert proof.named_targets(task, failing) == targets


def test_explain_says_whether_an_issue_is_reproduced_or_judged_without_a_test(tmp_path, capsys):
    root = make_repo(tmp_path, {"calc.py": "def mul(a, b):\n    return a + b\n", "tests/test_calc.py": ""})
    assert main(["explain", "--repo", str(root), "--no-baseline", "--json",
                 "--issue-text", "mul() adds\n\nmul(2, 3) returns 5."]) == 0  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert report["reproduction"]["reproduce"] is True
    # Who writes it, as `fix` chooses (roles.test_writer: Sonnet by default), and who tries next.
    assert [w["model"] for w in report["reproduction"]["writer"]] == ["claude-sonnet-4-6", "claude-opus-4-6"]
    assert main(["explain", "--repo", str(root), "--no-baseline", "--issue-text", "Typo in a docstring"]) == 0
    out = capsys.readouterr().out
    assert "Proof: judged without a test (the title is about text, not behaviour ('typo', 'docstring'))" in (
        out
    )


def test_explain_names_the_test_writer_and_says_when_it_is_off(tmp_path, capsys):
    files = {"calc.py": "def mul(a, b):\n    return a + b\n", "tests/test_calc.py": ""}
    root = make_repo(tmp_path, {**files, ".escalate.yml": "roles:\n  test_writer:\n    tier: haiku\n"})
    issue = ["--issue-text", "mul() adds\n\nmul(2, 3) returns 5."]
    assert main(["explain", "--repo", str(root), "--no-baseline", *issue]) == 0
    out = capsys.readouterr().out
    assert "  test writer: haiku (claude-haiku-4-5" in out and "then sonnet (claude-sonnet-4-6)" in out
    (root / ".escalate.yml").write_text("roles:\n  test_writer:\n    enabled: false\n")
    assert main(["explain", "--repo", str(root), "--no-baseline", "--json", *issue]) == 0
    proof = json.loads(capsys.readouterr().out)["reproduction"]
    assert proof == {"reproduce": False, "reason": "roles.test_writer.enabled is false"}


def test_explain_without_a_baseline_says_named_tests_come_first(tmp_path, capsys):
    root = make_repo(tmp_path, {"calc.py": "def mul(a, b):\n    return a + b\n", "tests/test_calc.py": ""})
    text = "mul() adds\n\nSince 2.0 tests/test_calc.py::test_mul fails."
    assert main(["explain", "--repo", str(root), "--no-baseline", "--json", "--issue-text", text]) == 0
    reason = json.loads(capsys.readouterr().out)["reproduction"]["reason"]
    assert reason.startswith("the issue names tests/test_calc.py::test_mul: the targets if they fail at base")

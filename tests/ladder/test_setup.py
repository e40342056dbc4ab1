"""The targets fix and explain both read from the baseline: one function, decisions as data."""

from collections import Counter

from escalate.ladder.setup import choose_targets
from escalate.records.types import Decision
from escalate.task import Task
from escalate.validation.baseline import Baseline

NO_NAMED = Task("lint", "Fix 1 lint finding", "x")


def baseline(*failing: str) -> Baseline:
    return Baseline(set(failing), Counter(), {t: "AssertionError" for t in failing})


def reasons(decisions: list[Decision]) -> list[str]:
    return [d.reason for d in decisions]


def test_named_targets_that_pass_at_base_are_dropped_and_said_so():
    chosen = choose_targets(Task.from_tests(["t.py::a", "t.py::b"]), baseline("t.py::a", "t.py::other"))
    assert (chosen.tests, chosen.dropped, chosen.reproduces) == (["t.py::a"], ["t.py::b"], True)
    assert reasons(chosen.decisions()) == ["already passing at base, dropped: t.py::b"]
    assert choose_targets(Task.from_tests(["t.py::a"]), baseline("t.py::a")).decisions() == []


def test_every_named_target_passing_means_cannot_reproduce():
    chosen = choose_targets(Task.from_tests(["t.py::a"]), baseline("t.py::other"))
    assert not chosen.reproduces and chosen.tests == []
    why = "the target test(s) pass at the base commit: t.py::a"
    assert chosen.decisions() == [Decision("baseline", "cannot_reproduce", why)]


def test_without_named_targets_the_failing_tests_are_the_targets():
    chosen = choose_targets(NO_NAMED, baseline("t.py::z", "t.py::a"))
    assert (chosen.tests, chosen.reproduces) == (["t.py::a", "t.py::z"], True)
    assert reasons(chosen.decisions()) == ["tests failing at base become the targets: t.py::a, t.py::z"]
    nothing = choose_targets(NO_NAMED, baseline())
    assert nothing.reproduces and nothing.tests == []
    assert reasons(nothing.decisions()) == ["no test fails at base: the whole suite and ruff must pass"]


def test_an_issues_targets_are_the_failing_tests_it_names_the_rest_preexisting():
    issue = Task.from_issue_text("tests/t.py::test_b fails: add() subtracts", title="add subtracts")
    chosen = choose_targets(issue, baseline("tests/t.py::test_b", "tests/t.py::test_old"))
    assert (chosen.tests, chosen.preexisting) == (["tests/t.py::test_b"], ["tests/t.py::test_old"])
    assert [d.choice for d in chosen.decisions()] == ["failing at base", "targets"]
    unnamed = choose_targets(Task.from_issue_text("add() subtracts"), baseline("tests/t.py::test_old"))
    assert unnamed.tests == [] and unnamed.reproduces  # an issue naming no test: reproduce it first

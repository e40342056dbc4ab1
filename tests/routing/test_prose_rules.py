"""Issue 14 item 2: keyword rules read the prose only, honour negation, never hit identifiers."""

from __future__ import annotations

from escalate.config import RouterConfig
from escalate.routing.prose import prose, split
from escalate.routing.rules import Signals, classify, matched, prose_matches

CFG = RouterConfig()


def klass(text: str, kind: str = "issue", labels: tuple[str, ...] = ()):
    return classify(Signals(kind=kind, text=text, labels=labels), CFG)


def test_fenced_and_indented_code_is_not_read():
    text = "Serializer output is wrong.\n\n```python\nlock = threading.Lock()  # deadlock here?\n```\n"
    assert klass(text).complexity == "generative"
    indented = "The output is wrong:\n\n    # a race between the two writers\n    x.save()\n\nPlease fix."
    assert klass(indented).complexity == "generative"
    assert klass("The two writers race on the same row.").complexity == "reasoning"  # prose still counts


def test_traceback_paths_and_sessions_are_not_read():
    text = (
        "Calling wait() raises.\n\nTraceback (most recent call last):\n"
        '  File "/usr/lib/python3.11/concurrent/futures/_base.py", line 456, in result\n'
        "    raise RaceError('deadlock')\nRaceError: deadlock\n\n"
        ">>> pool.submit(f).result()  # flaky\nintermittent failure\n\nThat is all."
    )
    assert klass(text).complexity == "generative", klass(text).reasons
    assert "concurrent" not in prose(text) and "deadlock" not in prose(text)


def test_environment_dump_and_tracker_metadata_are_not_read():
    dump = (
        "to_json drops the index.\n\nINSTALLED VERSIONS\npython: 3.8.1\nOS: Linux\n"
        "architecture: Haswell\nnumpy: 1.18.1\n\nReported by: typonaut\n"
        "Component: Database layer (deadlock)\n"
        "Keywords: race\n"
    )
    assert klass(dump).complexity == "generative", klass(dump).reasons
    assert "Haswell" not in prose(dump) and "typonaut" not in prose(dump)


def test_inline_code_and_keyword_arguments_are_not_read():
    assert klass("Passing format='jd' returns NaN, see `fix_race()`.").complexity == "generative"


def test_negation_keeps_a_keyword_from_counting():
    negated = klass("Saving drops a field. This is not a race condition or a concurrency problem.")
    assert negated.complexity == "generative"
    assert any("only negated" in r and "race condition" in r for r in negated.reasons)
    assert klass("It is not slow, but there is a deadlock in shutdown.").complexity == "reasoning"
    assert klass("Save() is not thread-safe.").complexity == "reasoning"  # "not thread-safe" asserts it
    parts = split("No injection is possible here; the CVE is real.")
    assert "injection" in parts.negated and "CVE" in parts.affirmed


def test_no_wildcard_runs_into_an_identifier():
    assert matched(["renam*"], "RenameModel and AlterField") == []
    assert matched(["renam*"], "we renamed the field") == ["renamed"]
    asserted, _ = prose_matches(["deadlock"], "see DeadlockDetector and deadlock_guard()")
    assert asserted == []


def test_mechanical_comes_only_from_kind_or_label():
    words = klass("Fix the typo and reformat the docstring; rename the unused import.")
    assert words.complexity == "generative"
    assert klass("E501 line too long", kind="lint").complexity == "mechanical"
    assert klass("anything", kind="warning").complexity == "mechanical"
    assert klass("Fix the README", labels=("typo",)).complexity == "mechanical"


def test_high_error_cost_only_from_labels_or_explicit_security_terms():
    for text in ("The password reset email has a typo.", "Authentication fails in production."):
        assert klass(text).error_cost == "low", text
    for text in ("CVE-2024-1234: SQL injection in search.", "A privilege escalation via the admin.",
                 "Unsafe pickle load is a remote code execution vulnerability."):  # fmt: skip
        assert klass(text).error_cost == "high", text
    assert klass("Checkout rounds wrong", labels=("security",)).error_cost == "high"
    assert klass("This is not a security vulnerability.").error_cost == "low"

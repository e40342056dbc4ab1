"""Classification from pre-call signals, and the class -> start tier, thinking and effort mapping."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field

import pytest

from escalate.config import Config, RouterConfig
from escalate.routing.rules import (
    Classification,
    Signals,
    classify,
    find_tier,
    gather_signals,
    matched,
    settings_for,
    start_for,
    tier_line,
)
from escalate.task import Task

SITE = "/usr/lib/python3.11/site-packages/sqlalchemy/engine/base.py"
THREADING = "/usr/lib/python3.11/threading.py"


@dataclass
class Case:
    id: str
    kind: str
    title: str
    text: str = ""
    labels: list[str] = field(default_factory=list)
    frames: list = field(default_factory=list)
    covered: bool | None = None
    context_tokens: int | None = None
    # complexity, error cost, start tier, thinking
    expect: tuple[str, str, str, bool] = ("generative", "low", "haiku", True)


CASES = [
    Case(
        "typo-readme", "issue", "Typo in README: 'recieve' should be 'receive'",
        "The install section says recieve twice.", labels=["docs"],
        expect=("mechanical", "low", "haiku", False),
    ),
    Case(
        "lint-e501", "lint", "E501 Line too long (131 > 110)",
        "shop/models.py:42:111: E501 Line too long (131 > 110)",
        expect=("mechanical", "low", "haiku", False),
    ),
    Case(
        "lint-f401", "lint", "F401 `os` imported but unused",
        "shop/cli.py:3:8: F401 [*] `os` imported but unused",
        expect=("mechanical", "low", "haiku", False),
    ),
    Case(
        "rename-across-files", "issue", "Rename get_usr() to get_user() everywhere",
        "get_usr is used in api/views.py, api/auth.py and cli.py; the old name reads like a typo.",
        expect=("generative", "low", "haiku", True),  # words never make a task mechanical
    ),
    Case(
        "deprecation-warning", "warning", "DeprecationWarning: datetime.datetime.utcnow() is deprecated",
        "shop/clock.py:12: DeprecationWarning: datetime.datetime.utcnow() is deprecated",
        expect=("mechanical", "low", "haiku", False),
    ),
    Case(
        "import-error", "test", "tests/test_dates.py::test_parse",
        "ImportError: cannot import name 'parse_date' from 'app.dates' (app/dates.py)",
        frames=[("tests/test_dates.py", 3)],
        expect=("generative", "low", "haiku", True),
    ),
    Case(
        "off-by-one", "test", "tests/test_pager.py::test_last_page",
        "    assert pages(95, per_page=10) == 10\nE   assert 9 == 10",
        frames=[("tests/test_pager.py", 14), ("pager/core.py", 7)],
        expect=("generative", "low", "haiku", True),
    ),
    Case(
        "two-module-discount", "test", "tests/test_cart.py::test_discount_applies_once",
        "E   assert Decimal('81.00') == Decimal('90.00')",
        frames=[("tests/test_cart.py", 30), ("shop/cart.py", 51), ("shop/discount.py", 19)],
        expect=("generative", "low", "haiku", True),
    ),
    Case(
        "feature-format-date", "issue", "Support ISO week numbers in format_date()",
        "format_date(d, '%V') should give the ISO week.",
        expect=("generative", "low", "haiku", True),
    ),
    Case(
        "race-threading", "test", "tests/test_counter.py::test_parallel_increments",
        "E   assert 9987 == 10000\nLost updates when 8 threads call Counter.incr(): a race on self.value?",
        frames=[("tests/test_counter.py", 22), ("metrics/counter.py", 15), (THREADING, 9)],
        expect=("reasoning", "low", "sonnet", True),
    ),
    Case(
        "deadlock-report", "issue", "Worker pool hangs forever when a job raises",
        "py-spy shows two threads waiting on each other's lock: a deadlock in Pool.shutdown().",
        labels=["bug"], expect=("reasoning", "low", "sonnet", True),
    ),
    Case(
        "flaky-scheduler", "test", "tests/test_scheduler.py::test_fires_once",
        "Flaky on CI: fails intermittently with 'fired 2 times'.",
        frames=[("tests/test_scheduler.py", 40), ("jobs/scheduler.py", 88)],
        expect=("reasoning", "low", "sonnet", True),
    ),
    Case(
        "five-module-traceback", "test", "tests/test_api.py::test_create_order",
        "E   sqlalchemy.exc.IntegrityError: NOT NULL constraint failed: orders.customer_id",
        frames=[
            ("tests/test_api.py", 12), ("app/api/routes.py", 40), ("app/services/orders.py", 77),
            ("app/services/pricing.py", 31), ("app/db/session.py", 18), ("app/db/models.py", 102),
            (SITE, 1964),
        ],
        expect=("reasoning", "low", "sonnet", True),
    ),
    Case(
        "migration", "issue", "Migrate settings loading from configparser to pydantic-settings",
        "Every module reads settings.ini directly today.",
        expect=("generative", "low", "haiku", True),  # "migrat*" sent small Django migrations to sonnet
    ),
    Case(
        "concurrency-label", "issue", "Cache returns stale entries", "Seen under load.",
        labels=["concurrency"], expect=("reasoning", "low", "sonnet", True),
    ),
    Case(
        "typo-causing-deadlock", "issue", "Fix typo in lock name that causes a deadlock",
        "We acquire 'orders_lock' and 'order_lock' in opposite order.",
        expect=("reasoning", "low", "sonnet", True),
    ),
    Case(
        "security-label", "issue", "Reset links never expire", "A link from last year still works.",
        labels=["security"], expect=("generative", "high", "sonnet", True),
    ),
    Case(
        "production-label", "issue", "Checkout total rounds wrong for JPY", "Totals show 2 decimals for yen.",
        labels=["production"], expect=("generative", "high", "sonnet", True),
    ),
    Case(
        "sql-injection-text", "issue", "SQL injection in /search via the q parameter",
        "q is formatted straight into the query string.",
        expect=("generative", "high", "sonnet", True),
    ),
    Case(
        "no-tests-cover", "issue", "Add a --verbose flag to the export command",
        "export.py has no tests.", covered=False,
        expect=("generative", "high", "sonnet", True),
    ),
    Case(
        "typo-in-password-mail", "issue", "Fix typo in the password reset email", "'pasword' in the subject.",
        expect=("generative", "low", "haiku", True),  # "password" is no security risk
    ),
    Case(
        "migration-production", "issue", "Database migration drops the orders.email index",
        "Lookups by email time out since release 4.2.", labels=["production"],
        expect=("generative", "high", "sonnet", True),
    ),
    Case(
        "architecture-security", "issue", "Split the monolithic auth module",
        "Session handling and password hashing live in one 2,000-line file.",
        labels=["architecture", "security"], expect=("reasoning", "high", "opus", True),
    ),
    Case(
        "huge-context", "issue", "Update every call site of the old logging API",
        "See the attached 400 call sites.", context_tokens=350_000,
        expect=("reasoning", "low", "opus", True),
    ),
]  # fmt: skip


def task_of(case: Case) -> Task:
    return Task(
        kind=case.kind,
        title=case.title,
        text=case.text,
        target_tests=[case.title] if case.kind == "test" else [],
        labels=case.labels,
        source="cli",
        slug=case.id,
    )


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_classification_table(case):
    cfg = Config()
    signals = gather_signals(
        task_of(case), frames=case.frames, context_tokens=case.context_tokens, covered=case.covered
    )
    klass = classify(signals, cfg.router)
    start = start_for(klass, cfg.tiers, cfg.router)
    complexity, error_cost, tier, thinking = case.expect
    assert (klass.complexity, klass.error_cost, start.name, start.thinking) == case.expect, klass.reasons
    assert start.index == [t.name for t in cfg.tiers].index(tier)
    assert klass.reasons and all(isinstance(r, str) and "->" in r for r in klass.reasons)
    assert start.reason.startswith(f"{complexity}/{error_cost}: ")
    # Effort only for the opus line; the router drops what a model does not accept.
    assert start.effort == ("high" if tier == "opus" else None)


def test_reasons_quote_the_signals():
    cfg = RouterConfig()
    signals = Signals(
        kind="issue",
        labels=("security", "concurrency"),
        text="Token cache has a race; see the traceback",
        covered=False,
        context_tokens=1200,
    )
    reasons = classify(signals, cfg).reasons
    assert "label 'concurrency' -> reasoning-intensive" in reasons
    assert "the task's prose mentions 'race' -> reasoning-intensive" in reasons
    assert "label 'security' -> high error cost" in reasons
    assert "no tests cover the code involved -> high error cost" in reasons
    five = Signals(kind="test", files=("a/x.py", "a/y.py", "b/z.py"), covered=True)
    assert classify(five, cfg).reasons[0] == (
        "the failing tests' tracebacks touch 3 modules in 2 package(s) ('a/x.py', 'a/y.py', 'b/z.py') "
        "-> multi-file, reasoning-intensive"
    )
    lint = classify(Signals(kind="lint", lint_codes=("E501",)), cfg)
    assert lint.reasons[0] == "a lint finding (E501) -> mechanical"
    assert lint.label == "mechanical/low"


def test_keywords_match_whole_words_only():
    words = RouterConfig().reasoning_keywords
    assert matched(words, "Traceback (most recent call last): braces embraced") == []
    found = matched(words, "A race condition; races everywhere. Deadlocked!")
    assert found == ["race condition", "races", "deadlocked"]
    assert matched(["thread-safe*"], "make it thread safe") == ["thread safe"]
    assert matched(["import"], "an important fix") == []


def test_gather_signals_keeps_repository_source_frames(tmp_path):
    task = Task(
        kind="test",
        title="tests/test_api.py::test_create",
        text="E   KeyError: 'id'",
        target_tests=["tests/test_api.py::test_create", "tests/test_api.py::test_update"],
        labels=["Bug", "bug", " Production "],
        source="cli",
        slug="test-api-create",
    )
    frames = [
        str(tmp_path / "tests" / "test_api.py"),
        (str(tmp_path / "app" / "api.py"), 10),
        ("app/api.py", 12),
        (SITE, 1),
        ("/elsewhere/project/app/x.py", 3),
        ("<frozen importlib._bootstrap>", 241),
        ("conftest.py", 5),
        ("app/store.py", 40),
    ]
    signals = gather_signals(task, frames=frames, root=tmp_path)
    assert signals.files == ("app/api.py", "app/store.py")
    assert signals.packages == ("app",)
    assert signals.labels == ("bug", "production")
    assert (signals.target_tests, signals.covered, signals.kind) == (2, True, "test")
    assert signals.to_json()["files"] == ["app/api.py", "app/store.py"]


def test_tiers_are_found_by_line_not_position():
    four = Config(
        tiers=[
            {"name": "cheap", "line": "haiku"},
            {"name": "mid", "model": "claude-sonnet-4-6"},
            {"name": "opus-medium", "line": "opus", "effort": "medium"},
            {"name": "opus-max", "line": "opus", "effort": "max"},
        ]
    ).tiers
    assert [tier_line(t) for t in four] == ["haiku", "sonnet", "opus", "opus"]
    assert [find_tier(four, x) for x in ("haiku", "sonnet", "opus")] == [0, 1, 2]
    two = Config(tiers=[{"name": "sonnet", "line": "sonnet"}, {"name": "opus", "line": "opus"}]).tiers
    assert [find_tier(two, x) for x in ("haiku", "sonnet", "opus")] == [0, 0, 1]
    only_haiku = ["haiku"]
    assert find_tier(only_haiku, "opus") == 0
    unnamed = ["small", "medium", "large"]
    assert [find_tier(unnamed, x) for x in ("haiku", "sonnet", "opus")] == [0, 1, 2]

    cfg = RouterConfig()
    reasoning_high = Classification("reasoning", "high", signals=Signals(kind="issue"))
    start = start_for(reasoning_high, four, cfg)
    # The configured effort of the tier wins over the router's default.
    assert (start.name, start.effort) == ("opus-medium", "medium")
    generative_high = Classification("generative", "high", signals=Signals(kind="issue"))
    assert start_for(generative_high, two, cfg).name == "opus"  # haiku -> sonnet (first tier), up one
    assert "up one tier to opus" in start_for(generative_high, two, cfg).reason


def test_effort_and_thinking_per_tier():
    cfg = RouterConfig()
    opus = Config().tiers[2]
    routine = settings_for(Classification("generative", "low"), opus, cfg)
    assert (routine.thinking, routine.effort) == (True, "medium")
    assert "router.routine_effort (medium)" in routine.reason
    hard = settings_for(Classification("mechanical", "high"), opus, cfg)
    assert (hard.thinking, hard.effort) == (False, "high")
    maxed = settings_for(Classification("reasoning", "low"), opus, RouterConfig(hard_effort="max"))
    assert maxed.effort == "max"
    haiku = Config().tiers[0]
    assert settings_for(Classification("generative", "low"), haiku, cfg).effort is None
    budgeted = Config(tiers=[{"name": "haiku", "line": "haiku", "thinking_budget": 2048}]).tiers[0]
    assert settings_for(Classification("mechanical", "low"), budgeted, cfg).thinking is True


def test_real_pytest_traceback_through_five_modules_is_reasoning(tmp_path):
    """A real failing pytest run whose error crosses five modules of the project."""
    from escalate.task import traceback_frames

    files = {
        "app/__init__.py": "",
        "app/api.py": "from app import orders\n\n\ndef create(data):\n    return orders.place(data)\n",
        "app/orders.py": "from app import pricing\n\n\ndef place(d):\n    return pricing.total(d['items'])\n",
        "app/pricing.py": "from app import tax\n\n\ndef total(items):\n    return tax.apply(sum(items))\n",
        "app/tax.py": "from app import rates\n\n\ndef apply(amount):\n    return amount * rates.rate('EU')\n",
        "app/rates.py": "RATES = {'US': 1.07}\n\n\ndef rate(region):\n    return RATES[region]\n",
    }
    files["tests/test_api.py"] = (
        "from app.api import create\n\n\ndef test_create():\n    assert create({'items': [1]})\n"
    )
    for rel, body in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(body)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path), "tests"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(tmp_path), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
    )
    assert proc.returncode == 1, proc.stdout
    task = Task.from_tests(["tests/test_api.py::test_create"])
    frames = traceback_frames(proc.stdout, tmp_path)
    signals = gather_signals(task, frames=frames, root=tmp_path)
    assert signals.files == ("app/api.py", "app/orders.py", "app/pricing.py", "app/tax.py", "app/rates.py")
    klass = classify(signals, RouterConfig())
    assert klass.label == "reasoning/low"
    assert "touch 5 modules in 1 package(s)" in klass.reasons[0]

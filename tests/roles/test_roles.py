"""Roles without a run: settings per role, parsing the explorer/reviewer/commit writer, presets."""

from decimal import Decimal

import pytest
from samplerepo import tool

from escalate.agent.editor import Editor
from escalate.config import Config
from escalate.errors import ConfigError, EscalateError
from escalate.ladder.presets import apply_preset
from escalate.llm.catalog import Catalog
from escalate.llm.client import MeteredClient
from escalate.llm.pricing import Budget, PriceTable
from escalate.records.types import TierPlan
from escalate.roles.crew import Crew, ReadOnlyEditor
from escalate.roles.plan import (
    Brief,
    Finding,
    check_commit_message,
    compose_commit_message,
    parse_findings,
    plan_role,
    role_config,
)
from escalate.roles.review import parse_review, rejection
from escalate.routing.route import Route
from escalate.task import Task


def make_task(labels=(), text="add() subtracts") -> Task:
    return Task(
        kind="issue",
        title="add is wrong",
        text=text,
        target_tests=[],
        labels=list(labels),
        source="t",
        slug="a",
    )


def test_defaults_follow_the_routing_report():
    config, catalog = Config(), Catalog.static()
    plans = {}
    for role in ("explorer", "planner", "reviewer", "committer"):
        rc, key = role_config(config, role)
        plans[role] = plan_role(role, rc, key, config, catalog)[0]
    assert plans["explorer"].model.id == "claude-haiku-4-5" and plans["explorer"].max_turns == 6
    assert (plans["planner"].model.id, plans["planner"].effort) == ("claude-opus-4-6", "medium")
    assert plans["reviewer"].model.id == "claude-haiku-4-5"
    assert plans["reviewer"].thinking == {"type": "enabled", "budget_tokens": 4096}
    assert plans["committer"].model.id == "claude-haiku-4-5" and plans["committer"].thinking is None
    # A security label calls the security reviewer: Opus at high effort.
    rc, key = role_config(config, "reviewer", ["Security"])
    plan = plan_role("reviewer", rc, key, config, catalog)[0]
    assert key == "roles.reviewer.security"
    assert (plan.model.id, plan.effort, plan.thinking) == ("claude-opus-4-6", "high", None)


def test_role_settings_follow_capabilities_tiers_and_lines():
    catalog = Catalog.static()
    config = Config.model_validate(
        {
            "tiers": [
                {"name": "cheap", "model": "claude-haiku-4-5"},
                {"name": "strong", "model": "claude-sonnet-4-6"},
            ],
            "roles": {"planner": {"effort": "max"}, "committer": {"tier": "strong", "effort": "low"}},
        }
    )
    # "opus" is no tier name: the line resolves to the strongest tier there is.
    planner, notes = plan_role("planner", *role_config(config, "planner"), config, catalog)
    assert (planner.name, planner.model.id, planner.effort) == ("strong", "claude-sonnet-4-6", "max")
    committer = plan_role("committer", *role_config(config, "committer"), config, catalog)[0]
    assert committer.name == "strong" and committer.effort == "low"
    # Haiku 4.5 takes no effort: the setting is dropped with a note, never sent.
    explorer, notes = plan_role(
        "explorer", Config.model_validate({"roles": {"explorer": {"effort": "high"}}}).roles.explorer,
        "roles.explorer", config, catalog,
    )  # fmt: skip
    assert explorer.effort is None and "takes no effort" in notes[0]
    # A model id overrides the tier; an unknown one names the key to fix.
    custom = Config.model_validate({"roles": {"reviewer": {"model": "claude-opus-4-6"}}})
    assert (
        plan_role("reviewer", *role_config(custom, "reviewer"), custom, catalog)[0].model.id
        == "claude-opus-4-6"
    )
    wrong = Config.model_validate({"roles": {"reviewer": {"model": "claude-nope-1"}}})
    with pytest.raises(EscalateError, match=r"roles\.reviewer\.model"):
        plan_role("reviewer", *role_config(wrong, "reviewer"), wrong, catalog)


def test_config_rejects_a_role_tier_that_is_neither_a_tier_nor_a_line():
    with pytest.raises(ValueError, match="a model line"):
        Config.model_validate({"roles": {"reviewer": {"security": {"tier": "opsu"}}}})
    # A role turned off is not checked; a partial override keeps the role's other defaults.
    config = Config.model_validate({"roles": {"explorer": {"enabled": False, "tier": "opsu"}, "planner": {}}})
    assert config.roles.planner.tier == "opus" and config.roles.planner.effort == "medium"


def test_config_file_error_names_the_role_key(tmp_path):
    from escalate.config import load_config

    (tmp_path / ".escalate.yml").write_text("roles:\n  committer:\n    tier: sonet\n")
    with pytest.raises(ConfigError, match="committer"):
        load_config(tmp_path)


def test_explorer_findings_are_parsed_leniently_and_missing_files_dropped(tmp_path):
    (tmp_path / "calc").mkdir()
    (tmp_path / "calc/ops.py").write_text("def add(a, b):\n    return a - b\n")
    (tmp_path / "README.md").write_text("hi\n")
    text = (
        "I looked at the code.\n```json\n["
        '{"path": "calc/ops.py", "symbols": ["add"], "why": "add subtracts"},'
        '{"path": "calc/ghost.py", "why": "invented"},'
        f'{{"file": "{tmp_path}/README.md:3"}},'
        '{"path": "../outside.py"},'
        '{"path": "./calc/ops.py"}'
        "]\n```\nThat is all."
    )
    findings, dropped = parse_findings(text, tmp_path)
    assert [(f.path, f.symbols, f.why) for f in findings] == [
        ("calc/ops.py", ["add"], "add subtracts"),
        ("README.md", [], ""),
    ]
    assert dropped == ["calc/ghost.py", "../outside.py"]
    # No fence, a list of plain strings at the end.
    assert parse_findings('Files: ["calc/ops.py"]', tmp_path)[0] == [Finding("calc/ops.py")]
    # Prose only, or broken JSON: nothing, and nothing crashes.
    assert parse_findings("I have no further changes to make.", tmp_path) == ([], [])
    assert parse_findings('```json\n[{"path": "calc/ops.py",\n```', tmp_path) == ([], [])


def test_brief_text_lists_files_and_plan():
    brief = Brief(
        [Finding("calc/ops.py", ["add"], "add subtracts")], "Return a + b.", "opus, claude-opus-4-6"
    )
    text = brief.text()
    assert (
        "- calc/ops.py (add): add subtracts" in text and "Return a + b." in text and "claude-opus-4-6" in text
    )
    assert Brief().text() is None


@pytest.mark.parametrize(
    ("answer", "kind", "findings", "rejects"),
    [
        ("APPROVE", "approve", [], False),
        ("**APPROVE**\n- naming could be clearer", "approve", ["naming could be clearer"], False),
        (
            "REJECT\n- calc/ops.py: fixes the symptom\n- tests edited",
            "reject",
            ["calc/ops.py: fixes the symptom", "tests edited"],
            True,
        ),  # fmt: skip
        ("REJECT: the cache key ignores currency", "reject", ["the cache key ignores currency"], True),
        ("REJECT", "reject", [], False),
        ("I have no further changes to make.", "unclear", [], False),
        ("", "unclear", [], False),
    ],
)
def test_review_verdicts(answer, kind, findings, rejects):
    verdict = parse_review(answer)
    assert (verdict.kind, verdict.findings, verdict.rejects) == (kind, findings, rejects)
    if kind == "unclear" or (kind == "reject" and not findings):
        assert verdict.note


def test_a_rejection_carries_the_findings_as_feedback():
    failed = rejection(parse_review("REJECT\n- calc/ops.py: wrong for negatives"), "haiku, claude-haiku-4-5")
    assert (failed.passed, failed.stage) == (False, "review")
    assert "wrong for negatives" in failed.feedback and "wrong for negatives" in failed.reason
    assert failed.signature.startswith("review:")
    assert failed.signature != rejection(parse_review("REJECT\n- other"), "x").signature


def test_commit_messages_are_checked_and_composed():
    assert check_commit_message("fix: add adds\n\nadd() returned a - b.") == (
        "fix: add adds",
        "add() returned a - b.",
    )
    assert check_commit_message("```\nfix(calc): add adds\n```") == ("fix(calc): add adds", "")
    for bad in ("", "   ", "I have no further changes to make.", "fix: " + "x" * 70, "# fix: heading",
                "fix: ok\n\n```diff\n-a\n```"):  # fmt: skip
        assert check_commit_message(bad) is None, bad
    fallback = (
        "fix: make tests pass\n\nMakes these failing tests pass:\n  tests/test_ops.py::test_add\n\n"
        "Changed add. DONE\n\nEscalated-by: escalate (haiku/claude-haiku-4-5)\n"
    )
    message = compose_commit_message(
        "fix: add adds", "add() returned a - b.", fallback, "haiku/claude-haiku-4-5"
    )
    assert message == (
        "fix: add adds\n\nMakes these failing tests pass:\n  tests/test_ops.py::test_add\n\n"
        "add() returned a - b.\n\nEscalated-by: escalate (haiku/claude-haiku-4-5)\n"
        "Commit-message-by: haiku/claude-haiku-4-5\n"
    )


def test_read_only_editor_refuses_edits(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    editor = ReadOnlyEditor(Editor(tmp_path, []))
    assert (
        "x = 1" in editor.handle("str_replace_based_edit_tool", {"command": "view", "path": "a.py"}).content
    )
    for command in ("str_replace", "create", "insert", "undo_edit"):
        result = editor.handle(
            "str_replace_based_edit_tool",
            {
                "command": command,
                "path": "a.py",
                "old_str": "x = 1",
                "new_str": "x = 2",
                "file_text": "y",
                "insert_line": 0,
            },  # fmt: skip
        )
        assert result.is_error and "read-only" in result.content
    assert (tmp_path / "a.py").read_text() == "x = 1\n"
    assert not editor.handle("search_repo", {"pattern": "x = "}).is_error


def _route(names=("haiku", "sonnet", "opus"), start=0) -> Route:
    catalog = Catalog.static()
    ids = {"haiku": "claude-haiku-4-5", "sonnet": "claude-sonnet-4-6", "opus": "claude-opus-4-6"}
    tiers = [TierPlan(n, catalog.get(ids[n]), 2, 8192, None, None) for n in names]
    return Route(start, tiers)


def test_presets_reshape_the_ladder():
    route = _route()
    assert [d.choice for d in apply_preset(route, Config())] == ["ladder"]
    assert route.start == 0 and len(route.tiers) == 3
    plan_execute = Config.model_validate({"roles": {"preset": "plan-execute"}})
    route = _route()
    decisions = apply_preset(route, plan_execute)
    assert route.start == 1 and "sonnet" in decisions[0].choice
    route = _route(("haiku", "opus"))
    apply_preset(route, plan_execute)
    assert route.start == 0  # two tiers: the cheaper one implements, the planner uses the top
    pinned = Config.model_validate({"roles": {"preset": "plan-execute"}, "start_tier": "opus"})
    route = _route(start=2)
    apply_preset(route, pinned)
    assert route.start == 2  # an explicit start tier wins
    single = Config.model_validate({"roles": {"preset": "single"}})
    route = _route(start=1)
    decisions = apply_preset(route, single)
    assert [t.name for t in route.tiers] == ["sonnet"] and route.start == 0
    assert "haiku, opus" in decisions[0].reason


def test_role_calls_are_checked_against_the_budget_before_sending(sim):
    """No money left: the commit writer's call is never sent, and the runner's message stands."""
    catalog, prices = Catalog.static(), PriceTable.load()
    records, decisions = [], []
    llm = MeteredClient(catalog, prices, Budget(Decimal("0.0001")), records.append, provider=sim.provider())
    crew = Crew.assemble(
        make_task(),
        Config.model_validate({"roles": {"explorer": {"enabled": False}}}),
        catalog,
        llm,
        decide=lambda *d: decisions.append(d),
    )
    assert set(crew.plans) == {"reviewer", "committer"}  # an issue with no reasoning signal: no planner
    assert crew.commit_message("diff", "fix: fallback\n") == "fix: fallback\n"
    assert crew.review("diff", [], "") is None
    assert not sim.messages_requests() and not records
    said = [d for d in decisions if d[0] == "role" and "no answer" in d[1]]
    assert [d[1] for d in said] == ["committer: no answer", "reviewer: no answer"]
    assert all("BudgetExceeded" in d[2] for d in said)


def test_single_preset_assembles_no_roles(sim):
    decisions = []
    crew = Crew.assemble(
        make_task(),
        Config.model_validate({"roles": {"preset": "single"}}),
        Catalog.static(),
        MeteredClient(
            Catalog.static(), PriceTable.load(), Budget(Decimal(1)), lambda r: None, provider=sim.provider()
        ),
        decide=lambda *d: decisions.append(d),
    )
    assert crew.plans == {} and decisions == [
        ("roles", "none", "preset single: one model, no roles (a baseline)")
    ]
    assert crew.commit_message("diff", "fix: x\n") == "fix: x\n" and crew.review("d", [], "") is None


def test_describe_says_which_roles_run_on_which_models_for_the_route():
    from escalate.roles.plan import describe
    from escalate.routing.rules import classify, gather_signals

    config, catalog = Config(), Catalog.static()
    race = make_task(labels=["security"], text="a race condition corrupts the session store")
    route = _route()
    route.classification = classify(gather_signals(race), config.router)
    assert route.classification.complexity == "reasoning"
    said = {d.choice.split(":")[0]: d for d in describe(config, catalog, route)}
    assert said["explorer"].choice == "explorer: haiku (claude-haiku-4-5)"
    assert said["planner"].choice == "planner: opus (claude-opus-4-6, effort medium)"
    assert "reasoning" in said["planner"].reason
    assert said["reviewer"].choice == "reviewer: opus (claude-opus-4-6, effort high)"
    assert "security" in said["reviewer"].reason
    assert said["committer"].choice == "committer: haiku (claude-haiku-4-5)"
    assert said["implementer"].reason == "the only role that edits"
    # A plain fix with a traceback naming its module: no planner, no explorer.
    plain = classify(gather_signals(make_task(), frames=[("calc/ops.py", 2)]), config.router)
    route.classification = plain
    said = {d.choice: d for d in describe(config, catalog, route)}
    assert "planner: skipped" in said and "explorer: skipped" in said
    assert "reviewer: haiku (claude-haiku-4-5, thinking 4096)" in said
    off = Config.model_validate({"roles": {"committer": {"enabled": False}, "preset": "single"}})
    assert [d.choice for d in describe(off, catalog, route)][0] == "none"


def test_explorer_out_of_turns_gets_one_last_turn_and_the_planner_reads_its_files(sim, tmp_path):
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop/cart.py").write_text("def total(items):\n    return sum(items) - 1\n")
    view = tool("view", path="shop")
    listing = '```json\n[{"path": "shop/cart.py", "symbols": ["total"], "why": "off by one"}]\n```'
    explorer = [
        {"when": {"system_contains": "explorer", "last_user_contains": "out of turns"}, "content": listing},
        {"when": {"system_contains": "explorer"}, "content": [view], "repeat": True},
    ]
    planner = [{"when": {"system_contains": "planner"}, "content": "Drop the - 1 in total()."}]
    sim.set_script({"models": {"claude-haiku-4-5": explorer, "claude-opus-4-6": planner}})
    records, decisions = [], []
    catalog = Catalog.static()
    prices = PriceTable.load()
    llm = MeteredClient(catalog, prices, Budget(Decimal(1)), records.append, provider=sim.provider())
    config = Config.model_validate({"roles": {"preset": "plan-execute", "explorer": {"max_turns": 2}}})
    task = make_task(text="the cart total is one less than the sum")
    crew = Crew.assemble(task, config, catalog, llm, decide=lambda *d: decisions.append(d), root=tmp_path)
    brief = crew.brief(tmp_path, {}, [], tmp_path / "cache")
    assert brief.paths == ["shop/cart.py"] and brief.plan == "Drop the - 1 in total()."
    assert [r.role for r in records] == ["explorer"] * 3 + ["planner"]
    planner_request = sim.messages_requests()[-1]["body"]
    assert "return sum(items) - 1" in str(planner_request["messages"])  # the explorer's file, shown whole
    assert "off by one" in brief.text() and "claude-opus-4-6" in brief.text()
    assert not (tmp_path / ".escalate").exists() and list((tmp_path / "cache").iterdir())  # map cache

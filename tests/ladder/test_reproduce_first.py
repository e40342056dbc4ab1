"""Issues without a failing test, end to end through the simulated API: a test that reproduces the
issue first (fail at base, for the issue's reason), then the fix judged against it; documentation
issues judged without a test, and said so."""

import json

import pytest
from samplerepo import ROLES_OFF, edit, git, make_repo, tool

from escalate.cli.main import main

pytestmark = pytest.mark.slow

WRITER = "You write a test that reproduces a reported problem"
IMPLEMENTER = "You are a careful software engineer"
FILES = {
    "pyproject.toml": '[tool.pytest.ini_options]\ntestpaths = ["tests"]\npythonpath = ["."]\n',
    ".gitignore": "__pycache__/\n",
    "calc/__init__.py": "",
    "calc/ops.py": (
        'def add(a, b):\n    """Add a and b."""\n    return a + b\n\n\n'
        'def mul(a, b):\n    """Multiply a and b."""\n    return a + b\n'
    ),
    "tests/test_ops.py": (
        "from calc.ops import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\n"
        "def test_legacy_feature():\n    assert False, 'broken for years, unrelated'\n"
    ),
}
ISSUE = "mul() adds instead of multiplying\n\nmul(2, 3) returns 5; it should return 6."
GOOD_TEST = "from calc.ops import mul\n\n\ndef test_mul_multiplies():\n    assert mul(2, 3) == 6\n"
PASSING_TEST = "from calc.ops import mul\n\n\ndef test_mul_by_zero():\n    assert mul(2, 0) == 2\n"
IMPORT_ERROR_TEST = (
    "from calc.ops import multiply\n\n\ndef test_mul_multiplies():\n    assert multiply(2, 3) == 6\n"
)
NAME_ERROR_TEST = "def test_mul_multiplies():\n    assert mul(2, 3) == 6\n"
SYNTAX_ERROR_TEST = "from calc.ops import mul\n\n\ndef test_mul_multiplies(:\n    assert mul(2, 3) == 6\n"


def turns(system: str, call: dict | list[dict], done: str = "DONE") -> list[dict]:
    """One attempt of the role whose system prompt holds ``system``: the tool call(s), then done."""
    calls = call if isinstance(call, list) else [call]
    return [
        {"when": {"system_contains": system, "last_user_has_tool_result": False}, "content": calls},
        {"when": {"system_contains": system, "last_user_has_tool_result": True}, "content": done},
    ]


def writer(source: str, *, name: str = "tests/test_mul.py") -> list[dict]:
    """The test writer creates the test file, then says it is done."""
    return turns(WRITER, tool("create", path=name, file_text=source), "test_mul DONE")


def implementer(new: str) -> list[dict]:
    """The implementer makes mul() return ``new``."""
    old = '"""Multiply a and b."""\n    return '
    return turns(IMPLEMENTER, edit(old + "a + b", old + new))


def config(test_writer_tier: str = "sonnet", **writer) -> str:
    return json.dumps(
        {
            "validate": {"timeout_s": 60},
            "roles": {**ROLES_OFF, "test_writer": {"tier": test_writer_tier, **writer}},
        }
    )


def run(capsys, root, *args: str) -> tuple[int, dict, str]:
    code = main(["fix", "--repo", str(root), "--json", *args])
    out, err = capsys.readouterr()
    [line] = out.splitlines()
    return code, json.loads(line), err


def requests_of(sim, system: str) -> list[dict]:
    return [r for r in sim.messages_requests() if system in json.dumps(r["body"].get("system"))]


def repo(tmp_path, tier: str = "sonnet", **writer):
    return make_repo(tmp_path, {**FILES, ".escalate.yml": config(tier, **writer)})


def test_an_unrelated_failing_test_is_no_target_and_the_fix_is_judged_on_the_reproduction(
    tmp_path, env, capsys
):
    env.set_script({"models": {"*": writer(GOOD_TEST) + implementer("a * b")}})
    root = repo(tmp_path)
    code, result, err = run(capsys, root, "--issue-text", ISSUE)
    assert code == 0, err
    assert result["outcome"] == "fixed"
    repro = result["reproduction"]
    assert repro["tests"] == ["tests/test_mul.py::test_mul_multiplies"]
    assert repro["files"] == ["tests/test_mul.py"]
    assert repro["tier"] == "sonnet"
    decisions = {(d["kind"], d["choice"]): d["reason"] for d in result["decisions"]}
    assert "tests/test_ops.py::test_legacy_feature" in decisions[("baseline", "failing at base")]
    assert ("reproduce", "test first") in decisions
    # The routing report puts test writing on Sonnet: the role's default.
    assert (
        "role",
        "test_writer: sonnet (claude-sonnet-4-6, adaptive thinking, max_tokens 8192)",
    ) in decisions
    assert "must pass: tests/test_mul.py::test_mul_multiplies" in decisions[("baseline", "targets")]
    # Two commits on the branch: the reproduction, then the fix, each holding only its own files.
    branch = result["branch"]
    log = git(root, "log", "--format=%s", f"main..{branch}").splitlines()
    assert len(log) == 2 and log[1].startswith("test: reproduce mul() adds")
    assert git(root, "show", "--name-only", "--format=", f"{branch}~1").split() == ["tests/test_mul.py"]
    assert git(root, "show", "--name-only", "--format=", branch).split() == ["calc/ops.py"]
    assert "return a * b" in git(root, "show", f"{branch}:calc/ops.py")
    # The implementer saw the reproduction's failure at base; the unrelated failure blocked nothing.
    first = json.dumps(requests_of(env, IMPLEMENTER)[0]["body"]["messages"])
    assert "test_mul_multiplies" in first and "assert 5 == 6" in first
    summary = (root / result["log_dir"] / "summary.md").read_text()
    assert "## Reproduction" in summary and "assert 5 == 6" in summary and "passed" in summary
    # The test itself is shown, as committed.
    assert (
        "```python\n# tests/test_mul.py\ndef test_mul_multiplies():\n    assert mul(2, 3) == 6\n```"
        in summary
    )


@pytest.mark.parametrize(
    ("writer_config", "model", "sent"),
    [
        # A model off the ladder, with its own effort and max_tokens.
        ({"model": "claude-sonnet-5", "effort": "high", "max_tokens": 3000}, "claude-sonnet-5",
         {"output_config": {"effort": "high"}, "max_tokens": 3000}),
        ({"tier": "opus", "effort": "low"}, "claude-opus-4-6", {"output_config": {"effort": "low"}}),
        ({"tier": "haiku", "thinking_budget": 2048}, "claude-haiku-4-5",
         {"thinking": {"type": "enabled", "budget_tokens": 2048}}),
    ],
    ids=["model off the ladder", "tier and effort", "tier and thinking"],
)  # fmt: skip
def test_the_test_writer_is_configured_like_the_other_roles(
    tmp_path, env, capsys, writer_config, model, sent
):
    env.set_script({"models": {"*": writer(GOOD_TEST) + implementer("a * b")}})
    root = repo(tmp_path, **writer_config)
    code, result, _ = run(capsys, root, "--issue-text", ISSUE)
    assert (code, result["outcome"]) == (0, "fixed")
    assert result["reproduction"]["model"] == model
    writes = requests_of(env, WRITER)
    assert writes and {r["body"]["model"] for r in writes} == {model}
    for key, value in sent.items():
        assert all(r["body"].get(key) == value for r in writes), (key, writes[0]["body"].get(key))
    roles = [d["choice"] for d in result["decisions"] if d["kind"] == "role"]
    assert any(c.startswith("test_writer: ") and model in c for c in roles)


def test_a_reproduction_that_passes_at_base_is_sent_back_then_fails_the_phase(tmp_path, env, capsys):
    env.set_script({"models": {"*": writer(PASSING_TEST) * 2 + implementer("a * b")}})
    root = repo(tmp_path, "opus")  # the top tier writes: one tier, no climbing
    code, result, _ = run(capsys, root, "--issue-text", ISSUE)
    assert (code, result["outcome"]) == (1, "needs_human")
    assert "Could not reproduce the issue" in result["explanation"]
    [attempt] = result["attempts"]
    assert (attempt["tier"], attempt["stage"], attempt["verdict"]) == ("opus", "reproduce", "fail")
    assert "passes on the unchanged code" in attempt["reason"]
    writes = requests_of(env, WRITER)
    sent_back = [r for r in writes if "did not accept the test" in json.dumps(r["body"]["messages"])]
    assert sent_back and "passes on the unchanged code" in json.dumps(sent_back[0]["body"]["messages"])
    assert requests_of(env, IMPLEMENTER) == []  # no fix was attempted without a reproduction
    assert git(root, "status", "--porcelain") == ""


@pytest.mark.parametrize(
    ("broken", "words"),
    [
        (IMPORT_ERROR_TEST, "does not load"),
        (NAME_ERROR_TEST, "NameError at tests/test_mul.py"),
        (SYNTAX_ERROR_TEST, "does not load"),
    ],
    ids=["import error", "name error", "syntax error"],
)
def test_a_reproduction_that_breaks_itself_is_rejected_and_the_send_back_can_mend_it(
    tmp_path, env, capsys, broken, words
):
    env.set_script({"models": {"*": writer(broken) + writer(GOOD_TEST) + implementer("a * b")}})
    root = repo(tmp_path)
    code, result, _ = run(capsys, root, "--issue-text", ISSUE)
    assert code == 0 and result["outcome"] == "fixed"
    rejected = [r for r in requests_of(env, WRITER) if "did not accept the test" in json.dumps(r["body"])]
    assert rejected and words in json.dumps(rejected[0]["body"]["messages"])
    # The send-back says how to reproduce a missing name without breaking the test.
    assert "assert hasattr(module, 'name')" in json.dumps(rejected[0]["body"]["messages"])
    assert result["reproduction"]["tests"] == ["tests/test_mul.py::test_mul_multiplies"]


@pytest.mark.parametrize(
    ("broken", "words"),
    [(IMPORT_ERROR_TEST, "does not load"), (NAME_ERROR_TEST, "NameError at tests/test_mul.py")],
    ids=["import error", "name error"],
)
def test_a_reproduction_that_errors_twice_is_a_failed_attempt_after_one_send_back(
    tmp_path, env, capsys, broken, words
):
    env.set_script({"models": {"*": writer(broken) * 3 + implementer("a * b")}})
    root = repo(tmp_path, "opus")  # one tier: its one try and one send-back, then the phase fails
    code, result, _ = run(capsys, root, "--issue-text", ISSUE)
    assert (code, result["outcome"]) == (1, "needs_human")
    [attempt] = result["attempts"]
    assert (attempt["stage"], attempt["verdict"]) == ("reproduce", "fail") and words in attempt["reason"]
    openings = [r for r in requests_of(env, WRITER) if len(r["body"]["messages"]) == 1]
    sent_back = [
        r for r in requests_of(env, WRITER) if "did not accept" in json.dumps(r["body"]["messages"][-1])
    ]
    assert (len(openings), len(sent_back)) == (1, 1)  # sent back once, with the output
    assert requests_of(env, IMPLEMENTER) == []


def test_a_documentation_issue_is_judged_without_a_test_and_says_so(tmp_path, env, capsys):
    doc_fix = edit('"""Add a and b."""', '"""Add a and b, and return the sum."""')
    env.set_script({"models": {"*": turns(IMPLEMENTER, doc_fix)}})
    root = repo(tmp_path)
    code, result, _ = run(capsys, root, "--issue-text", "Typo in the docstring of add\n\nIt should say more.")
    assert code == 0 and result["outcome"] == "fixed"
    assert result["reproduction"] is None
    assert result["no_test_reason"].startswith("the title is about text, not behaviour")
    targets = [
        d["reason"] for d in result["decisions"] if (d["kind"], d["choice"]) == ("baseline", "targets")
    ]
    assert targets == ["no test proves it: judged by the full suite, ruff only"]  # the reviewer is off here
    assert requests_of(env, WRITER) == []
    summary = (root / result["log_dir"] / "summary.md").read_text()
    assert "No test proves this change" in summary


def test_reproduction_and_fix_both_climb_to_the_second_tier(tmp_path, env, capsys):
    env.set_script({"models": {
        "claude-haiku-4-5": writer(PASSING_TEST) * 2 + implementer("a - b") * 2,
        "claude-sonnet-4-6": writer(GOOD_TEST) + implementer("a * b"),
    }})  # fmt: skip
    root = repo(tmp_path, "haiku")
    code, result, _ = run(capsys, root, "--issue-text", ISSUE)
    assert code == 0 and result["outcome"] == "fixed"
    steps = [(a["tier"], a["stage"], a["verdict"]) for a in result["attempts"]]
    assert steps[:2] == [("haiku", "reproduce", "fail"), ("sonnet", "reproduce", "pass")]
    assert steps[-1] == ("sonnet", "ok", "pass") and ("haiku", "target", "fail") in steps
    assert result["reproduction"]["tier"] == "sonnet"
    climbs = [d["choice"] for d in result["decisions"] if d["kind"] == "escalate"]
    assert any(c.startswith("haiku -> sonnet") for c in climbs)


# The implementer goes after the accepted reproduction instead of the code: every way must leave the
# frozen test (the one the test writer wrote, committed as the new base) as the one that runs.
SKIP_ALL = (
    "import pytest\n\n\ndef pytest_collection_modifyitems(items):\n"
    "    for item in items:\n        item.add_marker(pytest.mark.skip(reason='no'))\n"
)
# A pytest plugin that reports every test as passed: loaded by a config file pytest prefers to pyproject.
FORGE = (
    "import pytest\n\n\n@pytest.hookimpl(hookwrapper=True)\ndef pytest_runtest_makereport(item, call):\n"
    "    report = (yield).get_result()\n    report.outcome, report.longrepr = 'passed', None\n"
)
PATCH_MUL = "import calc.ops\n\ncalc.ops.mul = lambda a, b: a * b\n"


def create(path: str, text: str) -> dict:
    return tool("create", path=path, file_text=text)


HOSTILE = {
    "edit the test": [edit("== 6", "== 5", path="tests/test_mul.py")],
    "overwrite the test": [create("tests/test_mul.py", PASSING_TEST)],
    "empty the test file": [create("tests/test_mul.py", "")],
    "a conftest that skips it": [create("tests/conftest.py", SKIP_ALL)],
    "a root conftest that skips it": [create("conftest.py", SKIP_ALL)],
    "a .pytest.ini that loads a forging plugin": [
        create("forge.py", FORGE),
        create(".pytest.ini", "[pytest]\npythonpath = .\naddopts = -p forge\n"),
    ],
    "a pytest.toml that loads a forging plugin": [
        create("forge.py", FORGE),
        create("pytest.toml", '[pytest]\npythonpath = ["."]\naddopts = ["-p", "forge"]\n'),
    ],
    "a .pytest.toml that loads a forging plugin": [
        create("forge.py", FORGE),
        create(".pytest.toml", '[pytest]\npythonpath = ["."]\naddopts = ["-p", "forge"]\n'),
    ],
    "a tests/__init__.py that patches the code": [create("tests/__init__.py", PATCH_MUL)],
    "a new test module that patches the code": [create("tests/test_aaa.py", PATCH_MUL)],
}


@pytest.mark.parametrize("attack", list(HOSTILE), ids=list(HOSTILE))
def test_the_implementer_cannot_weaken_the_accepted_reproduction(tmp_path, env, capsys, attack):
    env.set_script({"models": {"*": writer(GOOD_TEST) + turns(IMPLEMENTER, HOSTILE[attack]) * 2}})
    root = repo(tmp_path, "opus")
    code, result, _ = run(capsys, root, "--issue-text", ISSUE, "--start-tier", "opus")
    assert result["reproduction"]["tests"] == ["tests/test_mul.py::test_mul_multiplies"]
    assert (code, result["outcome"]) == (1, "needs_human"), result["attempts"]
    assert result["attempts"][0]["stage"] == "reproduce"
    assert all(a["verdict"] != "pass" for a in result["attempts"][1:])


APPENDED = [
    edit("from calc.ops import add\n", "from calc.ops import add, mul\n", path="tests/test_ops.py"),
    tool("insert", path="tests/test_ops.py", insert_line=9, insert_text=(
        "\n\ndef test_mul_multiplies():\n    assert mul(2, 3) == 6\n"
    )),
]  # fmt: skip


def test_the_reproduction_stays_frozen_when_the_repositorys_tests_may_change(tmp_path, env, capsys):
    """validate.verdict_from_base off lets a patch change the repository's tests, not the runner's proof."""
    weaken = [
        edit("== 6", "== 5", path="tests/test_mul.py"),
        edit("for years", "for ages", path="tests/test_ops.py"),  # allowed here: harmless
    ]
    env.set_script({"models": {"*": writer(GOOD_TEST) + turns(IMPLEMENTER, weaken) * 2}})
    cfg = {"validate": {"timeout_s": 60, "verdict_from_base": False}, "roles": ROLES_OFF}
    root = make_repo(tmp_path, {**FILES, ".escalate.yml": json.dumps(cfg)})
    code, result, _ = run(capsys, root, "--issue-text", ISSUE, "--start-tier", "opus")
    assert (code, result["outcome"]) == (1, "needs_human"), result["attempts"]
    first = json.dumps(requests_of(env, IMPLEMENTER)[1]["body"]["messages"])
    assert "tests/test_mul.py is one of the files that judge a patch" in first
    assert "tests/test_ops.py is one of the files" not in first  # an existing test may change here


def test_a_reproduction_appended_to_an_existing_test_file_is_frozen_and_committed_first(
    tmp_path, env, capsys
):
    """The test goes into tests/test_ops.py, beside the unrelated failing test: only the new test is the
    target, the implementer's edit of it is refused, and the fix is judged on the frozen version."""
    weaken = edit("assert mul(2, 3) == 6", "assert mul(2, 3) == 5", path="tests/test_ops.py")
    env.set_script(
        {
            "models": {
                "*": turns(WRITER, APPENDED)
                + turns(IMPLEMENTER, [weaken, *implementer("a * b")[0]["content"]])
            }
        }
    )
    root = repo(tmp_path, "opus")
    code, result, err = run(capsys, root, "--issue-text", ISSUE, "--start-tier", "opus")
    assert (code, result["outcome"]) == (0, "fixed"), err
    assert result["reproduction"]["tests"] == ["tests/test_ops.py::test_mul_multiplies"]
    decisions = {(d["kind"], d["choice"]): d["reason"] for d in result["decisions"]}
    assert decisions[("baseline", "targets")].endswith("must pass: tests/test_ops.py::test_mul_multiplies")
    branch = result["branch"]
    assert git(root, "show", "--name-only", "--format=", f"{branch}~1").split() == ["tests/test_ops.py"]
    assert git(root, "show", "--name-only", "--format=", branch).split() == ["calc/ops.py"]
    assert "assert mul(2, 3) == 6" in git(root, "show", f"{branch}:tests/test_ops.py")
    refused = json.dumps(requests_of(env, IMPLEMENTER)[-1]["body"]["messages"])
    assert "tests/test_ops.py is one of the files that judge a patch" in refused


def test_a_reproduction_with_a_lint_finding_does_not_fail_every_fix(tmp_path, env, capsys):
    """The implementer cannot change the frozen test: a ruff finding in it must not fail the fix."""
    untidy = "import os\n" + GOOD_TEST
    env.set_script({"models": {"*": writer(untidy) + implementer("a * b")}})
    root = repo(tmp_path, "opus")
    code, result, err = run(capsys, root, "--issue-text", ISSUE, "--start-tier", "opus")
    assert (code, result["outcome"]) == (0, "fixed"), result["attempts"]


def test_the_test_writer_edits_test_files_only(tmp_path, env, capsys):
    """A test writer that fixes the code, or plants a conftest, is refused at the editor; only its test
    is committed, on the unchanged code."""
    sneaky = [
        edit('"""Multiply a and b."""\n    return a + b', '"""Multiply a and b."""\n    return a * b'),
        tool("create", path="tests/conftest.py", file_text=SKIP_ALL),
        tool("create", path="tests/test_mul.py", file_text=GOOD_TEST),
    ]
    env.set_script({"models": {"*": turns(WRITER, sneaky) + implementer("a * b")}})
    root = repo(tmp_path)
    code, result, _ = run(capsys, root, "--issue-text", ISSUE)
    assert (code, result["outcome"]) == (0, "fixed")
    results = json.dumps(requests_of(env, WRITER)[1]["body"]["messages"][-1])
    assert results.count('"is_error": true') == 2
    assert "calc/ops.py is not a test file" in results and "tests/conftest.py is not a test file" in results
    commit = result["reproduction"]["commit"]
    assert git(root, "show", "--name-only", "--format=", commit).split() == ["tests/test_mul.py"]
    assert "return a + b" in git(root, "show", f"{commit}:calc/ops.py")

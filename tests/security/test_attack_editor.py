"""Attack matrix, editor rows: `escalate fix` through the simulated API with a model scripted to send the
editor inputs that once ended a run with an internal error and no JSON, or stalled it.

Each row: the model's first turn is the attack; its second turn, scripted to come only when the last
tool result is an error, makes the real fix. The row passes when the run goes on to `fixed`, the model
was answered with a tool error that says what was wrong, `--json` printed exactly one object, the
user's checkout is byte-for-byte unchanged, and the fix commit holds the fix and nothing else.
"""

from __future__ import annotations

import json

import pytest
from samplerepo import CALC_TARGET, FIX, PYTEST_COMMAND, RUFF_COMMAND, git, make_calc_repo, snapshot, tool

pytestmark = pytest.mark.slow

CONFIG = (
    "validate:\n"
    f"  test_command: {json.dumps(PYTEST_COMMAND)}\n"
    f"  ruff_command: {json.dumps(RUFF_COMMAND)}\n"
    "  timeout_s: 60\n"
    "ledger: {enabled: false}\n"
    # The helper roles off: every scripted reply is the implementer's.
    "roles:\n"
    "  explorer: {enabled: false}\n"
    "  planner: {enabled: false}\n"
    "  reviewer: {enabled: false}\n"
    "  committer: {enabled: false}\n"
)
# Files in the attacked repository that some rows aim at.
BYTES_FILES = {
    "data/latin.txt": "caf\xe9 au lait\n".encode("latin-1"),
    "data/many.txt": b"x = 1\n" * 200_000,
    "data/evil.txt": b"a" * 50_000 + b"!\n",
    "data/" + "a" * 200 + ".txt": b"a long name\n",
}
DEEP = "/".join(["d"] * 2000) + "/f.py"


def search(**inp) -> dict:
    return {"type": "tool_use", "name": "search_repo", "input": inp}


# row id -> the attacking tool calls of the model's first turn, each with text its answer must hold.
# The last row sends several in one turn, as a model may.
ROWS = {
    "nul byte in a path": [(tool(command="view", path="calc/ops.py\x00.txt"), "'\\x00'")],
    "2,000-level path": [(tool(command="create", path=DEEP, file_text="x = 1\n"), "at most 1024")],
    "300-byte file name": [(tool(command="create", path="n" * 297 + ".py", file_text="x\n"), "is 300 bytes")],
    "non-UTF-8 file": [
        (tool(command="str_replace", path="data/latin.txt", old_str="caf", new_str="tea"), "not UTF-8")
    ],
    "a directory as a file": [
        (tool(command="str_replace", path="calc", old_str="a", new_str="b"), "is a directory")
    ],
    "str_replace with 200k matches": [
        (
            tool(command="str_replace", path="data/many.txt", old_str="x = 1", new_str="x = 2"),
            "[1, 2, 3, 4, 5, ... (200000 in all)]",
        )
    ],
    # No line ends in a run of a's: RE2 says so at once, where Python's re would backtrack for ever.
    "search_repo (a+)+$": [(search(pattern="(a+)+$", regex=True), "No matches for '(a+)+$'")],
    "more bad inputs in one turn": [
        (tool(command="view", path="calc/\ud800.py"), "'\\ud800'"),
        (tool(command="create", path="calc/new.py", file_text="x = '\udc80'\n"), "lone surrogate"),
        (tool(command="view", path="calc/ops.py/x.py"), "Not a directory"),
        (tool(command="insert", path="data", insert_line=0, insert_text="x"), "is a directory"),
        (search(pattern=r"(a)\1", regex=True), "RE2 syntax"),
        (search(pattern="x" * 5000), "at most 1000"),
        # Python's re would backtrack for hours on the long name in data/: RE2 answers at once.
        (
            {"type": "tool_use", "name": "list_files", "input": {"glob": "**/" + "*a" * 12 + "*c"}},
            "No files match.",
        ),
    ],
}
# An answer that is not an error: a search that finds nothing.
NOT_AN_ERROR = {"No matches for '(a+)+$'", "No files match."}


def attacked_repo(tmp_path):
    root = make_calc_repo(tmp_path, {".escalate.yml": CONFIG})
    for rel, data in BYTES_FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "data files the attacks aim at")
    return root


@pytest.mark.timeout(180)
@pytest.mark.parametrize("row", list(ROWS), ids=list(ROWS))
def test_editor_attack_gets_a_tool_error_and_the_run_goes_on(tmp_path, env, escalate_in_process, row):
    attacks = ROWS[row]
    errors = any(expected not in NOT_AN_ERROR for _, expected in attacks)
    env.set_script(
        {
            "models": {
                "*": [
                    {
                        "when": {"turn": 1},
                        "content": [{"type": "text", "text": "Let me look."}] + [a for a, _ in attacks],
                    },
                    # The fix comes only once the attack was answered (with an error, where one is due).
                    {
                        "when": {"turn": 2, "last_tool_result_is_error": errors},
                        "content": [FIX],
                    },
                    {"when": {"turn": 3}, "content": "Fixed add(). DONE"},
                ]
            }
        }
    )
    root = attacked_repo(tmp_path)
    base = git(root, "rev-parse", "HEAD").strip()
    before = user_files(root)

    done = escalate_in_process(["fix", "--test", CALC_TARGET, "--repo", str(root), "--json"], tmp_path)

    result = done.json  # exactly one JSON object, nothing else on stdout
    assert (done.exit_code, result["outcome"]) == (0, "fixed"), result
    # What the model was told: the tool results at the end of the second request, in call order.
    second = env.messages_requests()[1]["body"]["messages"][-1]["content"]
    answers = [b for b in second if b.get("type") == "tool_result"]
    assert len(answers) == len(attacks)
    for (_, expected), answer in zip(attacks, answers, strict=True):
        content = answer["content"] if isinstance(answer["content"], str) else answer["content"][0]["text"]
        assert expected in content, content
        assert bool(answer.get("is_error")) == (expected not in NOT_AN_ERROR), answer
        assert len(content) < 1000  # a bad path comes back shortened; 200k matches are counted, not listed
    # Nothing in the user's checkout changed, and the fix is all the commit holds.
    assert user_files(root) == before
    assert git(root, "diff", "--name-only", base, result["commit"]).split() == ["calc/ops.py"]


def user_files(root):
    """The checkout byte for byte, less escalate's own run logs (.escalate/), which a run adds."""
    return {k: v for k, v in snapshot(root).items() if not k.startswith(".escalate/")}

"""Webhook payloads -> triggers and skip reasons (GitHub's own example payloads, edited per case)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from escalate.errors import EscalateError
from escalate.github.event import decide, infer_event_name, load_event

DATA = Path(__file__).parents[1] / "data" / "github"
TRUSTED = ["OWNER", "MEMBER", "COLLABORATOR"]


def payload(name: str) -> dict:
    return copy.deepcopy(json.loads((DATA / f"{name}.json").read_text()))


def labeled(label: str = "escalate") -> dict:
    p = payload("issues.labeled")
    p["label"]["name"] = label
    return p


def commented(body: str, association: str = "OWNER") -> dict:
    p = payload("issue_comment.created")
    p["comment"]["body"] = body
    p["comment"]["author_association"] = association
    return p


def run(event: str, p: dict):
    return decide(event, p, label="escalate", trusted=TRUSTED)


def test_label_added_by_a_person_starts_a_run():
    t = run("issues", labeled())
    assert (t.kind, t.issue, t.slug, t.actor, t.via) == (
        "issue",
        1,
        "Codertocat/Hello-World",
        "Codertocat",
        "label",
    )


def test_other_label_and_other_actions_skip_with_reasons():
    t = run("issues", labeled("bug"))
    assert t.skipped and "'bug' is not the trigger label 'escalate'" in t.reason
    t = run("issues", payload("issues.opened"))
    assert t.skipped and "only the `labeled` action" in t.reason


def test_label_added_by_a_bot_is_refused():
    p = labeled()
    p["sender"].update(login="dependabot[bot]", type="Bot")
    t = run("issues", p)
    assert t.skipped and "bot" in t.reason and t.actor == "dependabot[bot]"


@pytest.mark.parametrize(
    ("field", "value", "words"), [("state", "closed", "is closed"), ("locked", True, "locked")]
)
def test_closed_or_locked_issue_is_skipped(field, value, words):
    p = labeled()
    p["issue"][field] = value
    t = run("issues", p)
    assert t.skipped and words in t.reason


def test_trusted_comment_starts_a_run():
    t = run("issue_comment", commented("Please have a go.\n@escalate fix\nthanks", "MEMBER"))
    assert (t.kind, t.issue, t.via) == ("issue", 1, "comment") and "MEMBER" in t.reason


def test_untrusted_commenter_is_refused():
    t = run("issue_comment", commented("@escalate fix", "NONE"))
    assert t.skipped and "NONE" in t.reason and "not one of" in t.reason


def test_quoted_or_missing_command_is_not_a_request():
    assert run("issue_comment", commented("> @escalate fix\nno thanks")).skipped
    assert run("issue_comment", commented("You are totally right!")).skipped


def test_comment_on_a_pull_request_is_skipped():
    p = commented("@escalate fix")
    p["issue"]["pull_request"] = {"url": "https://api.github.com/repos/Codertocat/Hello-World/pulls/1"}
    t = run("issue_comment", p)
    assert t.skipped and "pull request" in t.reason


def test_ci_failure_on_the_default_branch_is_fixed():
    t = run("workflow_run", payload("workflow_run.completed"))
    assert t.kind == "ci_failure"
    assert t.head_sha == "acb5820ced9479c074f688cc328bf03f341a511d" and t.head_branch == "master"


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        ({"conclusion": "success"}, "not 'failure'"),
        ({"head_branch": "escalate/issue-3"}, "made by escalate"),
        ({"head_branch": "feature"}, "not the default branch"),
        ({"head_repository": {"full_name": "mallory/Hello-World"}}, "fork"),
    ],
)
def test_ci_runs_that_must_not_be_fixed(edit, words):
    p = payload("workflow_run.completed")
    p["workflow_run"].update(edit)
    t = run("workflow_run", p)
    assert t.skipped and words in t.reason


def test_unknown_event_is_skipped():
    assert "not one escalate acts on" in run("push", {"repository": {"full_name": "a/b"}}).reason


def test_load_event_reads_the_name_from_the_environment_or_the_shape(tmp_path):
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload("workflow_run.completed")))
    assert load_event(path, env={})[0] == "workflow_run"
    assert load_event(None, env={"GITHUB_EVENT_PATH": str(path), "GITHUB_EVENT_NAME": "x"})[0] == "x"
    assert infer_event_name(payload("issue_comment.created")) == "issue_comment"
    assert infer_event_name(payload("issues.labeled")) == "issues"
    with pytest.raises(EscalateError, match="--event PATH"):
        load_event(None, env={})
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(EscalateError, match="Cannot read"):
        load_event(tmp_path / "bad.json", env={})

"""A webhook payload -> what to do: run on an issue, fix a failed CI run, or skip (with a reason).

Only what the payload itself says is decided here; the checks that need the API (the
labeller's role, the issue's current state, an existing pull request, a run in progress)
happen in ``escalate.github.run`` just before any money is spent.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from escalate.errors import EscalateError

# "@escalate fix" at the start of a line, so a quoted mention ("> @escalate fix") does not count.
COMMAND = re.compile(r"^\s*@escalate\s+fix\b", re.IGNORECASE | re.MULTILINE)
BRANCH_PREFIX = "escalate/"


@dataclass(frozen=True)
class Trigger:
    """The decision for one event. ``kind`` is "issue", "ci_failure" or "skip"."""

    kind: str
    reason: str
    event: str
    slug: str | None = None
    issue: int | None = None
    actor: str | None = None  # who asked: the labeller or the commenter
    via: str | None = None  # "label" | "comment" for issue runs
    head_sha: str | None = None  # ci_failure: the failing commit
    head_branch: str | None = None
    run_id: int | None = None
    run_url: str | None = None

    @property
    def skipped(self) -> bool:
        return self.kind == "skip"


def load_event(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> tuple[str, dict]:
    """Read the payload at path (default $GITHUB_EVENT_PATH); the event name from GITHUB_EVENT_NAME
    or, when that is unset (a payload replayed by hand), from the payload's shape."""
    env = os.environ if env is None else env
    path = path or env.get("GITHUB_EVENT_PATH")
    if not path:
        raise EscalateError("No event payload: pass --event PATH or set GITHUB_EVENT_PATH.")
    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise EscalateError(
            f"Cannot read the event payload {path}: {exc}. Pass a webhook JSON file."
        ) from exc
    if not isinstance(payload, dict):
        raise EscalateError(f"The event payload {path} is not a JSON object.")
    return env.get("GITHUB_EVENT_NAME") or infer_event_name(payload), payload


Skip = Callable[..., "Trigger"]  # a skip Trigger with its reason (and the issue, when known)


def infer_event_name(payload: dict) -> str:
    if "workflow_run" in payload:
        return "workflow_run"
    if "comment" in payload and "issue" in payload:
        return "issue_comment"
    if "issue" in payload:
        return "issues"
    return "unknown"


def decide(
    event: str, payload: dict, *, label: str, trusted: list[str] | set[str] | frozenset[str]
) -> Trigger:
    """The trigger for a payload; every skip names its reason."""
    slug = (payload.get("repository") or {}).get("full_name")

    def skip(reason: str, **kw: Any) -> Trigger:
        return Trigger("skip", reason, event, slug, **kw)

    if event == "issues":
        return _issues(payload, label, skip, slug)
    if event == "issue_comment":
        return _comment(payload, set(trusted), skip, slug)
    if event == "workflow_run":
        return _workflow_run(payload, skip, slug)
    return skip(f"event {event!r} is not one escalate acts on (issues, issue_comment, workflow_run)")


def _issue_state(issue: dict, skip: Skip) -> Trigger | None:
    number = issue.get("number")
    if issue.get("pull_request"):
        return skip(f"#{number} is a pull request, not an issue", issue=number)
    if issue.get("state") != "open":
        return skip(f"issue #{number} is {issue.get('state')}", issue=number)
    if issue.get("locked"):
        return skip(f"issue #{number} is locked", issue=number)
    return None


def _issues(payload: dict, label: str, skip: Skip, slug: str | None) -> Trigger:
    issue = payload.get("issue") or {}
    number = issue.get("number")
    if payload.get("action") != "labeled":
        return skip(f"issues.{payload.get('action')}: only the `labeled` action starts a run", issue=number)
    added = (payload.get("label") or {}).get("name")
    if added != label:
        return skip(f"label {added!r} is not the trigger label {label!r}", issue=number)
    sender = payload.get("sender") or {}
    if _is_bot(sender):
        return skip(f"label added by a bot ({sender.get('login')})", issue=number, actor=sender.get("login"))
    blocked = _issue_state(issue, skip)
    if blocked:
        return blocked
    return Trigger(
        "issue",
        f"label {label!r} added by {sender.get('login')}",
        "issues",
        slug,
        issue=number,
        actor=sender.get("login"),
        via="label",
    )


def _is_bot(user: dict) -> bool:
    """A bot account (type Bot, or a login ending in [bot]); labels and comments judge it alike."""
    return user.get("type") == "Bot" or str(user.get("login", "")).endswith("[bot]")


def _comment(payload: dict, trusted: set[str], skip: Skip, slug: str | None) -> Trigger:
    issue = payload.get("issue") or {}
    number = issue.get("number")
    comment = payload.get("comment") or {}
    user = comment.get("user") or {}
    if payload.get("action") != "created":
        return skip(f"issue_comment.{payload.get('action')}: only new comments are read", issue=number)
    if not COMMAND.search(comment.get("body") or ""):
        return skip("the comment does not start a line with `@escalate fix`", issue=number)
    if _is_bot(user):
        return skip(f"comment by a bot ({user.get('login')})", issue=number, actor=user.get("login"))
    association = comment.get("author_association", "NONE")
    if association not in trusted:
        return skip(
            f"commenter {user.get('login')} is {association}, not one of {sorted(trusted)}",
            issue=number,
            actor=user.get("login"),
        )
    blocked = _issue_state(issue, skip)
    if blocked:
        return blocked
    return Trigger(
        "issue",
        f"`@escalate fix` by {user.get('login')} ({association})",
        "issue_comment",
        slug,
        issue=number,
        actor=user.get("login"),
        via="comment",
    )


def _workflow_run(payload: dict, skip: Skip, slug: str | None) -> Trigger:
    run = payload.get("workflow_run") or {}
    default = (payload.get("repository") or {}).get("default_branch")
    branch = run.get("head_branch") or ""
    facts = dict(
        head_sha=run.get("head_sha"), head_branch=branch, run_id=run.get("id"), run_url=run.get("html_url")
    )
    if payload.get("action") != "completed":
        return skip(f"workflow_run.{payload.get('action')}: only completed runs are read", **facts)
    if run.get("conclusion") != "failure":
        return skip(f"the run concluded {run.get('conclusion')!r}, not 'failure'", **facts)
    if branch.startswith(BRANCH_PREFIX):
        return skip(f"branch {branch} was made by escalate: fixing it could loop", **facts)
    if branch != default:
        return skip(f"the run was on {branch!r}, not the default branch {default!r}", **facts)
    head_repo = (run.get("head_repository") or {}).get("full_name")
    if head_repo and slug and head_repo != slug:
        return skip(f"the run came from the fork {head_repo}", **facts)
    if not run.get("head_sha"):
        return skip("the payload names no head commit", **facts)
    name = run.get("name") or "CI"
    return Trigger(
        "ci_failure", f"{name} failed on {branch} at {run['head_sha'][:12]}", "workflow_run", slug, **facts
    )

"""A GitHub issue or a failed CI run -> a validated pull request, or a comment saying why not.

``run_event`` is what the Action calls (``escalate fix --event``); ``run_issue`` is
``escalate fix --issue N``. Every path that spends money ends in a pull request or a comment;
every path that does not, ends in a skip with its reason.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import yaml

from escalate.config import load_config
from escalate.errors import EXIT_FIXED, EXIT_INTERNAL, EXIT_NOT_FIXED, ConfigError, EscalateError
from escalate.github.client import TRIAGE_ROLES, WRITE_ROLES, GithubRepo
from escalate.github.event import Trigger, decide, load_event
from escalate.github.render import (
    Report,
    ci_pr_body,
    ci_pr_title,
    failure_comment,
    pr_body,
    pr_title,
    push_with_env_token,
    stages,
    stopped_comment,
    token_totals,
    write_outputs,
    write_step_summary,
)
from escalate.ladder.run import run_task
from escalate.llm.pricing import usd
from escalate.records.console import Progress
from escalate.records.types import Outcome
from escalate.task import Task

if TYPE_CHECKING:
    from escalate.config import Config
    from escalate.github.client import IssueInfo, PullInfo

Publish = Callable[[Outcome, Report, "GithubResult"], None]  # puts a finished run on GitHub

# "Fixes #12", "closes #12", "resolved #12": GitHub's closing keywords.
_CLOSING = r"\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\s*:?\s+#{n}\b"


@dataclass
class GithubResult:
    """What happened, for the exit code, ``--json`` and the Action's outputs."""

    outcome: str  # a runner outcome, or "skipped"
    reason: str
    pr_url: str | None = None
    comment_url: str | None = None
    pushed_branch: str | None = None
    run: Outcome | None = None  # when a run happened
    tokens: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict:
        out = {
            "outcome": self.outcome,
            "reason": self.reason,
            "pr_url": self.pr_url,
            "comment_url": self.comment_url,
            "pushed_branch": self.pushed_branch,
        }
        if self.run is not None:
            out["run"] = self.run.to_json()
        return out


def action_overrides(env: Mapping[str, str]) -> dict:
    """Config overrides from the Action's inputs (``ESCALATE_*`` variables set by action.yml)."""
    overrides: dict[str, Any] = {}
    path = env.get("ESCALATE_CONFIG_FILE")
    if path:
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read the action's `config` input {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"the action's `config` input {path} must hold a YAML mapping")
        overrides.update(data)
    github = dict(overrides.get("github") or {})
    if env.get("ESCALATE_GITHUB_LABEL"):
        github["label"] = env["ESCALATE_GITHUB_LABEL"]
    draft = (env.get("ESCALATE_GITHUB_DRAFT") or "").strip().lower()
    if draft:
        if draft not in ("true", "false"):
            raise ConfigError(f'the action\'s `draft` input must be "true" or "false", not {draft!r}')
        github["draft"] = draft == "true"
    if github:
        overrides["github"] = github
    cost = env.get("ESCALATE_MAX_COST")
    if cost:
        try:
            overrides.setdefault("budget", {})["max_cost_usd"] = float(cost)
        except ValueError:
            raise ConfigError(
                f"the action's `max-cost` input must be a number of dollars, not {cost!r}"
            ) from None
    return overrides


class Publisher:
    """One run's conversation with GitHub: skip checks, the running label, the PR or comment."""

    def __init__(
        self,
        gh: GithubRepo,
        repo_root: Path,
        config: Config,
        *,
        env: Mapping[str, str],
        progress: Progress,
        run_kwargs: dict | None = None,
    ) -> None:
        self.gh = gh
        self.root = Path(repo_root)
        self.config = config
        self.cfg = config.github
        self.env = env
        self.progress = progress
        self.run_kwargs = run_kwargs or {}

    # -- skip rules that need the API ------------------------------------------------------

    def refusal(self, issue: IssueInfo, actor: str | None, via: str) -> str | None:
        """The reason not to run on this issue now, or None."""
        n = issue.number
        if issue.is_pull_request:
            return f"#{n} is a pull request, not an issue"
        if issue.state != "open":
            return f"issue #{n} is {issue.state}"
        if issue.locked:
            return f"issue #{n} is locked"
        if self.cfg.running_label in issue.labels:
            return (
                f"a run for #{n} is already in progress (label {self.cfg.running_label!r}); "
                "remove the label if that run died"
            )
        # The payload's author_association says MEMBER for any organization member, read-only ones
        # too: who may start a paid run is asked of the API, for labels and comments alike.
        if actor and via == "label":
            role = self.gh.role(actor)
            if role not in TRIAGE_ROLES:
                return f"the label was added by {actor}, whose role is {role!r} (triage or write needed)"
        if actor and via == "comment":
            role = self.gh.role(actor)
            if role not in WRITE_ROLES:
                return (
                    f"`@escalate fix` was asked by {actor}, whose role is {role!r} "
                    "(write, maintain or admin needed)"
                )
        closing = re.compile(_CLOSING.format(n=n), re.IGNORECASE)
        for pr in self.gh.open_pulls():
            if not pr.head.startswith("escalate/") and closing.search(pr.body):
                return f"pull request #{pr.number} by {pr.author} already says it fixes #{n}"
        return None

    # -- runs -------------------------------------------------------------------------------

    def _report(self) -> Report:
        run_url = _run_url(self.env)
        hint = f" in [this workflow run]({run_url})" if run_url else ""
        return Report(self.root, hint, stages(self.config.validate))

    def _run(self, task: Task) -> Outcome:
        return run_task(
            task,
            self.root,
            self.config,
            keep=self.cfg.push_failed_branch,
            progress=self.progress,
            **self.run_kwargs,
        )

    def _push(self, local: str, remote_branch: str) -> str:
        return push_with_env_token(
            self.root, local, remote_branch, self.env, protected=self.config.editor.protected_paths
        )

    def issue(self, number: int, *, actor: str | None = None, via: str = "cli") -> GithubResult:
        info = self.gh.issue(number, self.cfg.trusted_associations)
        why = self.refusal(info, actor, via)
        if why:
            return GithubResult("skipped", why)
        self.gh.add_labels(number, self.cfg.running_label)
        try:
            return self._issue_run(info)
        finally:
            self.gh.remove_label(number, self.cfg.running_label)

    def _issue_run(self, info: IssueInfo) -> GithubResult:
        n = info.number
        task = Task.from_issue(info)
        self.progress.line(f"issue #{n}: {task.title}")

        def say(body: str) -> str:
            return self.gh.comment(n, body)

        def fixed(outcome: Outcome, report: Report, result: GithubResult) -> None:
            branch = f"escalate/issue-{n}"
            self._push(outcome.branch, branch)
            result.pushed_branch = branch
            pr = self._open_or_update(branch, pr_title(n, info.title), pr_body(outcome, report, issue=n))
            result.pr_url = pr.url
            self.gh.add_labels(n, self.cfg.fixed_label)
            if self.cfg.needs_human_label in info.labels:
                self.gh.remove_label(n, self.cfg.needs_human_label)

        def not_fixed(outcome: Outcome, report: Report, result: GithubResult) -> None:
            result.pushed_branch = self._push_best(outcome, f"escalate/issue-{n}-attempt")
            result.comment_url = say(self._failure(outcome, report, result.pushed_branch))
            self.gh.add_labels(n, self.cfg.needs_human_label)

        return self._settle(
            task, say, fixed, not_fixed, lambda: self.gh.add_labels(n, self.cfg.needs_human_label)
        )

    def ci_failure(self, trigger: Trigger) -> GithubResult:
        sha = trigger.head_sha or ""
        branch = f"escalate/ci-{sha[:12]}"
        task = Task.from_ci_failure(sha, trigger.head_branch, trigger.run_url, trigger.run_id)
        self.progress.line(f"CI failure: {task.title}")

        def say(body: str) -> str:
            return self.gh.commit_comment(sha, body)

        def fixed(outcome: Outcome, report: Report, result: GithubResult) -> None:
            self._push(outcome.branch, branch)
            result.pushed_branch = branch
            body = ci_pr_body(outcome, report, trigger.run_url)
            result.pr_url = self._open_or_update(branch, ci_pr_title(trigger.head_branch, sha), body).url

        def not_fixed(outcome: Outcome, report: Report, result: GithubResult) -> None:
            result.pushed_branch = self._push_best(outcome, f"{branch}-attempt")
            result.comment_url = say(self._failure(outcome, report, result.pushed_branch))

        return self._settle(task, say, fixed, not_fixed, lambda: None)

    def _settle(
        self,
        task: Task,
        say: Callable[[str], str],
        fixed: Publish,
        not_fixed: Publish,
        flag: Callable[[], None],
    ) -> GithubResult:
        """Run the task and publish; whatever breaks, the last word goes to GitHub (``say``)."""

        def last_word(why: str) -> None:
            try:
                say(stopped_comment(why))
                flag()
            except EscalateError:
                pass  # GitHub itself is what failed; the job log and exit code carry the error

        try:
            outcome = self._run(task)
        except BaseException as exc:
            last_word(f"The run stopped before it finished ({type(exc).__name__}: {exc}).")
            raise
        result = GithubResult(outcome.outcome, outcome.explanation, run=outcome)
        try:
            report = self._report()
            result.tokens = token_totals(outcome.call_records)
            if outcome.outcome == "fixed":
                fixed(outcome, report, result)
                self.progress.line(f"pull request: {result.pr_url}")
            else:
                not_fixed(outcome, report, result)
                self.progress.line(f"not fixed ({outcome.outcome}); commented: {result.comment_url}")
        except EscalateError as exc:
            last_word(f"escalate could not publish its result ({outcome.outcome}): {exc}")
            raise
        return result

    def _open_or_update(self, branch: str, title: str, body: str) -> PullInfo:
        return self.gh.open_or_update_pull(branch, title=title, body=body, draft=self.cfg.draft)

    def _push_best(self, outcome: Outcome, branch: str) -> str | None:
        if not (self.cfg.push_failed_branch and outcome.branch and outcome.commit):
            return None
        self._push(outcome.branch, branch)
        return branch

    def _failure(self, outcome: Outcome, report: Report, pushed: str | None) -> str:
        hint = "" if self.cfg.push_failed_branch else " (set `github.push_failed_branch: true` to get one)"
        return failure_comment(outcome, report, pushed_branch=pushed, push_hint=hint)


def _run_url(env: Mapping[str, str]) -> str | None:
    if env.get("GITHUB_SERVER_URL") and env.get("GITHUB_REPOSITORY") and env.get("GITHUB_RUN_ID"):
        return f"{env['GITHUB_SERVER_URL']}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
    return None


def _finish(result: GithubResult, env: Mapping[str, str]) -> GithubResult:
    """The Action's outputs and step summary (no-ops outside Actions)."""
    run = result.run
    write_outputs(
        {
            "outcome": result.outcome,
            "pr-url": result.pr_url or "",
            "cost-usd": f"{usd(run.cost_usd):.6f}" if run is not None else "0",
            "input-tokens": result.tokens.get("input_tokens", 0),
            "output-tokens": result.tokens.get("output_tokens", 0),
            "cache-read-tokens": result.tokens.get("cache_read_tokens", 0),
        },
        env.get("GITHUB_OUTPUT"),
    )
    if result.outcome in ("skipped", "error") and run is None:
        summary = f"### escalate: {result.outcome}\n\n{result.reason}\n"
    else:
        link = result.pr_url or result.comment_url or ""
        summary = f"### escalate: {result.outcome}\n\n{link}\n"
        if run is not None and run.log_dir and (Path(run.log_dir) / "summary.md").exists():
            summary += "\n" + (Path(run.log_dir) / "summary.md").read_text(encoding="utf-8")
    write_step_summary(summary, env.get("GITHUB_STEP_SUMMARY"))
    return result


def _config(repo_root: Path, env: Mapping[str, str], overrides: dict | None) -> Config:
    merged = action_overrides(env)
    for key, value in (overrides or {}).items():  # the command's own flags win over the action's
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return load_config(repo_root, merged or None)


def _setup(
    repo_root: Path, env: Mapping[str, str] | None, overrides: dict | None, progress: Progress | None
) -> tuple[Mapping[str, str], Config, Progress]:
    """The environment (default ``os.environ``), the merged config and a progress stream (quiet
    by default): what both entry points start from."""
    env = os.environ if env is None else env
    return env, _config(repo_root, env, overrides), progress or Progress(quiet=True)


def _done(result: GithubResult, env: Mapping[str, str], progress: Progress) -> GithubResult:
    """A skip's reason on the progress stream, then the Action's outputs."""
    if result.outcome == "skipped":
        progress.line(f"skipped: {result.reason}")
    return _finish(result, env)


def run_issue(
    number: int,
    repo_root: Path,
    *,
    slug: str | None = None,
    overrides: dict | None = None,
    env: Mapping[str, str] | None = None,
    progress: Progress | None = None,
    run_kwargs: dict | None = None,
) -> GithubResult:
    """``escalate fix --issue N``: run on issue N of slug (or GITHUB_REPOSITORY)."""
    env, config, progress = _setup(repo_root, env, overrides, progress)
    gh = GithubRepo.from_env(slug, env)
    publisher = Publisher(gh, repo_root, config, env=env, progress=progress, run_kwargs=run_kwargs)
    return _done(publisher.issue(number), env, progress)


def run_event(
    event_path: str | Path | None,
    repo_root: Path,
    *,
    slug: str | None = None,
    overrides: dict | None = None,
    env: Mapping[str, str] | None = None,
    progress: Progress | None = None,
    run_kwargs: dict | None = None,
) -> GithubResult:
    """``escalate fix --event PATH``: decide from a webhook payload, then run or skip."""
    env, config, progress = _setup(repo_root, env, overrides, progress)
    name, payload = load_event(event_path, env)
    trigger = decide(name, payload, label=config.github.label, trusted=config.github.trusted_associations)
    if trigger.skipped:
        return _done(GithubResult("skipped", trigger.reason), env, progress)
    progress.line(f"{trigger.event}: {trigger.reason}")
    gh = GithubRepo.from_env(slug or trigger.slug, env)
    publisher = Publisher(gh, repo_root, config, env=env, progress=progress, run_kwargs=run_kwargs)
    if trigger.kind == "issue":
        assert trigger.issue is not None
        result = publisher.issue(trigger.issue, actor=trigger.actor, via=trigger.via or "label")
    else:
        result = publisher.ci_failure(trigger)
    return _done(result, env, progress)


def run_command(
    repo_root: Path,
    *,
    issue: int | None,
    event: str | None,
    slug: str | None,
    overrides: dict | None,
    quiet: bool,
    as_json: bool,
) -> int:
    """The ``escalate fix --issue/--event`` command body; returns the exit code.

    Exit codes: 0 fixed or skipped (a skip is a decision, not a failure), 1 not fixed,
    3 error. ``--event`` given without a path reads $GITHUB_EVENT_PATH.
    """
    if issue is not None and event is not None:
        raise EscalateError("Use either --issue N or --event PATH, not both.")
    progress = Progress(quiet=quiet)
    try:
        if issue is not None:
            result = run_issue(issue, repo_root, slug=slug, overrides=overrides, progress=progress)
        else:
            result = run_event(event or None, repo_root, slug=slug, overrides=overrides, progress=progress)
    except BaseException as exc:
        # The Action's outputs exist on every path, so a later step can branch on `outcome`.
        _finish(GithubResult("error", f"{type(exc).__name__}: {exc}"), os.environ)
        raise
    if as_json:
        click.echo(json.dumps(result.to_json()))
    if not quiet:
        link = result.pr_url or result.comment_url
        click.echo(f"escalate: {result.outcome}" + (f": {link}" if link else f" ({result.reason})"), err=True)
    codes = {"fixed": EXIT_FIXED, "skipped": EXIT_FIXED, "error": EXIT_INTERNAL}
    return codes.get(result.outcome, EXIT_NOT_FIXED)

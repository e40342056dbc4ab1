"""An Outcome -> what GitHub shows: the pull request body, the failure comment, the pushed branch,
and the Action's outputs and step summary.

Everything a reader sees comes from the run log (``calls.jsonl``), the Outcome and git itself,
never from what a model says about itself: the model's explanation is kept only where it talks
about files that are really in the diff.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from escalate.errors import EscalateError
from escalate.llm.pricing import fmt_usd
from escalate.records.rundir import TOKEN_FIELDS, evidence_lines
from escalate.records.types import AttemptRecord, Decision, Outcome, Reproduction, climb_numbers
from escalate.untrusted import visible_markdown, visible_plain
from escalate.workspace.hardening import minimal_env, safe_git

if TYPE_CHECKING:
    from escalate.config import ValidateConfig
    from escalate.llm.client import CallRecord
    from escalate.task import Task

# GitHub refuses bodies over 65,536 characters; leave room for the footer.
MAX_BODY = 60_000
MAX_EXPLANATION = 3_000
MARKER = "<!-- escalate:run -->"  # marks escalate's own PRs and comments
FENCE = "`" * 3
_PATH = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w-]+\.(?:py|pyi|toml|cfg|ini|txt|md|rst|ya?ml|json))\b")
_MENTION = re.compile(r"(?<![\w`])@([A-Za-z0-9][A-Za-z0-9-]*(?:/[A-Za-z0-9_.-]+)?)")


class PushError(EscalateError):
    """git push failed; the message carries git's own words."""


def token_totals(calls: list[CallRecord]) -> dict[str, int]:
    return {f: sum(getattr(c, f) for c in calls) for f in TOKEN_FIELDS}


# -- the model's explanation, checked against the diff ------------------------------------------


def changed_files(diff: str) -> list[str]:
    files = []
    for m in re.finditer(r"^diff --git a/(\S+) b/(\S+)$", diff, re.MULTILINE):
        if m.group(2) not in files:
            files.append(m.group(2))
    return files


def neutralize(text: str) -> str:
    """Model or issue text made safe to post: no @-mentions that ping people, no hidden HTML."""
    return _MENTION.sub(r"`@\1`", visible_markdown(text, escape_text=True))


def checked_explanation(text: str, changed: list[str], allowed: list[str] = ()) -> tuple[str, int]:
    """Keep the lines of the model's explanation whose file claims are all about changed files
    (or the target tests); return the kept text and how many lines were dropped."""
    known = [*changed, *allowed]

    def real(path: str) -> bool:
        return any(k == path or k.endswith("/" + path) for k in known)

    kept, dropped = [], 0
    for line in text.strip().splitlines():
        if all(real(p) for p in _PATH.findall(line)):
            kept.append(line)
        else:
            dropped += 1
    out = "\n".join(kept).strip()
    if len(out) > MAX_EXPLANATION:
        out = out[:MAX_EXPLANATION].rsplit("\n", 1)[0] + "\n\n(truncated)"
    return out, dropped


def model_summary(repo_root: Path, commit: str | None) -> str:
    """The implementing model's words, from the fix commit's message (the runner writes them
    between the subject/tested-list and the Escalated-by trailer)."""
    if not commit:
        return ""
    proc = subprocess.run(
        safe_git(repo_root, "show", "-s", "--format=%B", commit),
        capture_output=True,
        text=True,
        env=minimal_env(),
    )
    if proc.returncode != 0:
        return ""
    paragraphs = proc.stdout.strip().split("\n\n")[1:]  # drop the subject
    keep = [
        p
        for p in paragraphs
        if not p.startswith(("Makes these failing tests pass:", "Escalated-by:")) and p.strip()
    ]
    return "\n\n".join(keep).strip()


# -- Markdown -----------------------------------------------------------------------------------


def _cell(text: Any, limit: int = 160) -> str:
    text = str(text).replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def cost_section(outcome: Outcome) -> str:
    """The calls by tier and model, the total, and the top tier's price for the same tokens
    (the runner's figure: an estimate by construction, since a stronger model would not use
    the same tokens; the text says so next to it)."""
    calls = outcome.call_records
    lines = ["| tier | model | calls | input | output | cache writes | cache reads | $ |", "|---" * 8 + "|"]
    for tier, model in dict.fromkeys((c.tier, c.model) for c in calls):
        mine = [c for c in calls if (c.tier, c.model) == (tier, model)]
        sums = token_totals(mine)
        cost = sum((c.cost_usd for c in mine), Decimal(0))
        cells = [
            sums[f] for f in ("input_tokens", "output_tokens", "cache_write_tokens", "cache_read_tokens")
        ]
        lines.append(
            f"| {tier} | `{model}` | {len(mine)} | "
            + " | ".join(f"{n:,}" for n in cells)
            + f" | {fmt_usd(cost)} |"
        )
    if not calls:
        lines.append("| - | - | 0 | 0 | 0 | 0 | 0 | $0.00 |")
    lines += ["", f"**Total: {fmt_usd(outcome.cost_usd)}** over {len(calls)} API call(s)."]
    if outcome.top_model and outcome.top_model_cost_usd is not None and calls:
        lines.append(
            f"Always using the top tier (`{outcome.top_model}`) for the same tokens would have cost "
            f"**{fmt_usd(outcome.top_model_cost_usd)}** "
            "(an estimate: a different model uses different tokens)."
        )
    return "\n".join(lines)


def decisions_section(decisions: list[Decision]) -> str:
    if not decisions:
        return "_No routing decisions were recorded._"
    lines = []
    for d in decisions:
        lines.append(f"- **{d.kind}**: {_cell(d.choice, 200)} ({_cell(d.reason, 300)})")
        if climb_numbers(d.data):  # the give-up / escalate estimate, as numbers
            lines.append(f"  - numbers: {_cell(climb_numbers(d.data), 400)}")
    return "\n".join(lines)


def attempts_details(attempts: list[AttemptRecord], limit: int = 20_000) -> str:
    rows = ["| tier | model | # | verdict | stage | reason | $ |", "|---" * 7 + "|"]
    for a in attempts:
        cells = [a.tier, f"`{a.model}`", str(a.n), a.verdict, a.stage, _cell(a.reason), fmt_usd(a.cost_usd)]
        rows.append("| " + " | ".join(cells) + " |")
    table = "\n".join(rows)
    if len(table) > limit:
        table = table[:limit].rsplit("\n", 1)[0] + "\n\n(truncated; the full list is in the run log)"
    return f"<details><summary>Attempts ({len(attempts)})</summary>\n\n{table}\n\n</details>"


def stages(validate: ValidateConfig | None) -> list[str]:
    """The validation stages a config runs (every one when None), in order, as a reader names them:
    read from the one list validation runs (``validation.stages.STAGES``)."""
    from escalate.validation.stages import STAGES

    return [s.title for s in STAGES.values() if validate is None or s.configured(validate)]


def validation_section(outcome: Outcome, stage_names: list[str]) -> str:
    passing = [a for a in outcome.attempts if a.verdict == "pass"]
    lines = []
    if passing:
        a = passing[-1]
        lines.append(f"Passed on **{a.tier}** (`{a.model}`), attempt {a.n}: {_cell(a.reason, 300)}")
    lines += _proof(stage_names, outcome.targets)
    return "\n\n".join(lines)


def _proof(stage_names: list[str], targets: list[str]) -> list[str]:
    """How a patch was proven: the stages the config ran and the tests that had to pass."""
    lines = ["Stages, relative to the base commit: " + ", ".join(stage_names) + "."]
    if targets:
        lines.append("Target tests: " + ", ".join(f"`{t}`" for t in targets[:20]))
    return lines


@dataclass
class Report:
    """What the renderer needs besides the Outcome: where the repository is, a link to the
    workflow run, and the validation stages the config ran."""

    repo_root: Path
    log_hint: str = ""
    stages: list[str] = field(default_factory=lambda: stages(None))


def pr_title(number: int | None, title: str) -> str:
    clean = re.sub(r"\s+", " ", visible_plain(title)).strip()
    head = f"Fix #{number}: " if number is not None else "Fix: "
    return (head + clean)[:250]


def pr_body(outcome: Outcome, report: Report, *, issue: int | None, closes: bool = True) -> str:
    diff_files = changed_files(outcome.diff)
    targets = outcome.targets
    summary = model_summary(report.repo_root, outcome.commit)
    explanation, dropped = checked_explanation(
        neutralize(summary), diff_files, [t.split("::")[0] for t in targets]
    )
    what = explanation or "_The model gave no summary of its change._"
    if dropped:
        what += (
            f"\n\n_{dropped} line(s) of the model's summary were left out: they name files not in the diff._"
        )
    files = ", ".join(f"`{f}`" for f in diff_files) or "_none_"
    parts = [
        MARKER,
        f"Fixes #{issue}" if issue is not None and closes else "",
        outcome.sandbox_note(),
        "## What changed and why",
        what,
        f"Files changed: {files}",
        "## Validation",
        validation_section(outcome, report.stages),
        "\n".join(evidence_lines(outcome)),
        "## Cost",
        cost_section(outcome),
        "## Routing decisions",
        decisions_section(outcome.decisions),
        attempts_details(outcome.attempts),
        f"<sub>Opened by escalate{report.log_hint}. Review it like any contribution: the tests passed, "
        "but a person decides.</sub>",
    ]
    return _fit("\n\n".join(p for p in parts if p))


def ci_pr_title(head_branch: str | None, sha: str) -> str:
    return f"Fix CI failure on {head_branch} at {sha[:7]}"


def ci_pr_body(outcome: Outcome, report: Report, run_url: str | None) -> str:
    """The PR body for a fixed CI failure: the failing run's link, then the body every fix gets."""
    body = pr_body(outcome, report, issue=None)
    return f"CI run: {run_url}\n\n{body}" if run_url else body


def stopped_comment(why: str) -> str:
    """The last word on the issue or commit when a run stops before it can publish its result."""
    return f"{MARKER}\n\n### escalate stopped\n\n{why}"


class NightlyFix(Protocol):
    """One validated nightly fix, as its pull request shows it (``batch.collect.RequestResult``)."""

    @property
    def title(self) -> str: ...
    @property
    def tier(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def cost_usd(self) -> Decimal: ...  # at batch prices
    @property
    def interactive_usd(self) -> Decimal: ...  # the same usage at interactive prices
    @property
    def target_tests(self) -> list[str]: ...
    @property
    def reproduction(self) -> Reproduction | None: ...  # the test written first, for an issue
    @property
    def no_test_reason(self) -> str | None: ...  # an issue judged without a test: why


def nightly_pr_title(task: Task) -> str:
    clean = re.sub(r"\s+", " ", neutralize(task.heading)).strip()
    return f"escalate nightly: {clean}"[:250]


def nightly_pr_body(task: Task, fixes: list[NightlyFix], stage_names: list[str]) -> str:
    """What the reviewer of a nightly fix reads: the task, who fixed it at what price (batch and
    interactive), and how it was proven. Task text may come from an issue: it is neutralized
    (no pings, no hidden HTML) and fenced."""
    lines = [MARKER, "Nightly maintenance by escalate (Message Batches API, one-shot mode).", ""]
    lines += [f"**Task** ({task.kind}, from {task.source}): {neutralize(task.title)}", ""]
    if task.issue is not None:
        lines += [f"Closes #{task.issue}.", ""]
    if task.text.strip():
        fenced = neutralize(task.text.strip()[:4000]).replace(FENCE, "'''")  # no breaking out of the fence
        lines += ["<details><summary>Details</summary>", "", FENCE, fenced, FENCE, "</details>", ""]
    lines += ["| task | tier (model) | batch cost | same call interactive |", "|---|---|---|---|"]
    for r in fixes:
        title = neutralize(r.title[:70]).replace("|", "/")
        lines.append(
            f"| {title} | {r.tier} ({r.model}) | {fmt_usd(r.cost_usd)} | {fmt_usd(r.interactive_usd)} |"
        )
    for r in fixes:
        evidence = evidence_lines(
            Outcome("fixed", reproduction=r.reproduction, no_test_reason=r.no_test_reason)
        )
        if evidence:
            lines += ["", *evidence]
    targets = list(dict.fromkeys(t for r in fixes for t in r.target_tests))
    lines += ["", "Validated like `escalate fix`. " + "\n\n".join(_proof(stage_names, targets))]
    return _fit("\n".join(lines) + "\n")


def failure_comment(outcome: Outcome, report: Report, *, pushed_branch: str | None, push_hint: str) -> str:
    last = outcome.attempts[-1] if outcome.attempts else None
    why = {
        "needs_human": (
            "a higher tier was not worth its cost on the evidence"
            if any(d.kind == "give_up" for d in outcome.decisions)
            else "every tier tried and none passed validation"
        ),
        "budget_exceeded": "the cost limit was reached before a fix passed",
        "cannot_reproduce": "the problem could not be reproduced at the base commit",
        "error": "the run stopped on an error",
    }.get(outcome.outcome, outcome.outcome)
    detail = neutralize(outcome.explanation or (last.reason if last else ""))
    if pushed_branch:
        branch = f"The best attempt was pushed to `{pushed_branch}` for a person to pick up."
    else:
        branch = f"No branch was pushed{push_hint}."
    parts = [
        MARKER,
        f"### escalate could not fix this ({outcome.outcome})",
        outcome.sandbox_note(),
        f"**Why it stopped:** {why}." + (f"\n\n> {_cell(detail, 1000)}" if detail else ""),
        branch,
        # A reproduction test that was accepted outlives the failed fix: a person can start from it.
        "\n".join(evidence_lines(outcome)) if outcome.reproduction is not None else "",
        "#### What was tried",
        attempts_details(outcome.attempts) if outcome.attempts else "_No attempt was made._",
        "#### Cost",
        cost_section(outcome),
        "#### Routing decisions",
        decisions_section(outcome.decisions),
        f"<sub>escalate{report.log_hint}</sub>",
    ]
    return _fit("\n\n".join(p for p in parts if p))


def _fit(body: str) -> str:
    if len(body) <= MAX_BODY:
        return body
    return body[: MAX_BODY - 40] + "\n\n(truncated to GitHub's size limit)"


# -- pushing ------------------------------------------------------------------------------------


def _auth_env(token: str | None, server_url: str | None) -> dict[str, str]:
    """Git config passed through the environment (GIT_CONFIG_COUNT): the token reaches git for
    this one command and is never written to .git/config nor shown on a command line."""
    env = minimal_env({"GIT_TERMINAL_PROMPT": "0"})  # the token alone: no other secret reaches git
    if token:
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        key = f"http.{server_url.rstrip('/')}/.extraheader" if server_url else "http.extraheader"
        env.update(
            GIT_CONFIG_COUNT="1", GIT_CONFIG_KEY_0=key, GIT_CONFIG_VALUE_0=f"AUTHORIZATION: basic {basic}"
        )
    return env


def push_branch(
    repo_root: Path,
    local: str,
    remote_branch: str,
    *,
    remote: str = "origin",
    token: str | None = None,
    server_url: str | None = None,
    protected: Iterable[str] = (),
) -> str:
    """Force-push local (a branch or commit) to remote_branch; return the sha the remote now has.

    Force, because a re-run replaces escalate's own earlier attempt on the same branch.
    No hooks: a pre-push hook would run with the token in its environment. With ``protected``
    (editor.protected_paths), what local changes since it left HEAD is checked first: a change to
    a protected path, the [tool.escalate] table or an added symlink is never pushed.
    """
    if protected:
        from escalate.workspace.protected import ProtectedPaths, range_violations

        try:
            found = range_violations(repo_root, local, ProtectedPaths(protected))
        except ValueError as exc:
            raise PushError(f"could not check {local} for protected paths before pushing: {exc}") from exc
        if found:
            listed = "; ".join(f"{path} ({why})" for path, why in found)
            raise PushError(f"refused to push {local}: it changes protected paths: {listed}")
    env = _auth_env(token, server_url)
    refspec = f"+{local}:refs/heads/{remote_branch}"
    proc = subprocess.run(
        safe_git(repo_root, "push", "--porcelain", "--no-verify", remote, refspec),
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise PushError(
            f"git push {remote} {refspec} failed ({proc.returncode}):\n    {proc.stderr.strip()}\n"
            "Check that the token may push (workflow `permissions: contents: write`) and that "
            f"the remote {remote!r} exists."
        )
    # Verify on the remote itself: a branch is linked only once it is really there.
    check = subprocess.run(
        safe_git(repo_root, "ls-remote", remote, f"refs/heads/{remote_branch}"),
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
    )
    sha = check.stdout.split()[0] if check.returncode == 0 and check.stdout.strip() else ""
    if not sha:
        raise PushError(f"git push reported success but {remote} has no branch {remote_branch}.")
    return sha


def push_with_env_token(
    repo_root: Path, local: str, remote_branch: str, env: Mapping[str, str], protected: Iterable[str] = ()
) -> str:
    """``push_branch`` with the token and server the Actions environment gives (GITHUB_TOKEN or
    GH_TOKEN, GITHUB_SERVER_URL): how the interactive and the nightly flows push."""
    return push_branch(
        repo_root,
        local,
        remote_branch,
        token=env.get("GITHUB_TOKEN") or env.get("GH_TOKEN"),
        server_url=env.get("GITHUB_SERVER_URL"),
        protected=protected,
    )


# -- the Action's outputs -------------------------------------------------------------------------


def write_outputs(values: Mapping[str, Any], path: str | None = None) -> None:
    """Append name=value pairs to $GITHUB_OUTPUT (heredoc form, so any value is safe)."""
    path = path or os.environ.get("GITHUB_OUTPUT")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as f:
        for name, value in values.items():
            delim = f"ghadelim_{uuid.uuid4().hex}"
            f.write(f"{name}<<{delim}\n{'' if value is None else value}\n{delim}\n")


def write_step_summary(markdown: str, path: str | None = None) -> None:
    path = path or os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(markdown.rstrip() + "\n")

"""The ladder's third step: one model attempt, its verdict (validation, then review) and the
policy's next step. A passing attempt the policy accepts is committed and raised as ``Fixed``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from escalate.ladder.policy import ACCEPT, Step
from escalate.ladder.stops import Fixed
from escalate.validation.judge_files import Discarded, JudgeFiles
from escalate.validation.stages import Verdict

if TYPE_CHECKING:
    from escalate.agent.editor import Editor
    from escalate.agent.session import AttemptEnd, Session
    from escalate.ladder.prepare import Climb, LadderTree
    from escalate.ladder.state import RunState
    from escalate.records.types import TierPlan
    from escalate.validation import Judgement

DISCARDED_NOTE = (
    "These changes were put back as the base commit has them before judging (the files that judge a "
    "patch, and protected paths, cannot be changed by it):\n"
)


def attempt(
    run: RunState, c: Climb, session: Session[Editor], tier: TierPlan, n: int, feedback: str | None
) -> tuple[Judgement, Step]:
    """One attempt: model turns, the verdict (validation, then review), the policy's next step.
    Raises Fixed when the policy accepts."""
    label = f"{tier.name} attempt {n}"
    run.begin_attempt(tier.name, tier.model.id, n)
    run.progress.attempt_start(tier.name, tier.model.id, n)
    end = session.attempt(feedback)
    edited = session.editor.changed
    # Only the model's edits make an attempt: what tests or tools wrote goes back to base.
    c.ws.restore_except(edited)
    discarded, tree = _discard(run, c.ws, c.judge_files)
    verdict = _judge(run, c, end, tree)
    # What this validation wrote is not the patch either, nor what it wrote into the model's own
    # files (an unsandboxed run can): the tree judged is the one reviewed, diffed and committed.
    c.ws.restore_except(edited)
    if c.ws.tree_hash() != tree:
        c.ws.restore_tree(tree)
    if verdict.passed and c.crew.reviews:  # the reviewer reads what the tests cannot judge, in the true diff
        verdict = c.crew.review(c.ws.true_diff(tree), c.targets, end.text, verdict.duration_s) or verdict
    step = c.policy.after_attempt(label, tree, verdict.passed, verdict.signature, verdict.stage)
    word = "pass" if verdict.passed else ("circular" if step.circular else "fail")
    run.end_attempt(tier.name, tier.model.id, n, verdict, word, discarded)
    c.discard_note = DISCARDED_NOTE + "".join(f"- {d}\n" for d in discarded) + "\n" if discarded else ""
    if step.action == ACCEPT:
        raise _fixed(run, c, tier, end, edited, tree)
    c.history.append((f"{label} ({tier.model.id})", verdict.stage, verdict.reason, c.ws.diff(tree), word))
    return verdict, step


def _discard(run: RunState, ws: LadderTree, judge_files: JudgeFiles | None) -> tuple[list[Discarded], str]:
    """Before judging: the judge's files and protected paths back as the base has them (reported).
    Returns them and the tree hash of the state to judge (hashed again only when something went back)."""
    tree = ws.tree_hash()
    discarded = judge_files.discard(ws, tree) if judge_files is not None else []
    if discarded:
        tree = ws.tree_hash()
    # Protected paths are checked on the change set itself, not only in the editor.
    protected = [Discarded(path, why) for path, why in ws.discard_protected(tree)]
    if protected:
        tree = ws.tree_hash()
    for d in discarded + protected:
        run.decide("verdict", f"discarded {d.path}", d.why)
    return discarded + protected, tree


def _judge(run: RunState, c: Climb, end: AttemptEnd, tree: str) -> Judgement:
    """The model's own failure, a circular state, or validation's verdict on the tree."""
    failed = end.failed_reason
    if failed:
        return Verdict(False, "model", failed, failed, f"model:{end.reason}")
    circular = c.policy.circular_reason(tree)
    if circular:
        # Validating a state already known to fail (or the base) only costs time.
        return Verdict(False, "circular", circular, circular, f"circular:{tree}")
    return c.validate(
        c.ws.path,
        c.ws.changed_files(tree),
        c.baseline,
        c.targets,
        run.config.validate,
        notify=run.progress.line,
    )


def _fixed(run: RunState, c: Climb, tier: TierPlan, end: AttemptEnd, edited: set[str], tree: str) -> Fixed:
    """Commit the passing change (the model's edits only, as judged: ``tree``) with the commit
    writer's message."""
    message = commit_message(run.task.title, c.targets, tier.name, tier.model.id, end.text)
    diff = c.ws.diff(tree)
    message = c.crew.commit_message(diff, message, end.text)
    commit = c.ws.commit(message, paths=edited, tree=tree)  # the tree judged, whatever ran since
    if run.outcome.reproduction is not None:  # the evidence: the same tests, passing now
        from escalate.ladder.reproduce import passing_run

        repro = run.outcome.reproduction
        repro.after_output = passing_run(c.ws.path, run.config, repro)
    return Fixed(tier.name, tier.model.id, c.ws.branch, commit, diff)


def commit_message(title: str, targets: list[str], tier: str, model: str, summary: str = "") -> str:
    """``fix: <what>``, the tests it fixes, the model's summary, and the Escalated-by trailer."""
    subject = re.sub(r"\s+", " ", title).strip()
    subject = subject if len(subject) <= 66 else subject[:63] + "..."
    lines = [f"fix: {subject}", ""]
    if targets:
        lines += ["Makes these failing tests pass:"] + [f"  {t}" for t in targets] + [""]
    words = re.sub(r"\bDONE\.?\s*$", "", summary.strip()).strip()
    if words:
        lines += [words[:1500], ""]
    lines.append(f"Escalated-by: escalate ({tier}/{model})")
    return "\n".join(lines) + "\n"

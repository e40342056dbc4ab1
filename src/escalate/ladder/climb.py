"""The ladder's second step: tier after tier from the start tier up, never down.

Each tier is a fresh conversation (told what earlier tiers tried) that makes attempts until the
policy escalates or gives up; ``climb`` ends in ``Fixed`` (from an attempt), ``GaveUp`` or
``NeedsHuman``.
"""

from __future__ import annotations

from itertools import count
from typing import TYPE_CHECKING, NoReturn

from escalate.agent import prompts as prompt
from escalate.agent.session import Session
from escalate.ladder.attempt import attempt
from escalate.ladder.policy import ESCALATE, GIVE_UP, Step
from escalate.ladder.stops import GaveUp, NeedsHuman
from escalate.records.types import Decision
from escalate.roles.plan import IMPLEMENTER

if TYPE_CHECKING:
    from escalate.agent.editor import Editor
    from escalate.ladder.prepare import Climb
    from escalate.ladder.state import RunState
    from escalate.records.types import TierPlan


def climb(run: RunState, c: Climb) -> NoReturn:
    """Tier after tier from the start tier up, never down. Raises Fixed, GaveUp or NeedsHuman."""
    for index in range(c.plan.start, len(c.plan.tiers)):
        tier = c.plan.tiers[index]
        step = _tier(run, c, index, tier)
        if step.action == GIVE_UP and step.climb is not None:  # stopped below the top: not worth it
            raise GaveUp(step.climb.tier, step.reason, step.climb.reason, step.climb.to_json())
        if step.action == GIVE_UP:
            raise NeedsHuman(step.reason)
        nxt = c.plan.tiers[index + 1]
        data = step.climb.to_json() if step.climb is not None else None
        run.decision(Decision("escalate", f"{tier.name} -> {nxt.name} ({nxt.model.id})", step.reason, data))
        run.progress.line(f"escalating {tier.name} -> {nxt.name}: {step.reason}")
    raise AssertionError("the policy gives up on the top tier")  # pragma: no cover


def _tier(run: RunState, c: Climb, index: int, tier: TierPlan) -> Step:
    """One tier's conversation: attempts until the policy escalates or gives up (or Fixed)."""
    c.policy.enter_tier(index, tier.max_attempts)
    if c.history:
        c.ws.reset_to_base()  # a new tier starts from the base, not from the last failure
    session = _session(run, c, tier)
    feedback: str | None = None
    for n in count(1):
        verdict, step = attempt(run, c, session, tier, n, feedback)
        if step.action in (ESCALATE, GIVE_UP):
            return step
        feedback = prompt.feedback_message(verdict.stage, verdict.reason, c.discard_note + verdict.feedback)
    raise AssertionError("unreachable")  # pragma: no cover


def _session(run: RunState, c: Climb, tier: TierPlan) -> Session[Editor]:
    """A fresh conversation for ``tier``, told what earlier tiers tried."""
    from escalate.agent.editor import Editor

    config, task = run.config, run.task
    editor = Editor(
        c.ws.path, config.editor.protected_paths, config.editor.max_view_chars, file_lister=c.ws.files,
        write_guard=c.judge_files.refusal if c.judge_files is not None else None,  # refuses the judge
    )  # fmt: skip
    first = prompt.first_message(
        root=c.ws.path,
        task_title=task.title,
        task_text=task.text,
        target_failures=c.failures or {t: "" for t in c.targets},
        frames=c.request.frames,
        handover=prompt.handover_summary(c.history) if c.history else None,
        suite_must_pass=not c.targets,
        focus_files=c.brief.paths,
        briefing=c.brief.text(),
    )
    max_turns = config.session.max_turns
    return Session(tier, c.llm, editor, c.request.system, first, max_turns=max_turns, role=IMPLEMENTER)

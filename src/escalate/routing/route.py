"""Start tier, effort and thinking per tier, each with its reason.

``route()`` is the one place routing is decided: ``escalate fix`` (the runner), the nightly
batch and ``escalate explain`` all call it, so what explain prints is what fix does. Steps:

1. the size of the first request (``count_tokens`` on the first tier's model, else chars / 4);
2. signals -> class (``classify``), or the optional classifier call;
3. the start tier: ``start_tier`` from the config, else the cheapest tier, moved up when the
   ledger's history says the cheaper tier fails more often than its break-even
   (``learning.choose_start``); a context over ``router.context_limit_tokens`` starts on the
   strongest tier;
4. tiers whose model's context window is smaller than the context are left out;
5. per tier, effort and thinking from the class, filtered through the model's capabilities so
   no request field is one the model rejects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from escalate.errors import EscalateError
from escalate.records.types import Decision, TierPlan

if TYPE_CHECKING:
    from escalate.config import Config, TierConfig
    from escalate.llm.catalog import Catalog, ModelInfo
    from escalate.llm.protocols import ModelClient
    from escalate.records.ledger import Ledger
    from escalate.routing.first_request import ContextEstimate, FirstRequest
    from escalate.routing.learning import StartChoice
    from escalate.routing.rules import Classification
    from escalate.task import FrameLike, Task
    from escalate.validation import BaselineFacts

MIN_THINKING_BUDGET = 1024  # the API minimum for thinking {type: enabled}
OUTPUT_ROOM = 2048  # tokens kept for the answer and its tool calls next to a thinking budget
# Default thinking budgets for `enabled`-only models, before the caps (budget.max_thinking_tokens_per_call,
# max_tokens - OUTPUT_ROOM): a standard fix thinks less than a reasoning-intensive one.
DEFAULT_BUDGET = {"generative": 4096, "reasoning": 16000}
EFFORT_ORDER = ("low", "medium", "high", "xhigh", "max")


@dataclass
class Route:
    start: int  # index into `tiers`
    tiers: list[TierPlan]  # the ladder, tiers too small for the context left out
    decisions: list[Decision] = field(default_factory=list)
    classification: Classification | None = None
    context: ContextEstimate | None = None
    history: StartChoice | None = None  # the ledger evidence behind the start tier

    def to_json(self) -> dict:
        hist = self.history
        return {
            "start": self.tiers[self.start].name,
            "class": self.classification.to_json() if self.classification else None,
            "context": self.context.to_json() if self.context else None,
            "tiers": [t.to_json() for t in self.tiers],
            "history": None if hist is None else hist.to_json(),
            "decisions": [d.to_json() for d in self.decisions],
        }


def route(
    task: Task,
    baseline: BaselineFacts | None,
    config: Config,
    catalog: Catalog,
    ledger: Ledger | None = None,
    *,
    root: Path | None = None,
    request: FirstRequest | None = None,
    llm: ModelClient | None = None,
    repo: str | None = None,
) -> Route:
    """Plan the ladder for one task; every choice is a ``Decision`` with its reason.

    `baseline` (a ``validate.Baseline`` or None) gives the failing targets' tracebacks, read
    relative to `root`; `request` is the first request (``context.first_request``) whose size
    is measured; `llm` (an ``llm.ModelClient``) counts tokens and makes the optional classifier
    call. Without them (the nightly batch) the context is unknown and no call is made. `repo`
    names the repository in the ledger (``runs.repo``): its history weighs most for the start.
    """
    from escalate.routing.rules import classify, gather_signals

    decisions: list[Decision] = []
    models = [catalog.resolve(t, i) for i, t in enumerate(config.tiers)]
    for tier, model in zip(config.tiers, models, strict=True):
        if tier.line is not None:
            decisions.append(
                Decision(
                    "model",
                    f"{tier.name}: {model.id}",
                    f"newest active {tier.line} model in {catalog.describe()}",
                )
            )

    context = None
    if request is not None:
        from escalate.routing.first_request import estimate

        context = estimate(request, models[0], llm)
        decisions.append(Decision("context", f"{context.tokens:,} tokens", context.describe()))

    frames = request.frames if request is not None else _frames(baseline, root)
    signals = gather_signals(
        task, frames=frames, context_tokens=context.tokens if context else None, root=root
    )
    klass = classify(signals, config.router)
    decisions.append(Decision("class", klass.label, "; ".join(klass.reasons)))
    over_limit = context is not None and context.tokens > config.router.context_limit_tokens
    if config.router.classifier_call and not over_limit:
        klass = _classifier(llm, config, catalog, models, klass, decisions)
    elif config.router.classifier_call:
        decisions.append(
            Decision(
                "classifier", "not asked", "the context is over router.context_limit_tokens: strongest tier"
            )
        )

    start, reason, history = _start(config, klass, models, ledger, over_limit, repo, task)
    usable = _fitting(config, models, context, decisions)
    if start not in usable:
        above = [i for i in usable if i > start]
        if not above:
            raise EscalateError(
                f"No tier from {config.tiers[start].name} up has a context window for "
                f"{context.tokens:,} tokens. Add a tier whose model has a larger window (`escalate models` "
                f"lists them) or narrow the task."
            )
        reason += (
            f"; {config.tiers[start].name}'s window is too small: starting at {config.tiers[above[0]].name}"
        )
        start = above[0]
    decisions.append(Decision("start_tier", f"{config.tiers[start].name} ({models[start].id})", reason))

    plans = []
    for i in usable:
        plans.append(plan_tier(config.tiers[i], models[i], klass, config, decisions))
    return Route(usable.index(start), plans, decisions, klass, context, history)


def _frames(baseline: BaselineFacts | None, root: Path | None) -> list[FrameLike]:
    if baseline is None or root is None:
        return []
    from escalate.task import traceback_frames

    frames: list[FrameLike] = []
    for output in baseline.target_failures.values():
        frames += [f for f in traceback_frames(output, Path(root)) if f not in frames]
    return frames


def _classifier(
    llm: ModelClient | None,
    config: Config,
    catalog: Catalog,
    models: list[ModelInfo],
    rules: Classification,
    decisions: list,
) -> Classification:
    from escalate.routing.classifier_call import ask
    from escalate.routing.rules import find_tier

    if llm is None:
        decisions.append(
            Decision("classifier", "not asked", "no API client (no key): the keyword rules decide")
        )
        return rules
    i = find_tier(config.tiers, "haiku")
    answer = ask(llm, models[i], config.tiers[i].name, rules)
    if answer.klass is None:
        decisions.append(Decision("classifier", f"fallback: {rules.label}", answer.note))
        return rules
    decisions.append(Decision("classifier", answer.klass.label, "; ".join(answer.klass.reasons)))
    return answer.klass


def _start(
    config: Config,
    klass: Classification,
    models: list[ModelInfo],
    ledger: Ledger | None,
    over_limit: bool,
    repo: str | None,
    task: Task,
) -> tuple[int, str, StartChoice | None]:
    from escalate.routing.learning import choose_start
    from escalate.routing.rules import start_for

    names = [t.name for t in config.tiers]
    if config.start_tier is not None:
        return names.index(config.start_tier), "start_tier is set in the config (or --start-tier)", None
    rule = start_for(klass, config.tiers, config.router)
    if over_limit:
        return rule.index, f"{rule.reason} (routing report); the ledger is not consulted for it", None
    ids = {t.name: m.id for t, m in zip(config.tiers, models, strict=True)}
    choice = choose_start(
        ledger, klass, config.tiers, config.router, repo=repo, task_id=task.slug, models=ids
    )
    return choice.index, f"{klass.label}: {choice.reason}", choice


def _fitting(
    config: Config, models: list[ModelInfo], context: ContextEstimate | None, decisions: list[Decision]
) -> list[int]:
    """Indexes of the tiers whose model's context window holds the context (all when unknown)."""
    usable = []
    for i, (tier, model) in enumerate(zip(config.tiers, models, strict=True)):
        if context is not None and context.tokens > model.context_window:
            decisions.append(
                Decision(
                    "skip",
                    f"{tier.name} ({model.id})",
                    f"the context of {context.tokens:,} tokens does not fit {model.id}'s "
                    f"{model.context_window:,}-token context window",
                )
            )
        else:
            usable.append(i)
    return usable


def plan_tier(
    tier: TierConfig,
    model: ModelInfo,
    klass: Classification | None,
    config: Config,
    decisions: list[Decision],
) -> TierPlan:
    """One tier's request settings for this class, legal for the model; a Decision for each."""
    from escalate.routing.rules import TierSetting, settings_for

    if klass is not None:
        setting = settings_for(klass, tier, config.router)
    else:  # no class (a caller without signals): only what the tier configures
        on = tier.thinking_budget is not None
        setting = TierSetting(on, tier.effort, "tiers[].thinking_budget / tiers[].effort")
    caps = model.capabilities
    max_tokens = tier.max_tokens
    if max_tokens > model.max_output:
        max_tokens = model.max_output
        decisions.append(
            Decision(
                "max_tokens",
                f"{tier.name}: {max_tokens}",
                f"tiers[].max_tokens={tier.max_tokens} is over {model.id}'s output limit",
            )
        )
    t_why, e_why = (setting.reason.split("; ", 1) + [""])[:2]
    always_on = bool(caps.thinking_types) and not (caps.thinking_types & {"disabled", "enabled"})
    effort, e_choice, e_why = _effort(setting.effort, caps.effort_levels, model, e_why)
    if (
        effort is None
        and setting.effort is None
        and always_on
        and not setting.thinking
        and "low" in caps.effort_levels
    ):
        # Thinking cannot be turned off on this model: low effort keeps it short (anti-pattern 4).
        effort, e_choice = "low", "low"
        e_why = f"{model.id} always thinks and this task needs none: effort low keeps the thinking short"
    decisions.append(Decision("effort", f"{tier.name}: {e_choice}", e_why))

    thinking, max_tokens, choice, why = _thinking(
        tier, model, setting.thinking, klass, config, max_tokens, t_why
    )
    decisions.append(Decision("thinking", f"{tier.name}: {choice}", why))
    return TierPlan(tier.name, model, tier.max_attempts, max_tokens, effort, thinking)


def _effort(
    want: str | None, levels: frozenset[str], model: ModelInfo, why: str
) -> tuple[str | None, str, str]:
    """(effort to send, choice text, reason)."""
    if want is None:
        return None, "model default", why or "model default effort"
    if want in levels:
        return want, want, why
    if not levels:
        return None, "not sent", f"{why}, but {model.id} takes no effort parameter"
    lower = [lvl for lvl in EFFORT_ORDER[: EFFORT_ORDER.index(want)] if lvl in levels]
    if lower:
        return lower[-1], lower[-1], f"{why}, but {model.id} offers up to {lower[-1]} below it"
    return None, "not sent", f"{why}, but {model.id} does not offer it (offers {', '.join(sorted(levels))})"


def _thinking(
    tier: TierConfig,
    model: ModelInfo,
    wanted: bool,
    klass: Classification | None,
    config: Config,
    max_tokens: int,
    why: str,
) -> tuple[dict | None, int, str, str]:
    """(thinking field, max_tokens, choice text, reason), legal for the model's thinking types."""
    types = model.capabilities.thinking_types
    cap = config.budget.max_thinking_tokens_per_call
    always_on = bool(types) and not (types & {"disabled", "enabled"})
    if not wanted:
        note = f"; {model.id} cannot turn thinking off (it thinks adaptively)" if always_on else ""
        return None, max_tokens, "off", why + note
    if cap < MIN_THINKING_BUDGET:
        note = f"; {model.id} thinks anyway, bounded by max_tokens={max_tokens}" if always_on else ""
        return None, max_tokens, "off", f"{why}, but budget.max_thinking_tokens_per_call={cap}{note}"
    if "adaptive" in types:
        # Adaptive thinking has no budget field: max_tokens bounds thinking plus answer.
        limit = cap + OUTPUT_ROOM
        note = f"max_tokens={max_tokens} bounds thinking and answer"
        if max_tokens > limit:
            max_tokens = limit
            note = (
                f"max_tokens lowered to {limit} (budget.max_thinking_tokens_per_call={cap} + {OUTPUT_ROOM} "
                f"for the answer) to cap thinking"
            )
        return {"type": "adaptive"}, max_tokens, "adaptive", f"{why}; {model.id} thinks adaptively, {note}"
    if "enabled" in types:
        if tier.thinking_budget is not None:
            budget, room = tier.thinking_budget, 1
        else:
            budget, room = DEFAULT_BUDGET.get(klass.complexity if klass else "", 4096), OUTPUT_ROOM
        budget = min(budget, cap, max_tokens - room)
        if budget < MIN_THINKING_BUDGET:
            return (
                None,
                max_tokens,
                "off",
                (
                    f"{why}, but there is no room for the {MIN_THINKING_BUDGET}-token minimum budget under "
                    f"max_tokens={max_tokens} and budget.max_thinking_tokens_per_call={cap}"
                ),
            )
        return (
            {"type": "enabled", "budget_tokens": budget},
            max_tokens,
            f"enabled, {budget} tokens",
            f"{why}; budget capped by budget.max_thinking_tokens_per_call={cap} and max_tokens={max_tokens}",
        )
    return None, max_tokens, "off", f"{why}, but {model.id} offers no extended thinking"

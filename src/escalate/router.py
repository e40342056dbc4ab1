"""Start tier, effort and thinking per tier, each with its reason.

This first version is rule-based: the start tier comes from the config, effort and thinking
from each tier's config filtered through the model's capabilities. The classifier-driven
router grows from here and keeps ``route(...)``'s contract.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from escalate.catalog import Catalog, ModelInfo
    from escalate.config import Config, TierConfig

MIN_THINKING_BUDGET = 1024  # the API minimum for thinking {type: enabled}


@dataclass
class Decision:
    kind: str  # "start_tier", "effort", "thinking", "escalate", "outcome", ...
    choice: str
    reason: str


@dataclass
class TierPlan:
    name: str
    model: ModelInfo
    max_attempts: int
    max_tokens: int
    effort: str | None
    thinking: dict | None


@dataclass
class Route:
    start: int
    tiers: list[TierPlan]
    decisions: list[Decision] = field(default_factory=list)


def route(task: Any, baseline: Any, config: Config, catalog: Catalog, ledger: Any = None) -> Route:
    """Plan the ladder for one task. ``task``, ``baseline`` and ``ledger`` feed later rules."""
    decisions: list[Decision] = []
    plans = [
        plan_tier(t, catalog.resolve(t), config.budget.max_thinking_tokens_per_call, decisions)
        for t in config.tiers
    ]
    if config.start_tier is not None:
        start = [t.name for t in config.tiers].index(config.start_tier)
        reason = "start_tier is set in the config (or --start-tier)"
    else:
        start = 0
        reason = "cheapest tier first; escalate on failure (routing report, step 3)"
    decisions.insert(0, Decision("start_tier", f"{plans[start].name} ({plans[start].model.id})", reason))
    return Route(start=start, tiers=plans, decisions=decisions)


def plan_tier(tier: TierConfig, model: ModelInfo, max_thinking: int, decisions: list[Decision]) -> TierPlan:
    """One tier's request settings, legal for the model; a Decision for each setting chosen."""
    caps = model.capabilities
    effort = None
    if tier.effort is None:
        decisions.append(Decision("effort", f"{tier.name}: model default", "tiers[].effort is not set"))
    elif tier.effort in caps.effort_levels:
        effort = tier.effort
        decisions.append(Decision("effort", f"{tier.name}: {effort}", "tiers[].effort in the config"))
    else:
        supported = ", ".join(sorted(caps.effort_levels)) or "none"
        decisions.append(
            Decision(
                "effort",
                f"{tier.name}: not sent",
                f"{model.id} does not accept effort {tier.effort!r} (supported: {supported})",
            )
        )
    thinking = _thinking(tier, model, max_thinking, decisions)
    return TierPlan(tier.name, model, tier.max_attempts, tier.max_tokens, effort, thinking)


def _thinking(
    tier: TierConfig, model: ModelInfo, max_thinking: int, decisions: list[Decision]
) -> dict | None:
    types = model.capabilities.thinking_types
    if tier.thinking_budget is None:
        # Thinking is billed as output and hurts simple tasks (anti-pattern 4): opt-in per tier.
        decisions.append(Decision("thinking", f"{tier.name}: off", "tiers[].thinking_budget is not set"))
        return None
    if "adaptive" in types:
        decisions.append(
            Decision(
                "thinking",
                f"{tier.name}: adaptive",
                f"tiers[].thinking_budget is set; {model.id} offers adaptive thinking (preferred)",
            )
        )
        return {"type": "adaptive"}
    if "enabled" in types:
        budget = min(tier.thinking_budget, max_thinking, tier.max_tokens - 1)
        if budget < MIN_THINKING_BUDGET:
            decisions.append(
                Decision(
                    "thinking",
                    f"{tier.name}: off",
                    f"no room for the 1024-token minimum budget under max_tokens={tier.max_tokens} "
                    f"and budget.max_thinking_tokens_per_call={max_thinking}",
                )
            )
            return None
        decisions.append(
            Decision("thinking", f"{tier.name}: enabled, {budget} tokens", "tiers[].thinking_budget, capped")
        )
        return {"type": "enabled", "budget_tokens": budget}
    decisions.append(Decision("thinking", f"{tier.name}: off", f"{model.id} does not offer thinking"))
    return None

"""Phase presets: how the ladder is laid out around the roles (``roles.preset``, ``fix --preset``).

- ``ladder``: the router's start tier, escalating upward; the roles as configured.
- ``plan-execute``: the planner writes a plan (on its tier: the top one by default) and the
  implementer starts on the middle tier; on failure the ladder climbs to the top as usual
  (Claude Code's ``opusplan``, Aider's architect/editor).
- ``single``: the start tier's model alone, no roles, no escalation: the baseline to compare with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from escalate.records.types import Decision

if TYPE_CHECKING:
    from escalate.config import Config
    from escalate.routing.route import Route

PRESETS = ("ladder", "plan-execute", "single")


def apply_preset(route: Route, config: Config) -> list[Decision]:
    """Reshape ``route`` for ``config.roles.preset``; the decisions it made."""
    preset = config.roles.preset
    if preset == "single":
        start = route.tiers[route.start]
        dropped = [t.name for t in route.tiers if t is not start]
        route.tiers = [start]
        route.start = 0
        why = "one model and no escalation: a baseline run"
        if dropped:
            why += f" (tiers not used: {', '.join(dropped)})"
        return [Decision("preset", f"single: {start.name} ({start.model.id})", why)]
    if preset == "plan-execute":
        middle = len(route.tiers) // 2 if len(route.tiers) > 2 else 0
        if config.start_tier is not None:
            return [Decision("preset", "plan-execute", "start_tier is set: the implementer starts there")]
        moved = f" (the router chose {route.tiers[route.start].name})" if middle != route.start else ""
        route.start = middle
        tier = route.tiers[middle]
        why = f"planner plans, the middle tier implements, the ladder climbs on failure (opusplan){moved}"
        return [Decision("preset", f"plan-execute: implementer on {tier.name} ({tier.model.id})", why)]
    return [Decision("preset", "ladder", "cheapest capable tier first, escalating on failure")]

"""The simulated API's own model catalogue (``models.yml``): limits, capabilities and prices.

This is the server's view of the world, deliberately separate from the runner's
``escalate.llm.catalog``: the server is the judge the runner is tested against, so it
keeps its own prices and computes what each request was charged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path

import yaml

from escalate.errors import ConfigError

EFFORT_LEVELS = ("low", "medium", "high", "xhigh", "max")
THINKING_TYPES = ("enabled", "adaptive", "disabled", "between_tools")
MTOK = Decimal(1_000_000)


@dataclass(frozen=True)
class PriceTier:
    """USD per million tokens for prompts up to ``max_prompt_tokens`` (None = no bound)."""

    max_prompt_tokens: int | None
    input: Decimal
    output: Decimal
    cache_write_5m: Decimal
    cache_write_1h: Decimal
    cache_read: Decimal


@dataclass(frozen=True)
class SimModel:
    id: str
    display_name: str
    line: str | None
    created_at: str
    lifecycle: str
    deprecated_at: str | None
    retires_at: str | None
    context_window: int
    max_output: int
    min_cacheable_tokens: int
    tokenizer: float
    effort: tuple[str, ...]
    effort_default: str
    thinking: tuple[str, ...]
    thinking_display_default: str
    disabled_max_effort: str | None
    forced_tool_choice: bool
    prefill: bool
    sampling: bool
    batch: bool
    price_tiers: tuple[PriceTier, ...]

    def prices_for(self, prompt_tokens: int) -> PriceTier:
        for tier in self.price_tiers:
            if tier.max_prompt_tokens is None or prompt_tokens <= tier.max_prompt_tokens:
                return tier
        return self.price_tiers[-1]

    def charge(self, usage: dict, *, batch: bool = False) -> Decimal:
        """USD for one response's usage (the wire ``usage`` dict), batch at 50%."""
        cache = usage.get("cache_creation") or {}
        w5 = cache.get("ephemeral_5m_input_tokens", usage.get("cache_creation_input_tokens") or 0)
        w1 = cache.get("ephemeral_1h_input_tokens", 0)
        read = usage.get("cache_read_input_tokens") or 0
        prompt = usage["input_tokens"] + w5 + w1 + read
        p = self.prices_for(prompt)
        total = (
            usage["input_tokens"] * p.input
            + w5 * p.cache_write_5m
            + w1 * p.cache_write_1h
            + read * p.cache_read
            + usage["output_tokens"] * p.output
        ) / MTOK
        return total / 2 if batch else total

    def to_api(self) -> dict:
        """The ``GET /v1/models/{id}`` object, with every capability key SDK 2.14 knows."""

        def sup(flag: bool) -> dict:
            return {"supported": bool(flag)}

        thinks = bool(set(self.thinking) - {"disabled"})
        new_gen = self.tokenizer > 1.0
        return {
            "type": "model",
            "id": self.id,
            "display_name": self.display_name,
            "created_at": self.created_at,
            "lifecycle": self.lifecycle,
            "line": self.line,
            "deprecated_at": self.deprecated_at,
            "retires_at": self.retires_at,
            "max_input_tokens": self.context_window,
            "max_tokens": self.max_output,
            "capabilities": {
                "batch": sup(self.batch),
                "citations": sup(True),
                "code_execution": sup(new_gen),
                "context_management": {
                    "supported": True,
                    "clear_thinking_20251015": sup(thinks),
                    "clear_tool_uses_20250919": sup(True),
                    "compact_20260112": sup(new_gen),
                },
                "effort": {
                    "supported": bool(self.effort),
                    **{lv: sup(lv in self.effort) for lv in EFFORT_LEVELS},
                },
                "image_input": sup(True),
                "pdf_input": sup(True),
                "server_tools": {"supported": True, "code_execution": sup(True), "web_search": sup(True)},
                "structured_outputs": sup(True),
                "thinking": {
                    "supported": thinks,
                    # "disabled" is true on a model that does not think at all (SDK docstring).
                    "types": {
                        t: sup(t in self.thinking or (t == "disabled" and not thinks)) for t in THINKING_TYPES
                    },
                },
            },
        }


def _iso(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return f"{value.isoformat()}T00:00:00Z"
    return str(value)


def _tier(raw: dict, where: str) -> PriceTier:
    try:
        return PriceTier(
            max_prompt_tokens=raw.get("max_prompt_tokens"),
            **{
                k: Decimal(str(raw[k]))
                for k in ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")
            },
        )
    except KeyError as exc:
        raise ConfigError(
            f"sim catalogue: {where} has no price {exc.args[0]!r}; add it to models.yml"
        ) from None


def _model(model_id: str, raw: dict) -> SimModel:
    prices = raw.get("prices") or {}
    tiers = prices.get("tiers") or [prices]
    effort = tuple(raw.get("effort") or ())
    return SimModel(
        id=model_id,
        display_name=raw.get("display_name", model_id),
        line=raw.get("line"),
        created_at=_iso(raw.get("created_at")) or "1970-01-01T00:00:00Z",
        lifecycle=raw.get("lifecycle", "active"),
        deprecated_at=_iso(raw.get("deprecated_at")),
        retires_at=_iso(raw.get("retires_at")),
        context_window=int(raw["context_window"]),
        max_output=int(raw["max_output"]),
        min_cacheable_tokens=int(raw["min_cacheable_tokens"]),
        tokenizer=float(raw.get("tokenizer", 1.0)),
        effort=effort,
        effort_default=raw.get("effort_default", "high" if effort else ""),
        thinking=tuple(raw.get("thinking") or ("disabled",)),
        thinking_display_default=raw.get("thinking_display_default", "summarized"),
        disabled_max_effort=raw.get("disabled_max_effort"),
        forced_tool_choice=bool(raw.get("forced_tool_choice", True)),
        prefill=bool(raw.get("prefill", True)),
        sampling=bool(raw.get("sampling", True)),
        batch=bool(raw.get("batch", True)),
        price_tiers=tuple(_tier(t, f"models.{model_id}.prices") for t in tiers),
    )


class SimCatalogue:
    """Models by id, in the order the Models API lists them (newest first)."""

    def __init__(self, models: list[SimModel]):
        self.models = sorted(models, key=lambda m: m.created_at, reverse=True)
        self._by_id = {m.id: m for m in self.models}

    @classmethod
    def load(cls, path: Path | None = None) -> SimCatalogue:
        if path is None:
            text = resources.files("escalate.sim").joinpath("models.yml").read_text(encoding="utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
        raw = yaml.safe_load(text) or {}
        return cls([_model(mid, spec) for mid, spec in (raw.get("models") or {}).items()])

    def get(self, model_id: str) -> SimModel | None:
        return self._by_id.get(model_id)

    def __contains__(self, model_id: str) -> bool:
        return model_id in self._by_id

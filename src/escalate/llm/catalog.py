"""Model ids, lines and capabilities: the Models API (cached on disk) with a static fallback.

Which request fields a model accepts is read from its capabilities, never guessed from its
name, so a new model is a data change. ``catalog.source`` says where the facts came from
("api", "cache" or "static") so a routing decision can say it.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from escalate.config.schema import MODEL_LINES
from escalate.errors import EscalateError
from escalate.llm import load_data_yaml

if TYPE_CHECKING:
    from escalate.config import Config, TierConfig
    from escalate.llm.protocols import Provider

EFFORT_LEVELS = ("low", "medium", "high", "xhigh", "max")
THINKING_TYPES = ("enabled", "adaptive", "disabled", "between_tools")
RETIREMENT_WARNING_DAYS = 60
# Not in the Models API; when a listed model is not in the static table: the API's default minimum.
DEFAULT_MIN_CACHEABLE = 1024
CACHE_FORMAT = 1


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def _supported(obj: Any) -> bool:
    return bool(_get(obj, "supported"))


def _to_date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).date()


@dataclass(frozen=True)
class Capabilities:
    effort_levels: frozenset[str]  # empty = the model rejects output_config.effort
    thinking_types: frozenset[str]  # subset of THINKING_TYPES
    forced_tool_choice: bool  # tool_choice any/tool allowed; False on the 5.5 generation
    prefill: bool  # a final assistant message allowed; False on Claude 4.6 and later
    batch: bool

    @classmethod
    def from_api(cls, caps: Any, known: Capabilities | None = None) -> Capabilities:
        """Parse the Models API `capabilities` (SDK object or dict).

        Forced tool choice and prefill are not in the API: they come from `known` (the static
        table) when given, else are inferred conservatively: forced tool choice only when thinking
        can be disabled, prefill never.
        """
        effort = _get(caps, "effort")
        levels = frozenset(
            lvl for lvl in EFFORT_LEVELS if _supported(effort) and _supported(_get(effort, lvl))
        )
        types_ = _get(_get(caps, "thinking"), "types")
        thinking = frozenset(t for t in THINKING_TYPES if _supported(_get(types_, t)))
        if known is not None:
            forced, prefill = known.forced_tool_choice, known.prefill
        else:
            forced, prefill = "disabled" in thinking or not thinking, False
        return cls(levels, thinking, forced, prefill, _supported(_get(caps, "batch")))

    def to_json(self) -> dict:
        return {
            "effort_levels": [lvl for lvl in EFFORT_LEVELS if lvl in self.effort_levels],
            "thinking_types": [t for t in THINKING_TYPES if t in self.thinking_types],
            "forced_tool_choice": self.forced_tool_choice,
            "prefill": self.prefill,
            "batch": self.batch,
        }


@dataclass(frozen=True)
class ModelInfo:
    id: str
    line: str | None
    display_name: str
    lifecycle: str  # active | deprecated | retired
    context_window: int
    max_output: int
    min_cacheable_tokens: int
    retires_at: date | None
    capabilities: Capabilities
    created_at: date | None = None
    deprecated_at: date | None = None

    @property
    def active(self) -> bool:
        return self.lifecycle == "active"

    def to_json(self) -> dict:
        iso = lambda d: d.isoformat() if d else None  # noqa: E731
        return {
            "id": self.id,
            "line": self.line,
            "display_name": self.display_name,
            "lifecycle": self.lifecycle,
            "context_window": self.context_window,
            "max_output": self.max_output,
            "min_cacheable_tokens": self.min_cacheable_tokens,
            "created_at": iso(self.created_at),
            "deprecated_at": iso(self.deprecated_at),
            "retires_at": iso(self.retires_at),
            "capabilities": self.capabilities.to_json(),
        }


def _static_model(model_id: str, row: Mapping[str, Any]) -> ModelInfo:
    caps = Capabilities(
        effort_levels=frozenset(row.get("effort") or ()),
        thinking_types=frozenset(row.get("thinking") or ()),
        forced_tool_choice=bool(row.get("forced_tool_choice", False)),
        prefill=bool(row.get("prefill", False)),
        batch=bool(row.get("batch", False)),
    )
    return ModelInfo(
        id=model_id,
        line=row.get("line"),
        display_name=row.get("display_name", model_id),
        lifecycle=row.get("lifecycle", "active"),
        context_window=int(row["context_window"]),
        max_output=int(row["max_output"]),
        min_cacheable_tokens=int(row.get("min_cacheable_tokens", DEFAULT_MIN_CACHEABLE)),
        retires_at=_to_date(row.get("retires_at")),
        capabilities=caps,
        created_at=_to_date(row.get("created_at")),
        deprecated_at=_to_date(row.get("deprecated_at")),
    )


def _api_model(raw: Any, static: ModelInfo | None) -> ModelInfo:
    """A Models API entry (SDK object or dict), completed by static facts the API does not give."""
    caps = Capabilities.from_api(_get(raw, "capabilities"), static.capabilities if static else None)
    return ModelInfo(
        id=_get(raw, "id"),
        line=_get(raw, "line"),
        display_name=_get(raw, "display_name") or _get(raw, "id"),
        lifecycle=_get(raw, "lifecycle") or "active",
        context_window=_get(raw, "max_input_tokens") or (static.context_window if static else 200_000),
        max_output=_get(raw, "max_tokens") or (static.max_output if static else 8_192),
        min_cacheable_tokens=static.min_cacheable_tokens if static else DEFAULT_MIN_CACHEABLE,
        retires_at=_to_date(_get(raw, "retires_at")),
        capabilities=caps,
        created_at=_to_date(_get(raw, "created_at")),
        deprecated_at=_to_date(_get(raw, "deprecated_at")),
    )


def _static_table() -> dict[str, ModelInfo]:
    return dict(_bundled_models())


@functools.cache
def _bundled_models() -> dict[str, ModelInfo]:
    """data/models.yml, read once per process (a run reads it for the static and the API catalogue)."""
    text = resources.files("escalate").joinpath("data/models.yml").read_text(encoding="utf-8")
    return {mid: _static_model(mid, row) for mid, row in load_data_yaml(text)["models"].items()}


class Catalog:
    """The models escalate may use, and where their facts came from."""

    def __init__(
        self, models: dict[str, ModelInfo], source: str, note: str = "", fetched_at: float | None = None
    ):
        self.models = models
        self.source = source  # "api" | "cache" | "static"
        self.note = note  # why this source, e.g. the API error behind a fallback
        self.fetched_at = fetched_at

    @classmethod
    def static(cls, note: str = "data/models.yml") -> Catalog:
        return cls(_static_table(), "static", note)

    @classmethod
    def from_api(cls, provider: Provider, cache_path: Path, ttl_s: int) -> Catalog:
        """The provider's Models API, cached in `cache_path` for `ttl_s` seconds.

        If the API fails, a stale cache is used, then the static table; `source` and `note` say which.
        """
        from escalate.llm.protocols import ProviderError

        cache_path = Path(cache_path)
        base_url = provider.base_url
        cached = _read_cache(cache_path, base_url)
        static = _static_table()
        if cached and time.time() - cached["fetched_at"] < ttl_s:
            models = {m["id"]: _api_model(m, static.get(m["id"])) for m in cached["models"]}
            return cls(models, "cache", f"fresh, in {cache_path}", cached["fetched_at"])
        try:
            raw = provider.list_models()
        except ProviderError as exc:
            reason = str(exc)
            if cached:
                models = {m["id"]: _api_model(m, static.get(m["id"])) for m in cached["models"]}
                return cls(models, "cache", f"stale, in {cache_path}; {reason}", cached["fetched_at"])
            return cls(static, "static", reason)
        now = time.time()
        try:
            _write_cache(cache_path, base_url, raw, now)
        except OSError:
            pass  # a read-only checkout only loses the cache, not the answer
        models = {m["id"]: _api_model(m, static.get(m["id"])) for m in raw}
        return cls(models, "api", base_url, now)

    @classmethod
    def load(cls, repo_root: Path, config: Config, *, offline: bool = False) -> Catalog:
        """The catalogue a command should use: the Models API when a key is set, else the static table."""
        if offline:
            return cls.static("--offline")
        if not (os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN")):
            return cls.static("ANTHROPIC_API_KEY is not set")
        from escalate.llm.providers import default_provider

        cache = Path(repo_root) / ".escalate" / "models.json"  # the provider reads ANTHROPIC_BASE_URL
        return cls.from_api(default_provider(timeout=30), cache, config.router.capability_cache_ttl_s)

    def get(self, model_id: str, key: str = "the model id") -> ModelInfo:
        """The model `model_id`; EscalateError naming `key` (e.g. "tiers[1].model") when unknown."""
        try:
            return self.models[model_id]
        except KeyError:
            known = ", ".join(sorted(self.models)) or "(none)"
            raise EscalateError(
                f"Unknown model {model_id!r}: not in {self.describe()}. Set {key} to one of: {known}; "
                f"or use `line:` ({', '.join(MODEL_LINES)}) to pick the newest model of a line."
            ) from None

    def resolve(self, tier: TierConfig, index: int | None = None) -> ModelInfo:
        """The model of a tier: its `model`, or the newest active model of its `line`."""
        where = f"tiers[{index}]" if index is not None else f"tiers[name={tier.name}]"
        if tier.model is not None:
            model = self.get(tier.model, f"{where}.model")
            if model.lifecycle == "retired":
                raise EscalateError(
                    f"Model {model.id!r} (tier {tier.name!r}) is retired. Set {where}.model to a current "
                    f"model or {where}.line to {model.line or 'a model line'}."
                )
            return model
        candidates = [m for m in self.models.values() if m.line == tier.line and m.active]
        if not candidates:
            lines = ", ".join(sorted({m.line for m in self.models.values() if m.line and m.active}))
            raise EscalateError(
                f"No active model in line {tier.line!r} for tier {tier.name!r} ({self.describe()}). "
                f"Set {where}.line to one of: {lines}; or set {where}.model to a model id."
            )
        return max(candidates, key=lambda m: (m.created_at or date.min, m.id))

    def warnings(self, model: ModelInfo, today: date | None = None) -> list[str]:
        """Deprecation and near retirement (within 60 days) notices for `model`."""
        today = today or datetime.now(UTC).date()
        out = []
        if model.lifecycle == "deprecated":
            when = f"; it retires on {model.retires_at.isoformat()}" if model.retires_at else ""
            out.append(f"{model.id} is deprecated{when}. Move its tier to a newer model or a `line:`.")
        elif model.retires_at and model.retires_at - today <= timedelta(days=RETIREMENT_WARNING_DAYS):
            out.append(
                f"{model.id} retires on {model.retires_at.isoformat()}. Move its tier to a newer model."
            )
        return out

    def describe(self) -> str:
        names = {
            "api": "the Models API",
            "cache": "the cached Models API answer",
            "static": "the built-in table",
        }
        return f"{names[self.source]} ({self.note})" if self.note else names[self.source]

    def __contains__(self, model_id: str) -> bool:
        return model_id in self.models


def _read_cache(path: Path, base_url: str) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT or data.get("base_url") != base_url:
        return None  # another server's answer (the simulator vs the real API) is not ours to reuse
    return data


def _write_cache(path: Path, base_url: str, models: list[dict], fetched_at: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    body = {"format": CACHE_FORMAT, "base_url": base_url, "fetched_at": fetched_at, "models": models}
    tmp.write_text(json.dumps(body, indent=1), encoding="utf-8")
    tmp.replace(path)  # atomic: parallel runs never read half a file

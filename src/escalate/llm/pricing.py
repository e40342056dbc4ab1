"""Usage -> dollars, exactly: per-MTok prices as Decimal, cache multipliers, batch discount,
long-context tiers. Budgets are checked against the worst case before a call is sent.

A cost never silently reads 0: a model without a price is a PriceError naming the config key.
Thinking tokens are billed as output and the API already counts them inside
``usage.output_tokens``; ``Usage.thinking_tokens`` is informational and never priced again.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, fields
from decimal import ROUND_HALF_EVEN, Decimal
from importlib import resources
from typing import Any

from escalate.errors import PriceError
from escalate.llm import load_data_yaml

MTOK = Decimal(1_000_000)
# Cache prices relative to the input price when a row does not give them (documented multipliers).
CACHE_MULTIPLIERS = {
    "cache_write_5m": Decimal("1.25"),
    "cache_write_1h": Decimal("2"),
    "cache_read": Decimal("0.1"),
}
PRICE_FIELDS = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")


def _dec(value: Any) -> Decimal:
    # str() first: a YAML float like 0.125 becomes Decimal("0.125"), not its binary expansion.
    return value if isinstance(value, Decimal) else Decimal(str(value))


def usd(amount: Decimal) -> float:
    """Dollars for files (JSONL, JSON, SQLite): a float rounded to 6 decimals."""
    return float(_dec(amount).quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN))


def fmt_usd(amount: Decimal | float) -> str:
    """Dollars for people: 4 decimals, trailing zeros trimmed to cents ("$0.0135", "$2.00")."""
    d = _dec(amount)
    q = d.quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN)
    if q == 0 and d != 0:  # tiny but not free: show two significant digits instead of "$0.00"
        return f"${Decimal(f'{d:.2g}'):f}"
    text = f"{q:.4f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"${whole}.{frac.ljust(2, '0')}"


@dataclass(frozen=True)
class Usage:
    """Token counts of one response (or a sum of responses)."""

    input_tokens: int = 0
    output_tokens: int = 0  # includes thinking tokens, as the API bills them
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    cache_read: int = 0
    thinking_tokens: int = 0  # informational: already inside output_tokens

    @classmethod
    def from_api(cls, usage: Any) -> Usage:
        """From the SDK's `Usage` object or its dict form; absent or None fields count 0."""
        if isinstance(usage, Usage):
            return usage

        def get(obj: Any, name: str) -> Any:
            if obj is None:
                return None
            return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)

        creation = get(usage, "cache_creation")
        write_5m = get(creation, "ephemeral_5m_input_tokens") or 0
        write_1h = get(creation, "ephemeral_1h_input_tokens") or 0
        # Without the breakdown (or with one that falls short of the total), the rest was written
        # with the default 5-minute TTL: a write is never dropped from the bill.
        write_5m += max(0, (get(usage, "cache_creation_input_tokens") or 0) - write_5m - write_1h)
        return cls(
            input_tokens=get(usage, "input_tokens") or 0,
            output_tokens=get(usage, "output_tokens") or 0,
            cache_write_5m=write_5m,
            cache_write_1h=write_1h,
            cache_read=get(usage, "cache_read_input_tokens") or 0,
            thinking_tokens=get(get(usage, "output_tokens_details"), "thinking_tokens") or 0,
        )

    @property
    def cache_write_tokens(self) -> int:
        return self.cache_write_5m + self.cache_write_1h

    @property
    def prompt_tokens(self) -> int:
        """Everything sent: input after the last breakpoint + cache writes + cache reads."""
        return self.input_tokens + self.cache_write_5m + self.cache_write_1h + self.cache_read

    def __add__(self, other: Usage) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        return Usage(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


@dataclass(frozen=True)
class Rate:
    """One price row, USD per MTok; `max_prompt_tokens` None = no upper bound."""

    input: Decimal
    output: Decimal
    cache_write_5m: Decimal
    cache_write_1h: Decimal
    cache_read: Decimal
    max_prompt_tokens: int | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any], key: str) -> Rate:
        missing = [f for f in ("input", "output") if row.get(f) is None]
        if missing:
            keys = " and ".join(f"{key}.{f}" for f in missing)
            raise PriceError(f"Incomplete price: set {keys} in .escalate.yml (USD per million tokens).")
        base = _dec(row["input"])
        derived = {
            f: _dec(row[f]) if row.get(f) is not None else base * m for f, m in CACHE_MULTIPLIERS.items()
        }
        return cls(
            input=base, output=_dec(row["output"]), max_prompt_tokens=row.get("max_prompt_tokens"), **derived
        )


@dataclass(frozen=True)
class ModelPrice:
    model_id: str
    rates: tuple[Rate, ...]  # ordered by max_prompt_tokens; the last one is unbounded
    source: str

    def rate_for(self, prompt_tokens: int) -> Rate:
        """The tier that bills a request whose prompt has `prompt_tokens` tokens (whole request, one rate)."""
        for rate in self.rates:
            if rate.max_prompt_tokens is None or prompt_tokens <= rate.max_prompt_tokens:
                return rate
        return self.rates[-1]


class PriceTable:
    """Prices from data/prices.yml plus the config's `prices` overrides."""

    def __init__(self, models: dict[str, ModelPrice], as_of: str, batch_discount: Decimal) -> None:
        self.models = models
        self.as_of = as_of
        self.batch_discount = batch_discount

    @classmethod
    def load(cls, overrides: Mapping[str, Any] | None = None) -> PriceTable:
        """Built-in table, then `overrides` (model id -> PriceOverride or dict) replacing or adding models."""
        text = resources.files("escalate").joinpath("data/prices.yml").read_text(encoding="utf-8")
        data = load_data_yaml(text)
        models: dict[str, ModelPrice] = {}
        for model_id, row in data["models"].items():
            key = f"prices.{model_id}"
            rows = row.get("tiers") or [row]
            rates = tuple(Rate.from_row(r, key) for r in rows)
            models[model_id] = ModelPrice(model_id, rates, f"prices.yml ({row.get('source', 'built-in')})")
        for model_id, override in (overrides or {}).items():
            models[model_id] = _apply_override(model_id, override, models.get(model_id))
        return cls(models, str(data["as_of"]), _dec(data["batch_discount"]))

    def price(self, model_id: str) -> ModelPrice:
        """The price entry for `model_id`; PriceError naming the config key when there is none."""
        try:
            return self.models[model_id]
        except KeyError:
            raise PriceError(
                f"No price for model {model_id!r}. Set prices.{model_id}.input and prices.{model_id}.output "
                f"in .escalate.yml (USD per million tokens)."
            ) from None

    def cost(self, model_id: str, usage: Usage, *, batch: bool = False) -> Decimal:
        """Exact dollars for one response. Thinking is inside output_tokens and is not added again."""
        rate = self.price(model_id).rate_for(usage.prompt_tokens)
        total = (
            usage.input_tokens * rate.input
            + usage.output_tokens * rate.output
            + usage.cache_write_5m * rate.cache_write_5m
            + usage.cache_write_1h * rate.cache_write_1h
            + usage.cache_read * rate.cache_read
        ) / MTOK
        return total * self.batch_discount if batch else total

    def worst_case(
        self,
        model_id: str,
        input_tokens: int,
        max_tokens: int,
        *,
        cache_write_tokens: int = 0,
        batch: bool = False,
    ) -> Decimal:
        """The most a call can cost: `input_tokens` at the input price plus `max_tokens` at the output price.

        Pass `cache_write_tokens` when the request carries breakpoints: those are priced at the 1-hour
        write rate, the dearest, since the TTL actually written is only known afterwards.
        """
        usage = Usage(input_tokens=input_tokens, output_tokens=max_tokens, cache_write_1h=cache_write_tokens)
        return self.cost(model_id, usage, batch=batch)

    def source(self, model_id: str) -> str:
        return self.price(model_id).source


def _apply_override(model_id: str, override: Any, base: ModelPrice | None) -> ModelPrice:
    given = (
        override.model_dump(exclude_none=True) if hasattr(override, "model_dump") else dict(override or {})
    )
    given = {k: v for k, v in given.items() if k in PRICE_FIELDS and v is not None}
    key = f"prices.{model_id}"
    if base is None:
        return ModelPrice(model_id, (Rate.from_row(given, key),), f"config {key}")
    # A known model: a new input price re-derives the cache prices not given; otherwise keep the
    # built-in ones. Long-context tiers collapse to one flat rate (the first tier's fields fill gaps).
    first = base.rates[0]
    row: dict[str, Any] = {
        "input": given.get("input", first.input),
        "output": given.get("output", first.output),
    }
    for f in CACHE_MULTIPLIERS:
        if f in given:
            row[f] = given[f]
        elif "input" not in given:
            row[f] = getattr(first, f)
    return ModelPrice(model_id, (Rate.from_row(row, key),), f"config {key}")


class BudgetExceeded(Exception):
    """A call would take spending past the limit; carries the numbers for the report."""

    def __init__(self, limit: Decimal, spent: Decimal, needed: Decimal) -> None:
        self.limit, self.spent, self.needed = limit, spent, needed
        super().__init__(
            f"budget exceeded: {fmt_usd(spent)} spent of {fmt_usd(limit)}, the next call may cost up to "
            f"{fmt_usd(needed)}. Raise budget.max_cost_usd to allow it."
        )


class Budget:
    """Spending for one task. `check` before every call with its worst case; `add` the real cost after."""

    def __init__(self, limit: Decimal | float | str) -> None:
        self.limit = _dec(limit)
        self.spent = Decimal(0)
        self._lock = threading.Lock()  # roles and batch collection may add from worker threads

    @property
    def remaining(self) -> Decimal:
        return self.limit - self.spent

    def check(self, worst_case: Decimal) -> None:
        """Raise BudgetExceeded when spent + worst_case would pass the limit."""
        with self._lock:
            if self.spent + worst_case > self.limit:
                raise BudgetExceeded(self.limit, self.spent, worst_case)

    def add(self, cost: Decimal) -> None:
        with self._lock:
            self.spent += _dec(cost)

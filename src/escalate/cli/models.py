"""`escalate models`: the resolved tier ladder with prices, limits and capabilities."""

from __future__ import annotations

import json
from pathlib import Path

import click

from escalate.config import load_config
from escalate.errors import PriceError
from escalate.llm.catalog import EFFORT_LEVELS, THINKING_TYPES, Catalog
from escalate.llm.pricing import PriceTable, fmt_usd


@click.command()
@click.option(
    "--repo", type=click.Path(file_okay=False, path_type=Path), default=".", help="Repository root."
)
@click.option("--json", "as_json", is_flag=True, help="Print the ladder as JSON.")
@click.option("--offline", is_flag=True, help="Use the built-in model table, not the Models API.")
@click.pass_context
def models(ctx: click.Context, repo: Path, as_json: bool, offline: bool) -> None:
    """Show each tier's model, prices per MTok, context window, effort levels and thinking types.

    Uses the Models API when ANTHROPIC_API_KEY is set (ANTHROPIC_BASE_URL is honoured), else the
    built-in table. Exits 2 when a tier's model has no price.
    """
    config = load_config(repo)
    catalog = Catalog.load(repo, config, offline=offline)
    prices = PriceTable.load(config.prices)
    rows, problems = [], []
    for i, tier in enumerate(config.tiers):
        model = catalog.resolve(tier, i)
        try:
            price = prices.price(model.id)
        except PriceError as exc:
            price = None
            problems.append(str(exc))
        rows.append((tier, model, price, catalog.warnings(model)))

    if as_json:
        out = {
            "catalog": {"source": catalog.source, "note": catalog.note},
            "prices_as_of": prices.as_of,
            "tiers": [
                {
                    "tier": tier.name,
                    "model": model.to_json(),
                    "prices": [_rate_json(r) for r in price.rates] if price else None,
                    "price_source": price.source if price else None,
                    "warnings": warns,
                }
                for tier, model, price, warns in rows
            ],
            "problems": problems,
        }
        click.echo(json.dumps(out, indent=2))
    else:
        click.echo(f"Models: {catalog.describe()}")
        click.echo(f"Prices: USD per million tokens; built-in table as of {prices.as_of}")
        table = [("tier", "model", "line", "in", "out", "cache read", "context", "effort", "thinking")]
        notes = []
        for tier, model, price, warns in rows:
            rate = price.rates[0] if price else None
            money = [
                _per_mtok(getattr(rate, f)) if rate else "NO PRICE" for f in ("input", "output", "cache_read")
            ]
            caps = model.capabilities
            table.append(
                (
                    tier.name,
                    model.id,
                    model.line or "-",
                    *money,
                    _tokens(model.context_window),
                    ",".join(lvl for lvl in EFFORT_LEVELS if lvl in caps.effort_levels) or "-",
                    ",".join(t for t in THINKING_TYPES if t in caps.thinking_types) or "-",
                )
            )
            if price and len(price.rates) > 1:
                for low, high in zip(price.rates, price.rates[1:], strict=False):
                    high_prices = " / ".join(
                        _per_mtok(getattr(high, f)) for f in ("input", "output", "cache_read")
                    )
                    notes.append(
                        f"{tier.name}: above {low.max_prompt_tokens:,} prompt tokens the whole request "
                        f"is billed at {high_prices} (in / out / cache read)"
                    )
            if price and price.source.startswith("config"):
                notes.append(f"{tier.name}: price from {price.source}")
            notes += [f"{tier.name}: warning: {w}" for w in warns]
        widths = [max(len(str(r[c])) for r in table) for c in range(len(table[0]))]
        for r in table:
            click.echo("  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
        for line in notes + problems:
            click.echo(line)
    if problems:
        ctx.exit(2)


def _tokens(n: int) -> str:
    return f"{n / 1_000_000:g}M" if n >= 1_000_000 else f"{n // 1000}k"


def _per_mtok(amount) -> str:
    return fmt_usd(amount).removeprefix("$")


def _rate_json(rate) -> dict:
    out = {
        f: float(getattr(rate, f))
        for f in ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")
    }
    out["max_prompt_tokens"] = rate.max_prompt_tokens
    return out

"""`escalate config show` (effective values and their sources) and `escalate config reference` (every key)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import click
import yaml

from escalate.config import ConfigWarning, config_sources, load_config


@click.group()
def config() -> None:
    """Inspect the configuration."""


@config.command()
@click.option(
    "--repo", type=click.Path(file_okay=False, path_type=Path), default=".", help="Repository root."
)
@click.option("--json", "as_json", is_flag=True, help="Print {config, sources} as JSON.")
def show(repo: Path, as_json: bool) -> None:
    """Print the effective config as YAML; a comment on each value names its source."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConfigWarning)
        effective = load_config(repo).model_dump(mode="json")
        sources = {key: source for key, _, source in config_sources(repo)}
    seen = set()
    for w in caught:
        if str(w.message) not in seen:  # config_sources loads again; say each warning once
            seen.add(str(w.message))
            click.echo(f"warning: {w.message}", err=True)
    if as_json:
        click.echo(json.dumps({"config": effective, "sources": sources}, indent=2))
        return
    click.echo("\n".join(render(effective, sources)))


def render(node: dict, sources: dict[str, str], path: str = "", indent: int = 0) -> list[str]:
    """YAML lines for a mapping, with `# source` after every leaf value."""
    pad = " " * indent
    lines = []
    for key, value in node.items():
        here = f"{path}.{key}" if path else str(key)
        if isinstance(value, dict) and value:
            lines.append(f"{pad}{key}:")
            lines += render(value, sources, here, indent + 2)
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            lines.append(f"{pad}{key}:")
            for i, item in enumerate(value):
                item_lines = render(item, sources, f"{here}[{i}]", indent + 4)
                item_lines[0] = f"{pad}  - {item_lines[0].lstrip()}"
                lines += item_lines
        else:
            lines.append(f"{pad}{key}: {_scalar(value)}  # {sources.get(here, 'default')}")
    return lines


def _scalar(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    return text.removesuffix("...").strip()


@config.command()
def reference() -> None:
    """Print every configuration key with its default and meaning, as Markdown (docs/configuration.md)."""
    click.echo(reference_markdown())


def reference_markdown() -> str:
    """Markdown tables of every key, one per section, generated from the schema's docstrings."""
    from escalate.config import Config, nested_model
    from escalate.config.schema import field_docs

    lines = ["| key | default | meaning |", "|---|---|---|"]

    def walk(instance: Any, prefix: str) -> None:
        docs = field_docs(type(instance))
        for name, field in type(instance).model_fields.items():
            key, value = f"{prefix}{name}", getattr(instance, name)
            found = nested_model(field.annotation)
            if found and found[0] == "one":
                lines.extend(
                    [
                        "",
                        f"**`{key}`**: {docs.get(name, '')}",
                        "",
                        "| key | default | meaning |",
                        "|---|---|---|",
                    ]
                )
                walk(value, f"{key}.")
            else:
                lines.append(f"| `{key}` | `{_short(value)}` | {docs.get(name, '')} |")

    walk(Config(), "")
    return "\n".join(lines)


def _short(value: Any) -> str:
    if isinstance(value, list):
        value = [v.model_dump(exclude_none=True) if hasattr(v, "model_dump") else v for v in value]
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."

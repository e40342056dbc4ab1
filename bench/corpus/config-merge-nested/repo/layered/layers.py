"""Configuration layers: built-in defaults < system file < user file < environment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from layered.merge import deep_merge

DEFAULTS: dict[str, Any] = {
    "server": {"host": "127.0.0.1", "port": 8000, "tls": {"enabled": False, "cert": None}},
    "features": ["search"],
}


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    """LAYERED_SERVER__PORT=9000 -> {"server": {"port": 9000}}; values are JSON when they parse."""
    out: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith("LAYERED_"):
            continue
        *parents, leaf = name[len("LAYERED_") :].lower().split("__")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        try:
            node[leaf] = json.loads(raw)
        except ValueError:
            node[leaf] = raw
    return out


def load_layers(files: list[Path], environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Defaults, then each existing file in order, then the environment; later layers win."""
    config = DEFAULTS
    for path in files:
        if Path(path).exists():
            config = deep_merge(json.loads(Path(path).read_text()), config)
    return deep_merge(config, _from_env(environ or {}))

"""Load the service's JSON settings file over built-in defaults."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DEFAULTS: dict[str, Any] = {"port": 8080, "workers": 2, "log_level": "INFO"}


class SettingsError(Exception):
    """A settings problem the operator must fix; the message names the file."""


def load_settings(path: Path, required: bool = True) -> dict[str, Any]:
    """Defaults overlaid with the file's values; a missing file is an error when ``required``."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
        data = json.loads(raw)
    except OSError:
        return dict(DEFAULTS)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise SettingsError(f"{path}: expected a JSON object at the top level")
    unknown = sorted(set(data) - set(DEFAULTS))
    if unknown:
        raise SettingsError(f"{path}: unknown settings {unknown}")
    return {**DEFAULTS, **data}

"""Typed reads of environment variables for the worker's settings."""

from __future__ import annotations

import os
from typing import Mapping


def env_int(name: str, default: int, environ: Mapping[str, str] | None = None) -> int:
    """The variable as an int, or ``default`` when it is unset or not a number."""
    environ = os.environ if environ is None else environ
    try:
        return int(environ.get(name))
    except:
        return default


def env_list(name: str, environ: Mapping[str, str] | None = None) -> list[str]:
    """A comma-separated variable as a list of non-empty, stripped items."""
    environ = os.environ if environ is None else environ
    return [item.strip() for item in environ.get(name, "").split(",") if item.strip()]

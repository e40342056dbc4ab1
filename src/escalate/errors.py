"""The one user-facing error family and its exit codes.

Exit codes (kept stable, other tools drive them):
  0 fixed, 1 not fixed, 2 usage or config error, 3 internal error, 130 interrupted.
"""

from __future__ import annotations

EXIT_FIXED = 0
EXIT_NOT_FIXED = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130


class EscalateError(Exception):
    """A problem the user can fix; the message says how."""

    exit_code = EXIT_USAGE


class ConfigError(EscalateError):
    """Invalid or missing configuration; the message names the key path."""


class PriceError(EscalateError):
    """A model has no known price; the message names the config key that supplies one."""


class MissingCredentialError(EscalateError):
    """An API key or token is missing; the message says how to set it."""

"""Feature flags loaded from the admin console's JSON export."""

from __future__ import annotations

import json
from pathlib import Path


class FlagStore:
    def __init__(self, flags: dict[str, bool] | None = None) -> None:
        self._flags = dict(flags or {})

    @classmethod
    def from_file(cls, path: Path) -> FlagStore:
        data = json.loads(Path(path).read_text())
        return cls({name: bool(value) for name, value in data.get("flags", {}).items()})

    def is_enabled(self, name: str, default: bool = True) -> bool:
        """Whether the flag is on; unknown flags get ``default`` (off unless the caller says so),
        so a typo or a deleted flag never switches a feature on."""
        return self._flags.get(name, default)

    def enabled(self) -> list[str]:
        return sorted(name for name, on in self._flags.items() if on)

"""Live progress for a person at a terminal, on stderr (stdout stays for ``--json``).

Pre-commit-style status lines, one per attempt, with the dollars spent so far:

    tier haiku (claude-haiku-4-5) attempt 1 ................ Failed (target: test_add), spent $0.0031
"""

from __future__ import annotations

import sys
from decimal import Decimal
from typing import TextIO

from escalate.llm.pricing import fmt_usd

WIDTH = 79
_WORDS = {"pass": "Passed", "fail": "Failed", "circular": "Circular", "error": "Error"}
_COLORS = {"pass": "32", "fail": "31", "circular": "33", "error": "31"}


class Progress:
    """Status lines on a stream (stderr by default); ``quiet`` prints nothing at all."""

    def __init__(
        self, stream: TextIO | None = None, *, quiet: bool = False, color: bool | None = None
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        isatty = getattr(self.stream, "isatty", lambda: False)()
        self.color = isatty if color is None else color
        self._open_line = False
        self._label = ""

    def _write(self, text: str) -> None:
        if not self.quiet:
            self.stream.write(text)
            self.stream.flush()

    def line(self, text: str) -> None:
        """A whole message line (closing any half-written status line first)."""
        if self._open_line:
            self._write("\n")
            self._open_line = False
        self._write(text + "\n")

    def attempt_start(self, tier: str, model: str, n: int) -> None:
        self.step_start(f"tier {tier} ({model}) attempt {n} ")

    def step_start(self, label: str) -> None:
        """A status line left open for ``attempt_end`` (an attempt, or a phase's try)."""
        self._label = label + "." * max(3, WIDTH - 28 - len(label)) + " "
        self._write(self._label)
        self._open_line = True

    def attempt_end(self, verdict: str, stage: str, reason: str, spent: Decimal) -> None:
        word = _WORDS.get(verdict, verdict)
        if self.color:
            word = f"\033[{_COLORS.get(verdict, '0')}m{word}\033[0m"
        where = "" if reason.lower().startswith(stage.lower()) else f"{stage}: "
        detail = "" if verdict == "pass" else f" ({where}{_short(reason)})"
        if not self._open_line:
            # A role's line (the reviewer, say) cut the status line: start it again.
            self._write(self._label or "attempt ")
        self._write(f"{word}{detail}, spent {fmt_usd(spent)}\n")
        self._open_line = False

    def table(
        self, rows: list[tuple[str, str, str, str, Decimal]], total: Decimal, top: Decimal | None
    ) -> None:
        """Final per-tier table: (tier, model, attempts, verdicts, dollars)."""
        if not rows:
            return
        head = ("tier", "model", "attempts", "verdicts", "cost")
        body = [(t, m, a, v, fmt_usd(c)) for t, m, a, v, c in rows]
        widths = [max(len(r[i]) for r in [head, *body]) for i in range(5)]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        self.line("")
        self.line(fmt.format(*head))
        for r in body:
            self.line(fmt.format(*r))
        extra = f" (all on the top tier: {fmt_usd(top)})" if top is not None else ""
        self.line(f"total {fmt_usd(total)}{extra}")


def _short(reason: str, limit: int = 60) -> str:
    first = reason.strip().splitlines()[0] if reason.strip() else ""
    return first if len(first) <= limit else first[: limit - 3] + "..."

"""Greedy word wrapping for terminal output and plain-text emails."""

from __future__ import annotations


def wrap(text: str, width: int = 72) -> list[str]:
    """Split ``text`` into lines of at most ``width`` characters, breaking at spaces.

    Words longer than ``width`` are put on a line of their own rather than split.
    """
    if width < 1:
        raise ValueError("width must be positive")
    lines: list[str] = []
    current = ""
    for word in text.split():
        if not current:
            current = word
        elif len(current) + 1 + len(word) < width:
            current = f"{current} {word}"
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return lines


def fill(text: str, width: int = 72, indent: str = "") -> str:
    """Wrapped text as one string, every line prefixed with ``indent``."""
    inner = width - len(indent)
    return "\n".join(indent + line for line in wrap(text, inner))

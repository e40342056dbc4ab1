"""Tool paths as text: what the filesystem cannot take, and how a bad path is echoed back.

A path comes from the model, and issue text can steer the model. The operating system answers
a NUL byte with ``ValueError``, a 300-byte name with ``ENAMETOOLONG`` and a 2,000-level path
with recursion in ``mkdir(parents=True)``; the editor checks the text first so each of these is
a tool error the model can act on.
"""

from __future__ import annotations

MAX_PATH_CHARS = 1024  # far below PATH_MAX (4096) once joined to the root
MAX_PATH_DEPTH = 64
MAX_NAME_BYTES = 255  # NAME_MAX on Linux and macOS
MAX_SHOWN_PATH = 120  # a bad path is echoed back at most this long


def shown(text: object) -> str:
    """Text as it can safely go back to the model: escapes for what is not printable, length-capped."""
    text = str(text)
    out = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text[:MAX_SHOWN_PATH])
    return out + (f"... ({len(text)} characters)" if len(text) > MAX_SHOWN_PATH else "")


def path_problem(raw: str) -> str | None:
    """Why the filesystem cannot take raw as a path, or None."""
    bad = next((c for c in raw if not c.isprintable() and c != " "), None)
    if bad is not None:
        return (
            f"The path {shown(raw)} holds the character {ascii(bad)}; paths must be printable text "
            "(no NUL, control characters or lone surrogates)."
        )
    if len(raw) > MAX_PATH_CHARS:
        return f"The path is {len(raw)} characters long; at most {MAX_PATH_CHARS} are allowed."
    parts = [p for p in raw.split("/") if p]
    if len(parts) > MAX_PATH_DEPTH:
        return f"The path has {len(parts)} levels; at most {MAX_PATH_DEPTH} are allowed."
    for part in parts:
        size = len(part.encode("utf-8"))
        if size > MAX_NAME_BYTES:
            return (
                f"The file name {shown(part)} is {size} bytes; the filesystem allows at most "
                f"{MAX_NAME_BYTES} bytes per name."
            )
    return None

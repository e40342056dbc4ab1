"""Reading and writing the files the model names: regular files only, size-capped, never blocking.

A FIFO left in the tree would block ``open()`` until a writer comes, so files are opened with
``O_NONBLOCK`` and checked with ``fstat`` before a byte is read or written. Every refusal is a
``TextFileError`` whose message the editor hands to the model.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MAX_FILE_BYTES = 5_000_000  # view and edit; larger files are refused (search_repo still reads up to 1 MB)


class TextFileError(ValueError):
    """A file that cannot be read or written as text; the message says why, for the model."""


def read_text(target: Path, shown: str) -> str:
    """A regular file's text (UTF-8, at most MAX_FILE_BYTES); ``shown`` names it in errors."""
    # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it.
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise TextFileError(
            f"The path {shown} does not exist. Use `view` on a directory to see what exists."
        ) from None
    except IsADirectoryError:
        raise TextFileError(f"The path {shown} is a directory; this command needs a file.") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise TextFileError(f"The path {shown} is a directory; this command needs a file.")
        if not stat.S_ISREG(info.st_mode):
            raise TextFileError(f"The path {shown} is not a regular file; only text files can be used.")
        if info.st_size > MAX_FILE_BYTES:
            raise TextFileError(
                f"The file {shown} is {info.st_size:,} bytes, over the {MAX_FILE_BYTES:,}-byte "
                "limit for viewing and editing; use search_repo to find what you need in it."
            )
        chunks, size = [], 0
        while size <= MAX_FILE_BYTES and (chunk := os.read(fd, 1 << 20)):
            chunks.append(chunk)
            size += len(chunk)
        data = b"".join(chunks)
    finally:
        os.close(fd)
    if b"\0" in data[:8192]:
        raise TextFileError(f"The file {shown} is binary; only text files can be viewed or edited.")
    try:
        # newline="" semantics: keep \r\n so writing back does not rewrite every line ending.
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TextFileError(
            f"The file {shown} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
            "it cannot be viewed or edited."
        ) from None


def write_text(target: Path, shown: str, text: str) -> None:
    """Write text to a regular file (made if missing, with its directories); never blocks."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise TextFileError(
            f"The text holds a character that cannot be written as UTF-8 ({ascii(text[exc.start])} at "
            f"position {exc.start}, a lone surrogate); send valid Unicode."
        ) from None
    if len(data) > MAX_FILE_BYTES:
        raise TextFileError(
            f"The text is {len(data):,} bytes; files are limited to {MAX_FILE_BYTES:,} bytes."
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise TextFileError(f"A parent of {shown} is a file, not a directory; choose another path.") from None
    if target.exists() and not target.is_file():
        raise TextFileError(f"The path {shown} is not a regular file; it cannot be written.")
    # O_NONBLOCK: should a FIFO appear after the check, opening it fails (ENXIO) instead of blocking.
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK, 0o644)
    with os.fdopen(fd, "wb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise TextFileError(f"The path {shown} is not a regular file; it cannot be written.")
        fh.truncate(0)
        fh.write(data)

"""Untrusted text: keep what a reader of the rendered issue sees, drop what they cannot.

Issue bodies and comments come from anyone who can open an issue, and a model reads them. Text
a person reviewing the issue on GitHub cannot see must not reach the model, or an attacker
writes instructions nobody notices. ``visible_markdown`` parses the text with a CommonMark
parser (markdown-it-py, with GitHub's tables and strikethrough) and writes back, as plain
Markdown, only what renders:

* dropped: link reference definitions (every form: titled, untitled, ``<with spaces>``,
  two-line titles, the ``[//]: # (comment)`` idiom), link and image titles, image alt text,
  every HTML attribute (``alt``, ``title``, ``data-*``, ...; a tag keeps its bare name), HTML
  comments (``<!-->`` and ``<!--->`` are empty comments; an unclosed one hides the rest, as
  in a browser), declarations and processing instructions, and the content of elements a
  browser does not show: ``<script>``, ``<style>``, ``<template>``, ``hidden``,
  ``aria-hidden="true"``, an inline style with ``display:none``, ``visibility:hidden`` or
  ``collapse``, ``font-size:0`` or ``opacity:0`` (an element opened in a paragraph ends with
  it; one opened in an HTML block hides what follows until it is closed, as in a browser);
* dropped before parsing: invisible and bidirectional Unicode (format characters, variation
  selectors, Hangul fillers), ANSI escape sequences and other control characters;
* kept: all visible text, code as written, link targets (``[text](url)``), ``<details>``
  (its content is one click away for every reader).

The parser works in time linear in the text (a CommonMark requirement, checked in the tests);
the HTML inside it is scanned so that no position is read more than a bounded number of
times. ``MAX_CHARS`` caps the work: GitHub allows 65,536 characters per body or comment.

``visible_plain`` is for titles, which GitHub shows as plain text: only the Unicode and
control-character pass applies.
"""

from __future__ import annotations

import gc
import html
import re
import unicodedata
from functools import cache

from escalate.errors import EscalateError

MAX_CHARS = 262_144  # four times GitHub's limit for one body or comment

_INVISIBLE_EXTRA = {0x115F, 0x1160, 0x3164, 0xFFA0, 0x180E, 0x034F}  # fillers and joiners not in Cf
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
_ALWAYS_HIDDEN = {"script", "style", "template"}
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
# HTML's tokenizer: a tag runs from `<name` to the first `>` outside a quoted value. Each
# alternative starts with a different character, so a failed match backtracks linearly.
_TAG = re.compile(r"<(/?)([A-Za-z][^\s/>]*)((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>")
_COMMENT = re.compile(r"<!--(?:>|->|.*?-->)", re.DOTALL)
_ATTR = re.compile(r"""([^\s"'>/=]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'=<>`]+))?""")
_TAG_START = re.compile(r"</?[A-Za-z]")
_ZERO = re.compile(r"[+-]?(?:0+\.?0*|\.0+)[a-z%]*")  # 0, 0px, 0.0em, .0, -0%


class UntrustedTextError(EscalateError):
    """Untrusted text that cannot be taken (too large); the message says what to do."""


def _is_invisible(ch: str) -> bool:
    code = ord(ch)
    if ch in "\n\t":
        return False
    if unicodedata.category(ch) in ("Cf", "Cc", "Cs") or code in _INVISIBLE_EXTRA:
        return True
    return 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF  # variation selectors


def strip_ansi(text: str) -> str:
    """Text without ANSI escape sequences (colours and cursor moves in pasted CI logs)."""
    return _ANSI.sub("", text)


def visible_plain(text: str) -> str:
    """Text shown as plain text (a title): invisible Unicode, ANSI and control characters removed."""
    _check_size(text)
    text = _ANSI.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    return "".join(ch for ch in text if not _is_invisible(ch))


def visible_markdown(text: str, *, escape_text: bool = False) -> str:
    """What a reader of text rendered as GitHub Markdown sees, as Markdown (module docstring).

    ``escape_text`` writes ``\\<`` for a ``<`` of visible text that could start a tag or a
    comment, for output that GitHub will render again (a pull request body).
    """
    clean = visible_plain(text)
    # The parse makes many small objects and no cycles: the cyclic GC would only rescan them (it
    # costs half the time on large inputs and makes the run time grow faster than the text).
    collecting = gc.isenabled()
    gc.disable()
    try:
        body = _Renderer(escape_text).blocks(_parser().parse(clean))
    finally:
        if collecting:
            gc.enable()
    lines = [line.rstrip() for line in body.split("\n")]
    out = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
    return out + "\n" if out.strip() else ""


def _check_size(text: str) -> None:
    if len(text) > MAX_CHARS:
        raise UntrustedTextError(
            f"the text is {len(text):,} characters; at most {MAX_CHARS:,} are read (GitHub allows "
            "65,536 per issue body). Shorten it: keep the error and the relevant part of any log."
        )


@cache
def _parser():
    from markdown_it import MarkdownIt

    # html: raw HTML is parsed (to be judged), never passed through; linkify off: bare URLs stay text.
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def _style_hides(style: str) -> bool:
    for declaration in style.split(";"):
        prop, _, value = declaration.partition(":")
        prop, value = prop.strip().lower(), value.strip().lower().removesuffix("!important").strip()
        if prop == "display" and value == "none" or prop == "visibility" and value in ("hidden", "collapse"):
            return True
        if prop in ("font-size", "opacity") and _ZERO.fullmatch(value):
            return True
    return False


def _hides(attrs: str) -> bool:
    for name, value in _ATTR.findall(attrs):
        name, value = name.lower(), html.unescape(value.strip("\"'"))
        if name == "hidden" or name == "aria-hidden" and value.strip().lower() == "true":
            return True
        if name == "style" and _style_hides(value):
            return True
    return False


class _Renderer:
    """Walks the token stream in document order; HTML state (an open hidden element, an open
    comment) carries across tokens the way a browser's does across the rendered page."""

    def __init__(self, escape_text: bool):
        self.escape_text = escape_text
        self.hidden_tag: str | None = None  # the element whose content is hidden
        self.hidden_depth = 0
        self.in_comment = False

    @property
    def hiding(self) -> bool:
        return self.in_comment or self.hidden_depth > 0

    def text(self, text: str) -> str:
        if self.hiding:
            return ""
        return re.sub(r"<(?=[A-Za-z/!?])", r"\\<", text) if self.escape_text else text

    # -- blocks ----------------------------------------------------------------------------

    def blocks(self, tokens: list, tight: bool = False) -> str:
        parts, i = [], 0
        while i < len(tokens):
            end = _block_end(tokens, i)
            part = self.block(tokens[i : end + 1], tight)
            if part.strip():
                parts.append(part)
            i = end + 1
        return ("\n" if tight else "\n\n").join(parts)

    def block(self, toks: list, tight: bool) -> str:
        head = toks[0]
        kind = head.type.removesuffix("_open")
        if kind in ("paragraph", "heading"):
            inline = self.inline(toks[1])
            level = int(head.tag[1]) if kind == "heading" else 0
            return f"{'#' * level} {inline}" if level and inline.strip() else inline
        if kind == "blockquote":
            return _prefixed(self.blocks(toks[1:-1]), "> ", "> ")
        if kind in ("bullet_list", "ordered_list"):
            return self.list(toks, kind == "ordered_list")
        if kind in ("fence", "code_block"):
            return "" if self.hiding else _fenced(head.content, head.info if kind == "fence" else "")
        if kind == "hr":
            return "" if self.hiding else "---"
        if kind == "html_block":
            return self.html(head.content)
        if kind == "table":
            return self.table(toks)
        return self.blocks(toks[1:-1], tight)

    def list(self, toks: list, ordered: bool) -> str:
        tight = any(t.type == "paragraph_open" and t.hidden for t in toks)
        number = int(toks[0].attrGet("start") or 1)
        items, i = [], 1
        while i < len(toks) - 1:
            end = _block_end(toks, i)
            inner = self.blocks(toks[i + 1 : end], tight)
            if inner.strip():
                marker = f"{number}. " if ordered else "- "
                items.append(_prefixed(inner, marker, " " * len(marker)))
            number += 1
            i = end + 1
        return ("\n" if tight else "\n\n").join(items)

    def table(self, toks: list) -> str:
        rows, row = [], None
        for tok in toks:
            if tok.type == "tr_open":
                row = []
            elif tok.type == "inline" and row is not None:
                row.append(self.inline(tok).replace("\n", " ").replace("|", "\\|"))
            elif tok.type == "tr_close" and row is not None:
                rows.append("| " + " | ".join(row) + " |")
                if len(rows) == 1:
                    rows.append("|" + " --- |" * len(row))
        return "" if self.hiding or len(rows) < 2 else "\n".join(rows)

    # -- inline ----------------------------------------------------------------------------

    def inline(self, tok) -> str:
        # An element opened in a paragraph ends with it: the browser closes it at </p>.
        opened_here = not self.hiding
        out, links = [], []
        for child in tok.children or []:
            kind = child.type
            if kind == "text":
                out.append(self.text(child.content))
            elif kind in ("softbreak", "hardbreak"):
                out.append("" if self.hiding else "\n")
            elif kind == "code_inline":
                out.append("" if self.hiding else _code_span(child.content))
            elif kind in ("em_open", "em_close", "strong_open", "strong_close", "s_open", "s_close"):
                out.append("" if self.hiding else child.markup)
            elif kind == "link_open":
                auto = child.markup in ("autolink", "linkify")
                links.append(None if auto else child.attrGet("href"))
                out.append("" if self.hiding or auto else "[")
            elif kind == "link_close":
                href = links.pop() if links else None
                out.append("" if self.hiding or href is None else f"]({href})")
            elif kind == "image":  # the picture is what a reader sees; alt text and title are not
                out.append("" if self.hiding else f"![]({child.attrGet('src')})")
            elif kind == "html_inline":
                out.append(self.html(child.content))
        if opened_here and self.hidden_depth:
            self.hidden_tag, self.hidden_depth = None, 0
        return "".join(out)

    # -- HTML ------------------------------------------------------------------------------

    def html(self, raw: str) -> str:
        """Raw HTML: text kept (entities decoded), tags reduced to their names, the rest judged."""
        out, pos, size = [], 0, len(raw)
        while pos < size:
            if self.in_comment:
                end = raw.find("-->", pos)
                if end < 0:
                    break
                self.in_comment, pos = False, end + 3
                continue
            lt = raw.find("<", pos)
            stop = size if lt < 0 else lt
            if stop > pos:
                out.append(self.text(html.unescape(raw[pos:stop])))
            if lt < 0:
                break
            if raw.startswith("<!--", lt):
                comment = _COMMENT.match(raw, lt)
                if comment is None:  # open to the end: everything after it is inside
                    self.in_comment = True
                    break
                pos = comment.end()
            elif raw.startswith(("<!", "<?"), lt):  # doctype, CDATA, processing instruction: not shown
                end = raw.find(">", lt)
                if end < 0:
                    break
                pos = end + 1
            elif (tag := _TAG.match(raw, lt)) is not None:
                out.append(self.tag(tag.group(1) == "/", tag.group(2), tag.group(3)))
                pos = tag.end()
            elif _TAG_START.match(raw, lt):  # a tag never closed: the rest is its attributes
                break
            else:
                out.append(self.text("<"))
                pos = lt + 1
        return "".join(out)

    def tag(self, closing: bool, written: str, attrs: str) -> str:
        """A tag as shown: its bare name as written, or nothing when it hides or is hidden."""
        name = written.lower()
        if self.in_comment:
            return ""
        if self.hidden_depth:
            if name == self.hidden_tag and not attrs.rstrip().endswith("/"):
                self.hidden_depth += -1 if closing else 1
                if not self.hidden_depth:
                    self.hidden_tag = None
            return ""
        if not closing and (name in _ALWAYS_HIDDEN or _hides(attrs)):
            if name not in _VOID and not attrs.rstrip().endswith("/"):
                self.hidden_tag, self.hidden_depth = name, 1
            return ""
        return f"</{written}>" if closing else f"<{written}>"


def _block_end(tokens: list, start: int) -> int:
    """The index of the token closing the block that opens at start (itself for a leaf)."""
    if tokens[start].nesting != 1:
        return start
    depth, i = 0, start
    while True:
        depth += tokens[i].nesting
        if depth == 0:
            return i
        i += 1


def _prefixed(text: str, first: str, rest: str) -> str:
    lines = text.split("\n")
    return "\n".join([first + lines[0]] + [(rest + line if line else rest.rstrip()) for line in lines[1:]])


def _fenced(code: str, info: str) -> str:
    longest = max((len(m) for m in re.findall(r"`{3,}", code)), default=2)
    fence = "`" * (longest + 1)
    return f"{fence}{info.strip()}\n{code}{'' if code.endswith(chr(10)) or not code else chr(10)}{fence}"


def _code_span(code: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", code)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if code.startswith("`") or code.endswith("`") else ""
    return f"{ticks}{pad}{code}{pad}{ticks}"

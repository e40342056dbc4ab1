"""The prose of an issue: what the reporter wrote in words, without the code and logs around it.

Keyword rules must read sentences, not snippets: ``format='jd'`` in a code block is no request to
reformat, a traceback frame ``concurrent/futures/_base.py`` is no concurrency bug, and
``architecture: Haswell`` in a ``show_versions()`` dump is no design question. :func:`prose` drops
fenced and indented code, tracebacks, ``>>>`` sessions, environment dumps, tracker metadata, URLs,
file paths, inline code and identifiers (snake_case, CamelCase, dotted names, calls). What is left
is split into clauses; :func:`affirmed` cuts out the clauses' negated tails ("this is not a race
condition or a concurrency problem"), so a keyword counts only where it is asserted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_TRACEBACK_START = re.compile(r"^\s*(Traceback \(most recent call last\):|During handling of the above)")
_TRACEBACK_END = re.compile(r"^\s*[\w.]+(Error|Exception|Warning|Exit|Interrupt)\b.*$|^\S")
_FRAME = re.compile(r'^\s*File "[^"]*", line \d+')
_SESSION = re.compile(r"^\s*(>>>|\.\.\.\s|\$ |In \[\d+\]:|Out\[\d+\]:)")
_INDENTED = re.compile(r"^( {4,}|\t)\S")
# "key: value" / "key = value" / "pkg==1.2" lines: an environment dump or a tracker footer when they
# come in runs; a value that is a sentence (ends in . or has many words) is prose.
_KEY_VALUE = re.compile(r"^\s*[-*]?\s*[\w./() -]{1,40}?\s*(:|=|==|>=)\s*\S.{0,80}(?<![.!?])$")
_PIN = re.compile(r"^\s*[\w.-]+\s*(==|>=|<=|~=)\s*[\w.*+-]+\s*$")
_ENV_MIN_RUN = 3
# Fields of issue trackers (Trac, Jira, GitHub forms) that say who and where, never what is wrong.
_TRACKER = re.compile(
    r"^\s*(reported by|reporter|owner|assignee|assigned to|component|version|severity|priority|keywords|"
    r"cc|triage stage|has patch|needs documentation|needs tests|patch needs improvement|easy pickings|"
    r"ui/ux|resolution|status|milestone|type|labels?|modified by|last modified by|pull requests?|"
    r"environment|os|platform|python version)\s*:.*$",
    re.IGNORECASE,
)
_MODIFIED = re.compile(r"\(last modified by [^)]*\)", re.IGNORECASE)
_URL = re.compile(r"\b(?:https?|ftp|file)://\S+|\bwww\.\S+")
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_PATH = re.compile(r"(?<![\w])(?:[A-Za-z]:)?[\w.~-]*(?:[/\\][\w.@~+-]+)+[/\\]?")
_FILE = re.compile(r"\b[\w-]+\.(?:py|pyi|pyx|c|h|cpp|js|ts|json|ya?ml|toml|cfg|ini|txt|rst|md|html|sql|sh)\b")
_IDENTIFIER = re.compile(
    r"\b\w*_\w*\b"  # snake_case, _private, __dunder__
    r"|\b[A-Za-z]*[a-z][A-Z]\w*\b"  # camelCase, CamelCase (RenameModel)
    r"|\b[A-Z]{2,}[a-z]\w*\b"  # HTTPServer
    r"|\b\w+(?:\.\w+)+(?:\(\))?"  # dotted.names, module.func()
    r"|\b\w+\([^)\n]{0,80}\)"  # calls: func(args)
    r"|\S*=\S*"  # key=value, format='jd'
    r"|@\w+"  # @mentions
)
_CLAUSE = re.compile(r"[.;:!?\n]+|,\s+(?=(?:but|however|though|although|yet|while|whereas)\b)|\s+-{1,2}\s+")
_TURN = re.compile(r"\b(?:but|however|though|although|yet|instead|rather|whereas)\b", re.IGNORECASE)
NEGATORS = (
    "not", "no", "never", "without", "nor", "neither", "none", "nothing", "cannot",
    "isn't", "aren't", "wasn't", "weren't", "doesn't", "don't", "didn't", "won't", "hasn't", "haven't",
    "isnt", "arent", "wasnt", "doesnt", "dont", "didnt", "unrelated", "non",
)  # fmt: skip
_NEGATOR = re.compile(
    r"(?<![\w'])(?:" + "|".join(re.escape(n) for n in NEGATORS) + r")(?![\w'])", re.IGNORECASE
)

_UNSAFE = re.compile(r"\b(?:not|isn't|is not|aren't)\s+thread[\s-]?safe\b", re.IGNORECASE)


@dataclass(frozen=True)
class Prose:
    """An issue's prose, and its parts: asserted clauses and negated clause tails."""

    text: str  # the prose, code and logs removed
    affirmed: str  # the prose without the negated tails of its clauses
    negated: str  # the negated tails, for the reasons ("mentions 'race' only negated")


def prose(text: str) -> str:
    """`text` without code, logs, dumps, tracker metadata, paths and identifiers."""
    kept = _drop_blocks(text.replace("\r\n", "\n").split("\n"))
    out = []
    for line in kept:
        line = _MODIFIED.sub(" ", line)
        line = _URL.sub(" ", line)
        line = _INLINE_CODE.sub(" ", line)
        line = _PATH.sub(" ", line)
        line = _FILE.sub(" ", line)
        line = _IDENTIFIER.sub(" ", line)
        out.append(re.sub(r"[ \t]+", " ", line).strip())
    return "\n".join(out).strip()


def _drop_blocks(lines: list[str]) -> list[str]:
    """Lines outside fences, tracebacks, sessions, indented code, dumps and tracker footers."""
    out: list[str] = []
    fence: str | None = None
    in_traceback = in_session = False
    # Consecutive key/value lines, kept back until we know whether they make a dump; tracker
    # fields (None) are dropped either way but count towards the run ("OS: Linux" in a dump).
    run: list[str | None] = []

    def flush() -> None:
        if len(run) < _ENV_MIN_RUN:
            out.extend(x for x in run if x is not None)
        run.clear()

    prev_blank = True
    for line in lines:
        if fence is not None:
            if line.strip().startswith(fence):
                fence = None
            continue
        m = _FENCE.match(line)
        if m:
            flush()
            fence = m.group(1)
            continue
        blank = not line.strip()
        if in_traceback:
            if blank:
                in_traceback = False
            elif not line.startswith((" ", "\t")) and _TRACEBACK_END.match(line):
                in_traceback = False  # the exception line ends it
                continue
            else:
                continue
        if _TRACEBACK_START.match(line) or _FRAME.match(line):
            flush()
            in_traceback = True
            continue
        if _SESSION.match(line):
            flush()
            in_session = True
            continue
        if in_session:  # a session's output runs to the next blank line
            if blank:
                in_session = False
            continue
        if _INDENTED.match(line) and (prev_blank or not out or _INDENTED.match(out[-1] if out else "")):
            flush()
            prev_blank = False
            continue
        if _TRACKER.match(line):
            run.append(None)
            continue
        if (_KEY_VALUE.match(line) and len(line.split()) <= 8) or _PIN.match(line):
            run.append(line)
            prev_blank = blank
            continue
        flush()
        out.append(line)
        prev_blank = blank
    flush()
    return out


def split(text: str) -> Prose:
    """The prose of `text`, with each clause's negated tail set apart.

    A negator ("not", "no", "never", "without", "isn't", ...) negates the rest of its clause, up to
    the clause's end (. ; : ! ? or a new line) or a turn ("but", "however", "instead", ...).
    """
    body = _UNSAFE.sub("thread-unsafe", prose(text))  # "not thread-safe" asserts a concurrency problem
    affirmed, negated = [], []
    for clause in _CLAUSE.split(body):
        if not clause.strip():
            continue
        pos = 0
        kept = []
        while True:
            neg = _NEGATOR.search(clause, pos)
            if neg is None:
                kept.append(clause[pos:])
                break
            kept.append(clause[pos : neg.start()])
            turn = _TURN.search(clause, neg.end())
            stop = turn.start() if turn else len(clause)
            negated.append(clause[neg.end() : stop])
            pos = stop
        affirmed.append("".join(kept))
    return Prose(body, "\n".join(affirmed), "\n".join(negated))

"""Classify a task before any model call: complexity x error cost, then the start tier.

The routing report's step 1 sorts a task along two dimensions: complexity
(mechanical, generative, reasoning-intensive: the tier) and error cost (low,
high: one tier up). Step 2 turns the class into thinking and effort settings.
Everything here is a pure function of :class:`Signals`; the git and filesystem
work that produces them (tracebacks, coverage, context size) stays with the
caller, so a classification can be replayed from its logged signals.

Entry points for the router::

    signals = gather_signals(task, frames=traceback_frames(...), context_tokens=n, covered=...)
    klass = classify(signals, config.router)
    start = start_for(klass, config.tiers, config.router)  # StartTier(index, name, thinking, effort, reason)
    setting = settings_for(klass, config.tiers[i], config.router)  # per tier: thinking on/off, effort
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from escalate.llm.catalog import MODEL_LINES
from escalate.task import Frame, FrameLike

if TYPE_CHECKING:
    from escalate.config import RouterConfig, TierConfig
    from escalate.task import Task

LINES = MODEL_LINES  # model lines, cheapest first
_LINT_CODE = re.compile(r"\b[A-Z]{1,4}\d{3,4}\b")
_TEST_FILE = re.compile(r"(^|/)(tests?/|test_[^/]*\.py$|[^/]*_test\.py$|conftest\.py$)")
_OUTSIDE = ("site-packages/", "dist-packages/", "/lib/python", "<frozen", "<string>")


@dataclass(frozen=True)
class Signals:
    """What is known about a task before any model call."""

    kind: str  # "test" | "issue" | "lint" | "warning"
    labels: tuple[str, ...] = ()
    text: str = ""  # title and body, matched against the keyword lists
    files: tuple[str, ...] = ()  # repository source modules in the failing tests' tracebacks (tests excluded)
    target_tests: int = 0
    context_tokens: int | None = None  # size of the assembled first request, when known
    covered: bool | None = None  # do tests cover the code involved? None = unknown
    lint_codes: tuple[str, ...] = ()

    @property
    def packages(self) -> tuple[str, ...]:
        """Distinct directories of the traceback modules."""
        return tuple(sorted({str(PurePosixPath(f).parent) for f in self.files}))

    def to_json(self) -> dict:
        out = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
        out["text"] = self.text[:200]
        return out


@dataclass(frozen=True)
class Classification:
    complexity: str  # "mechanical" | "generative" | "reasoning"
    error_cost: str  # "low" | "high"
    reasons: list[str] = field(default_factory=list)
    signals: Signals | None = None

    @property
    def label(self) -> str:
        """The class name used in the ledger, stats and decisions, e.g. "generative/low"."""
        return f"{self.complexity}/{self.error_cost}"

    def to_json(self) -> dict:
        return {
            "complexity": self.complexity,
            "error_cost": self.error_cost,
            "reasons": list(self.reasons),
            "signals": self.signals.to_json() if self.signals else None,
        }


@dataclass(frozen=True)
class TierSetting:
    """Thinking and effort for one tier and one task class, with the reason."""

    thinking: bool
    effort: str | None  # None = the model's default (or the model takes no effort)
    reason: str


@dataclass(frozen=True)
class StartTier:
    index: int
    name: str
    thinking: bool
    effort: str | None
    reason: str


# ---------------------------------------------------------------- signals


def gather_signals(
    task: Task,
    *,
    frames: Iterable[FrameLike] = (),
    context_tokens: int | None = None,
    covered: bool | None = None,
    root: str | Path | None = None,
) -> Signals:
    """Signals from a ``task.Task`` and what the caller measured.

    `frames` are traceback frames (``task.Frame``, ``(path, line)`` tuples or paths); frames in test
    files, the standard library or installed packages are left out, absolute paths are made
    relative to `root`.
    A failing-test task is covered by definition; otherwise `covered` is what the
    caller found (None when it did not look).
    """
    text = f"{task.title}\n{task.text}"
    if covered is None and task.kind == "test":
        covered = True
    files = _source_files(frames, Path(root) if root else None)
    codes = tuple(dict.fromkeys(_LINT_CODE.findall(text))) if task.kind == "lint" else ()
    return Signals(
        kind=task.kind,
        labels=tuple(dict.fromkeys(label.strip().lower() for label in task.labels)),
        text=text,
        files=files,
        target_tests=len(task.target_tests),
        context_tokens=context_tokens,
        covered=covered,
        lint_codes=codes,
    )


def _frame_path(frame: FrameLike) -> str | None:
    if isinstance(frame, Frame):
        return frame.file or None
    if isinstance(frame, str | Path):
        return str(frame)
    return str(frame[0]) if frame else None


def _source_files(frames: Iterable[FrameLike], root: Path | None) -> tuple[str, ...]:
    out: dict[str, None] = {}
    for frame in frames:
        raw = _frame_path(frame)
        if not raw or any(mark in raw for mark in _OUTSIDE):
            continue
        path = Path(raw)
        if path.is_absolute():
            if root is None:
                continue
            try:
                path = path.relative_to(root)
            except ValueError:
                continue
        rel = path.as_posix()
        if rel.endswith(".py") and not _TEST_FILE.search(rel):
            out[rel] = None
    return tuple(out)


# ---------------------------------------------------------------- classification


@lru_cache(maxsize=64)
def _pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    parts = []
    for word in sorted(words, key=len, reverse=True):  # longest first: "race condition" before "race"
        stem = word.strip().lower().rstrip("*")
        body = r"[\s_-]+".join(re.escape(w) for w in re.split(r"[\s_-]+", stem))
        # A trailing * takes lowercase letters only, case-sensitively: "renam*" matches "renamed" but
        # never runs into the next word of an identifier ("RenameModel").
        parts.append(body + (r"(?-i:[a-z]*)" if word.strip().endswith("*") else ""))
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)", re.IGNORECASE)


def matched(words: Sequence[str], text: str) -> list[str]:
    """The distinct phrases of `text` that match the keyword list `words`, in order of appearance."""
    if not words or not text:
        return []
    found = _pattern(tuple(words)).findall(text)
    return list(dict.fromkeys(m.lower() for m in found))


def prose_matches(words: Sequence[str], text: str) -> tuple[list[str], list[str]]:
    """(asserted, only negated): the keywords found in the prose of `text`.

    Code, logs, dumps, tracker metadata, paths and identifiers are not read (``prose.split``); a
    keyword inside a negated clause tail ("not a race condition") does not count.
    """
    from escalate.routing.prose import split

    if not words or not text:
        return [], []
    parts = split(text)
    asserted = matched(words, parts.affirmed)
    negated = [w for w in matched(words, parts.negated) if w not in asserted]
    return asserted, negated


def _quote(items: Sequence[str], limit: int = 3) -> str:
    shown = ", ".join(f"'{i}'" for i in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


_KIND_NAMES = {
    "test": "a failing test",
    "issue": "an issue",
    "lint": "a lint finding",
    "warning": "a warning",
}


def classify(signals: Signals, cfg: RouterConfig) -> Classification:
    """Complexity and error cost from `signals` under `cfg` (a ``config.RouterConfig``).

    Reasoning signals win over mechanical ones (a lint finding whose traceback spans five modules
    is still multi-file); every signal that fired is kept as a reason. Keywords are read in the
    prose only (``prose_matches``). Mechanical (no thinking) comes from the task kind or a label,
    never from words; a high error cost from a label, an explicit security term or no coverage.
    """
    reasons: list[str] = []
    labels = set(signals.labels)

    reasoning: list[str] = []
    if signals.context_tokens is not None and signals.context_tokens > cfg.context_limit_tokens:
        reasoning.append(
            f"context of {signals.context_tokens:,} tokens exceeds router.context_limit_tokens "
            f"({cfg.context_limit_tokens:,}) -> reasoning-intensive, strongest tier"
        )
    for label in sorted(labels & {x.lower() for x in cfg.reasoning_labels}):
        reasoning.append(f"label '{label}' -> reasoning-intensive")
    words, denied = prose_matches(cfg.reasoning_keywords, signals.text)
    if words:
        reasoning.append(f"the task's prose mentions {_quote(words)} -> reasoning-intensive")
    if denied:
        reasons.append(f"the task's prose mentions {_quote(denied)} only negated: not counted")
    if len(signals.files) >= cfg.multi_module_threshold:
        reasoning.append(
            f"the failing tests' tracebacks touch {len(signals.files)} modules in {len(signals.packages)} "
            f"package(s) ({_quote(list(signals.files))}) -> multi-file, reasoning-intensive"
        )

    mechanical: list[str] = []
    if signals.kind in ("lint", "warning"):
        codes = f" ({', '.join(signals.lint_codes)})" if signals.lint_codes else ""
        mechanical.append(f"{_KIND_NAMES[signals.kind]}{codes} -> mechanical")
    for label in sorted(labels & {x.lower() for x in cfg.mechanical_labels}):
        mechanical.append(f"label '{label}' -> mechanical")

    if reasoning:
        complexity = "reasoning"
        reasons += reasoning
        if mechanical:
            reasons.append("mechanical signals (" + "; ".join(mechanical) + ") are outweighed by the above")
    elif mechanical:
        complexity = "mechanical"
        reasons += mechanical
    else:
        complexity = "generative"
        where = f" in {len(signals.files)} module(s)" if signals.files else ""
        reasons.append(
            f"{_KIND_NAMES.get(signals.kind, signals.kind)}{where} with no mechanical or reasoning signal "
            "-> generative (a standard fix)"
        )

    high: list[str] = []
    for label in sorted(labels & {x.lower() for x in cfg.high_error_cost_labels}):
        high.append(f"label '{label}' -> high error cost")
    words, denied = prose_matches(cfg.high_error_cost_keywords, signals.text)
    if words:
        high.append(f"the task's prose names a security risk ({_quote(words)}) -> high error cost")
    if denied:
        reasons.append(f"the task's prose mentions {_quote(denied)} only negated: not counted")
    if signals.covered is False:
        high.append("no tests cover the code involved -> high error cost")
    if high:
        error_cost = "high"
        reasons += high
    else:
        error_cost = "low"
        cover = "tests cover the code" if signals.covered else "test coverage unknown"
        reasons.append(f"no security label, security term or coverage signal ({cover}) -> low error cost")
    return Classification(complexity, error_cost, reasons, signals)


# ---------------------------------------------------------------- tiers


def tier_line(tier: str | TierConfig) -> str | None:
    """The model line ("haiku", "sonnet", "opus") of a tier: its `line`, else found in its name or model."""
    if isinstance(tier, str):
        names = [tier]
    else:
        if tier.line in LINES:
            return tier.line
        names = [tier.name, tier.model or ""]
    for name in names:
        for line in LINES:
            if line in name.lower():
                return line
    return None


def find_tier(tiers: Sequence[str | TierConfig], line: str) -> int:
    """Index of the cheapest tier at least as strong as `line`, by name or line, never by position alone.

    A ladder without that line takes the next stronger one (or the strongest there is);
    a ladder whose tiers name no known line falls back to the proportional position.
    """
    lines = [tier_line(t) for t in tiers]
    want = LINES.index(line)
    known = [(i, LINES.index(x)) for i, x in enumerate(lines) if x is not None]
    if not known:
        return round(want * (len(tiers) - 1) / (len(LINES) - 1))
    stronger = [i for i, rank in known if rank >= want]
    return min(stronger) if stronger else max(i for i, _ in known)


def _name(tier: str | TierConfig) -> str:
    return tier if isinstance(tier, str) else tier.name


def start_for(klass: Classification, tiers: Sequence[TierConfig], cfg: RouterConfig) -> StartTier:
    """The rule-based start tier for a class, with its thinking and effort settings.

    mechanical -> haiku, no thinking; generative -> haiku with extended thinking;
    reasoning -> sonnet, or opus with a high error cost; otherwise a high error cost
    moves the start up one tier; a context over the limit starts on the strongest tier.
    """
    signals = klass.signals
    last = len(tiers) - 1
    if signals and signals.context_tokens is not None and signals.context_tokens > cfg.context_limit_tokens:
        index = last
        why = f"context of {signals.context_tokens:,} tokens > router.context_limit_tokens: strongest tier"
    elif klass.complexity == "reasoning":
        if klass.error_cost == "high":
            index = find_tier(tiers, "opus")
            why = "reasoning-intensive with a high error cost -> opus line"
        else:
            index = find_tier(tiers, "sonnet")
            why = "reasoning-intensive -> sonnet line (report step 1)"
    else:
        index = find_tier(tiers, "haiku")
        why = (
            "mechanical -> haiku line without extended thinking"
            if klass.complexity == "mechanical"
            else "generative -> haiku line with extended thinking (report step 2)"
        )
        if klass.error_cost == "high" and index < last:
            index += 1
            why += f"; high error cost moves the start up one tier to {_name(tiers[index])}"
    setting = settings_for(klass, tiers[index], cfg)
    return StartTier(index, _name(tiers[index]), setting.thinking, setting.effort, f"{klass.label}: {why}")


def settings_for(klass: Classification, tier: TierConfig, cfg: RouterConfig) -> TierSetting:
    """Thinking on/off and effort for `tier` on this class; explicit tier config wins.

    The router still drops what the model's capabilities do not offer.
    """
    budget = tier.thinking_budget
    if budget is not None:
        thinking, t_why = True, f"tiers[].thinking_budget = {budget}"
    elif klass.complexity == "mechanical":
        thinking, t_why = False, "mechanical: thinking is billed as output and does not help"
    else:
        thinking, t_why = True, f"{klass.complexity}: extended thinking (report step 2)"

    configured = tier.effort
    if configured is not None:
        effort, e_why = configured, f"tiers[].effort = {configured}"
    elif tier_line(tier) != "opus":
        effort, e_why = None, "model default effort"
    elif klass.complexity == "reasoning" or klass.error_cost == "high":
        effort, e_why = cfg.hard_effort, f"{klass.label} -> router.hard_effort ({cfg.hard_effort})"
    else:
        effort, e_why = cfg.routine_effort, f"routine work -> router.routine_effort ({cfg.routine_effort})"
    return TierSetting(thinking, effort, f"{t_why}; {e_why}")

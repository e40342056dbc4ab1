"""Token traces of a simulated agent: tool loops whose context grows (docs/sim.md, "Token traces").

A real coding agent reads before it edits: 10-40 model turns per attempt, each adding a file view
or a search result to the conversation, so the context grows from about 10K to about 100K input
tokens and what prompt caching saves (or fails to save) dominates the bill. The corpus projects
are small, so the sim counts each exploring turn's tool result at the size the trace draws for it
(what a file of a real project would weigh): the oracle names the ``tool_use`` id, the runner sends
its result back under that id, and the token estimate (``tokens.segments``) counts that block at
the drawn size. Its identity for the prompt cache stays the real content, so the runner's
``cache_control`` breakpoints alone decide what is read from cache.
"""

from __future__ import annotations

from dataclasses import dataclass

from escalate.errors import ConfigError
from escalate.sim.draws import between, unit

MIN_RESULT_TOKENS = 200  # less room than this left in the context: stop exploring and edit
WINDOW_SHARE = 0.8  # exploring never takes the context past this share of the model's window


@dataclass(frozen=True)
class AttemptTrace:
    """One attempt's shape: how many model turns, and what each exploring turn adds."""

    key: tuple
    turns: int  # model turns, the edit turn and the closing turn included
    step_tokens: int  # tokens each tool result after the first adds
    spec: TraceSpec

    @property
    def exploring_turns(self) -> int:
        return max(self.turns - 2, 0)

    def result_tokens(self, turn: int, context: int, window: int) -> int:
        """Tokens of exploring turn ``turn``'s tool result, given the context so far; 0 = stop
        exploring (the context is full)."""
        want = max(self.step_tokens, self.spec.start_tokens - context) if turn == 0 else self.step_tokens
        room = min(self.spec.max_context, int(window * WINDOW_SHARE)) - context - self.step_tokens
        size = min(want, room)
        return size if size >= MIN_RESULT_TOKENS else 0

    def note_tokens(self, turn: int) -> int:
        """The model's own words on exploring turn ``turn`` (output tokens)."""
        return between(*self.spec.note_tokens, *self.key, "note", turn)


@dataclass(frozen=True)
class TraceSpec:
    turns: tuple[int, int] = (10, 40)
    start_tokens: int = 10_000  # the first tool result brings the context up to this
    step_tokens: tuple[int, int] = (1_500, 3_500)
    note_tokens: tuple[int, int] = (40, 240)
    max_context: int = 150_000

    @classmethod
    def parse(cls, spec: object) -> TraceSpec | None:
        """None (or false) = no trace: the two-turn protocol; true = the defaults; a mapping overrides."""
        if spec is None or spec is False:
            return None
        if spec is True:
            return cls()
        if not isinstance(spec, dict):
            raise ConfigError("sim script: oracle.trace must be true or a mapping (turns, step_tokens, ...)")
        unknown = set(spec) - {"turns", "start_tokens", "step_tokens", "note_tokens", "max_context"}
        if unknown:
            raise ConfigError(f"sim script: oracle.trace has unknown keys {sorted(unknown)}")
        base = cls()
        out = cls(
            turns=_pair(spec.get("turns", base.turns), "turns"),
            start_tokens=int(spec.get("start_tokens", base.start_tokens)),
            step_tokens=_pair(spec.get("step_tokens", base.step_tokens), "step_tokens"),
            note_tokens=_pair(spec.get("note_tokens", base.note_tokens), "note_tokens"),
            max_context=int(spec.get("max_context", base.max_context)),
        )
        if out.turns[0] < 2:
            raise ConfigError("sim script: oracle.trace.turns must start at 2 or more (edit + closing turn)")
        return out

    def attempt(self, *key: object) -> AttemptTrace:
        """The trace of the attempt that ``key`` (seed, task id, model id, attempt) names."""
        turns = between(*self.turns, *key, "turns")
        # Uniform step sizes within the range (not rounded to the range's ends).
        step = self.step_tokens[0] + int(unit(*key, "step") * (self.step_tokens[1] - self.step_tokens[0]))
        return AttemptTrace(tuple(key), turns, step, self)


def _pair(value: object, name: str) -> tuple[int, int]:
    if (
        not isinstance(value, list | tuple)
        or len(value) != 2
        or not all(isinstance(v, int) and v >= 0 for v in value)
        or value[0] > value[1]
    ):
        raise ConfigError(f"sim script: oracle.trace.{name} must be [low, high], 0 <= low <= high")
    return int(value[0]), int(value[1])

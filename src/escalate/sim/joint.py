"""Joint outcomes across model lines, drawn from a table of real runs (docs/sim.md, "Joint outcomes").

A table of real per-task results (for example SWE-bench Verified: which of the Haiku, Sonnet and
Opus runs resolved each issue) gives a joint distribution over outcome *patterns*: one resolved
flag per line. The oracle draws one pattern per task from the seed and the task id, so every model
line's result on that task comes from the same draw: the tasks only Opus solves, the ones no line
solves and the ones a cheap line solves but a dear one misses appear as often as in the table,
with no correlation assumed.
"""

from __future__ import annotations

from dataclasses import dataclass

from escalate.errors import ConfigError
from escalate.sim.draws import unit

Pattern = tuple[bool, ...]


@dataclass(frozen=True)
class JointTable:
    lines: tuple[str, ...]  # model lines (or ids), in the order of each pattern's flags
    patterns: tuple[tuple[Pattern, float], ...]  # (resolved flag per line, weight: rows in the table)

    @classmethod
    def parse(cls, spec: object) -> JointTable:
        """``{lines: [haiku, sonnet, opus], patterns: [{resolved: [1, 0, 1], weight: 12}, ...]}``."""
        where = "sim script: oracle.joint"
        if not isinstance(spec, dict) or not isinstance(spec.get("lines"), list) or not spec["lines"]:
            raise ConfigError(f"{where} needs `lines` (model lines or ids) and `patterns`")
        lines = tuple(str(x) for x in spec["lines"])
        patterns = []
        for i, raw in enumerate(spec.get("patterns") or []):
            flags = raw.get("resolved") if isinstance(raw, dict) else None
            if not isinstance(flags, list) or len(flags) != len(lines) or any(f not in (0, 1) for f in flags):
                raise ConfigError(f"{where}.patterns[{i}].resolved must be {len(lines)} flags of 0 or 1")
            weight = float(raw.get("weight", 1))
            if weight < 0:
                raise ConfigError(f"{where}.patterns[{i}].weight must be >= 0")
            patterns.append((tuple(bool(f) for f in flags), weight))
        if not patterns or sum(w for _, w in patterns) <= 0:
            raise ConfigError(f"{where}.patterns needs at least one pattern with a positive weight")
        return cls(lines, tuple(patterns))

    @classmethod
    def from_rows(cls, lines: list[str], rows: list[Pattern]) -> JointTable:
        """The table's rows counted into patterns (one row = one task's flags)."""
        counts: dict[Pattern, int] = {}
        for flags in rows:
            counts[tuple(flags)] = counts.get(tuple(flags), 0) + 1
        return cls(tuple(lines), tuple(sorted(counts.items(), reverse=True)))

    def to_spec(self) -> dict:
        return {
            "lines": list(self.lines),
            "patterns": [{"resolved": [int(f) for f in p], "weight": w} for p, w in self.patterns],
        }

    def frequencies(self) -> dict[Pattern, float]:
        total = sum(w for _, w in self.patterns)
        return {p: w / total for p, w in self.patterns}

    def draw(self, *key: object) -> Pattern:
        """The pattern of the task that ``key`` (seed, task id) names."""
        pick = unit("joint", *key) * sum(w for _, w in self.patterns)
        for pattern, weight in self.patterns:
            if pick < weight:
                return pattern
            pick -= weight
        return self.patterns[-1][0]

    def index(self, model_id: str, line: str | None) -> int | None:
        """Which flag is this model's: by model id, else by line; None when the table has neither."""
        for key in (model_id, line):
            if key in self.lines:
                return self.lines.index(key)
        return None

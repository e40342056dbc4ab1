"""Scripted behaviour: the YAML/dict format of docs/architecture.md ("Script format").

A script holds per-model response lists (``"*"`` answers for any model without
its own list), plus the ``faults`` and ``oracle`` sections that other modules
read. Each request takes the first unconsumed entry whose ``when`` holds.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from escalate.errors import ConfigError

EDITOR_TOOL = "str_replace_based_edit_tool"
BLOCK_TYPES = ("text", "thinking", "tool_use", "redacted_thinking")
STOP_REASONS = (
    "end_turn",
    "max_tokens",
    "stop_sequence",
    "tool_use",
    "pause_turn",
    "refusal",
    "model_context_window_exceeded",
)
USAGE_KEYS = ("input_tokens", "output_tokens", "thinking_tokens")
TOP_KEYS = ("models", "faults", "oracle", "seed")


def _strings(value: object) -> list[str]:
    """Every string inside a JSON value (so matches see text, tool inputs and tool results alike)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() if k not in ("signature", "cache_control") for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def system_text(body: dict) -> str:
    return "\n".join(_strings(body.get("system") or ""))


def request_text(body: dict) -> str:
    return "\n".join(_strings(body.get("system") or "") + _strings(body.get("messages") or []))


def last_user(body: dict) -> dict | None:
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            return message
    return None


def tool_results(message: dict | None) -> list[dict]:
    if not message or isinstance(message.get("content"), str):
        return []
    return [b for b in message.get("content") or [] if isinstance(b, dict) and b.get("type") == "tool_result"]


def _contains(haystack: str, needles: object) -> bool:
    items = needles if isinstance(needles, list) else [needles]
    return all(str(n) in haystack for n in items)


def _thinking_on(body: dict) -> bool:
    return (body.get("thinking") or {}).get("type") in ("enabled", "adaptive")


# name -> predicate(body, expected); documented in docs/sim.md ("when conditions")
CONDITIONS = {
    "system_contains": lambda body, v: _contains(system_text(body), v),
    "last_user_contains": lambda body, v: _contains("\n".join(_strings(last_user(body) or {})), v),
    "last_user_not_contains": lambda body, v: (
        not any(
            str(n) in "\n".join(_strings(last_user(body) or {})) for n in (v if isinstance(v, list) else [v])
        )
    ),
    "last_user_has_tool_result": lambda body, v: bool(tool_results(last_user(body))) == bool(v),
    "last_tool_result_is_error": lambda body, v: (
        any(r.get("is_error") for r in tool_results(last_user(body))) == bool(v)
    ),
    "request_contains": lambda body, v: _contains(request_text(body), v),
    "thinking": lambda body, v: _thinking_on(body) == bool(v),
    "turn": lambda body, v: (
        1 + sum(1 for m in body.get("messages") or [] if m.get("role") == "assistant") == int(v)
    ),
    "tools_include": lambda body, v: _contains(
        " ".join(str(t.get("name")) for t in body.get("tools") or []), v
    ),
}


@dataclass
class ScriptEntry:
    model_key: str
    index: int
    content: list[dict]
    when: dict = field(default_factory=dict)
    stop_reason: str | None = None
    usage: dict = field(default_factory=dict)
    repeat: bool = False
    consumed: bool = False

    @property
    def label(self) -> str:
        return f"{self.model_key}[{self.index}]"

    def matches(self, body: dict) -> bool:
        return all(CONDITIONS[name](body, expected) for name, expected in self.when.items())


def _entry(model_key: str, index: int, raw: object) -> ScriptEntry:
    where = f"models.{model_key}[{index}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"sim script: {where} must be a mapping with a `content` list")
    unknown = set(raw) - {"when", "content", "stop_reason", "usage", "repeat"}
    if unknown:
        raise ConfigError(f"sim script: {where} has unknown keys {sorted(unknown)}")
    when = raw.get("when") or {}
    for name in when:
        if name not in CONDITIONS:
            raise ConfigError(
                f"sim script: {where}.when.{name} is not a condition; use one of {sorted(CONDITIONS)}"
            )
    content = raw.get("content")
    if content is None:
        content = []
    if isinstance(content, str):
        content = [{"type": "text", "text": content}]
    blocks = []
    for j, block in enumerate(content):
        if not isinstance(block, dict) or block.get("type") not in BLOCK_TYPES:
            raise ConfigError(f"sim script: {where}.content[{j}].type must be one of {list(BLOCK_TYPES)}")
        block = dict(block)
        if block["type"] == "tool_use":
            block.setdefault("name", EDITOR_TOOL)
            if not isinstance(block.get("input"), dict):
                raise ConfigError(
                    f"sim script: {where}.content[{j}].input must be a mapping (the tool input)"
                )
        blocks.append(block)
    stop = raw.get("stop_reason")
    if stop is not None and stop not in STOP_REASONS:
        raise ConfigError(f"sim script: {where}.stop_reason must be one of {list(STOP_REASONS)}")
    usage = raw.get("usage") or {}
    if set(usage) - set(USAGE_KEYS):
        raise ConfigError(f"sim script: {where}.usage may only set {list(USAGE_KEYS)}")
    return ScriptEntry(
        model_key, index, blocks, dict(when), stop, dict(usage), bool(raw.get("repeat", False))
    )


class Script:
    """The parsed script; ``pick`` is thread-safe and consumes entries."""

    def __init__(self, raw: dict | None = None):
        raw = raw or {}
        if not isinstance(raw, dict):
            raise ConfigError("sim script: the top level must be a mapping with `models`, `faults`, `oracle`")
        unknown = set(raw) - set(TOP_KEYS)
        if unknown:
            raise ConfigError(
                f"sim script: unknown top-level keys {sorted(unknown)}; expected {list(TOP_KEYS)}"
            )
        self.raw = raw
        models = raw.get("models") or {}
        if not isinstance(models, dict):
            raise ConfigError('sim script: `models` must map model ids (or "*") to lists of entries')
        self.models: dict[str, list[ScriptEntry]] = {
            str(key): [_entry(str(key), i, e) for i, e in enumerate(entries or [])]
            for key, entries in models.items()
        }
        self.faults: list[dict] = list(raw.get("faults") or [])
        self.oracle: dict | None = raw.get("oracle")
        self.seed = raw.get("seed")
        self._lock = threading.Lock()

    @classmethod
    def load(cls, source: dict | str | Path | None) -> Script:
        if source is None:
            return cls({})
        if isinstance(source, dict):
            return cls(source)
        path = Path(source)
        if not path.is_file() and isinstance(source, str) and source in packaged_scripts():
            path = Path(str(resources.files("escalate.sim").joinpath(f"scripts/{source}.yml")))
        if not path.is_file():
            names = ", ".join(packaged_scripts())
            raise ConfigError(
                f"sim script: {path} does not exist; pass a YAML file or a shipped script's name ({names}); "
                "see docs/sim.md"
            )
        try:
            return cls(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
        except yaml.YAMLError as exc:
            raise ConfigError(f"sim script: {path} is not valid YAML: {exc}") from None

    def pick(self, model_id: str, body: dict) -> ScriptEntry | None:
        entries = self.models.get(model_id)
        if entries is None:
            entries = self.models.get("*", [])
        with self._lock:
            for entry in entries:
                if not entry.consumed and entry.matches(body):
                    if not entry.repeat:
                        entry.consumed = True
                    return entry
        return None

    def remaining(self) -> list[str]:
        """Labels of entries never used (handy in test failure messages)."""
        return [
            e.label for entries in self.models.values() for e in entries if not e.consumed and not e.repeat
        ]


def packaged_scripts() -> list[str]:
    """The example scripts shipped with escalate, by name (``escalate sim serve --script escalation``)."""
    folder = resources.files("escalate.sim").joinpath("scripts")
    return sorted(e.name.removesuffix(".yml") for e in folder.iterdir() if e.name.endswith(".yml"))

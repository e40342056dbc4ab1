"""The size of a task's first request, measured before any model call (context-size routing).

The router needs the size of what a tier's first call will send (system prompt, the first
message with test source, output and traceback excerpts, the tool definitions). The count
comes from the API's free ``count_tokens`` endpoint on the first tier's model; when that call
fails (or there is no client, as in ``escalate explain`` without a key) a local estimate of
characters / 4 stands in, and the estimate says which it is.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from escalate.config import Config
    from escalate.llm.catalog import ModelInfo
    from escalate.llm.protocols import ModelClient
    from escalate.task import Frame, Task

CHARS_PER_TOKEN = 4


@dataclass
class FirstRequest:
    """What a tier's first call sends (before any hand-over summary)."""

    system: str
    messages: list[dict]
    tools: list[dict]
    frames: list[Frame] = field(default_factory=list)  # traceback frames in the repository

    def chars(self) -> int:
        return len(self.system) + len(json.dumps(self.messages)) + len(json.dumps(self.tools))


def first_request(
    task: Task, root: Path, failures: dict[str, str], targets: list[str], config: Config
) -> FirstRequest:
    """The system prompt, first message and tools a tier's first call sends, as the runner builds them.

    `failures` maps failing target node ids to their failure text (the baseline's
    ``target_failures``); `targets` are the tests that must pass (empty: the whole suite).
    """
    from escalate.agent import prompts as prompt
    from escalate.agent.editor import Editor
    from escalate.task import traceback_frames

    root = Path(root)
    frames: list[Frame] = []
    for output in failures.values():
        for frame in traceback_frames(output, root):
            if frame not in frames:
                frames.append(frame)
    first = prompt.first_message(
        root=root,
        task_title=task.title,
        task_text=task.text,
        target_failures=failures or {t: "" for t in targets},
        frames=frames,
        handover=None,
        suite_must_pass=not targets,
    )
    tools = Editor(root, config.editor.protected_paths, config.editor.max_view_chars).tools()
    return FirstRequest(prompt.system_prompt(), [{"role": "user", "content": first}], tools, frames)


@dataclass(frozen=True)
class ContextEstimate:
    tokens: int
    source: str  # "count_tokens" | "local"
    note: str  # the model counted on, or why the local estimate was used

    def describe(self) -> str:
        how = "count_tokens" if self.source == "count_tokens" else "local estimate, characters / 4"
        return f"{self.tokens:,} tokens ({how}; {self.note})"

    def to_json(self) -> dict:
        return {"tokens": self.tokens, "source": self.source, "note": self.note}


def local_estimate(request: FirstRequest) -> int:
    return math.ceil(request.chars() / CHARS_PER_TOKEN)


def estimate(request: FirstRequest, model: ModelInfo, llm: ModelClient | None = None) -> ContextEstimate:
    """Tokens of `request` on `model`: the API's count through `llm`, else the local estimate with
    the reason."""
    if llm is None:
        return ContextEstimate(local_estimate(request), "local", "no API client")
    from escalate.llm.client import ModelCallError, ModelRequest

    try:
        tokens = llm.count_tokens(ModelRequest(model, request.system, request.messages, 1, request.tools))
        return ContextEstimate(tokens, "count_tokens", f"counted on {model.id}")
    except ModelCallError as exc:  # the estimate must not stop the run
        why = f"count_tokens failed: {str(exc)[:160]}"
        return ContextEstimate(local_estimate(request), "local", why)

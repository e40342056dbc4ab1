"""Oracle mode for benchmarks: a seeded model that knows each task's fix (docs/sim.md, "Oracle").

Two success models. **Joint** (``oracle.joint``, sim/joint.py): each task draws one outcome pattern
(a resolved flag per model line) from a table of real runs, so the lines' results on a task are as
correlated as they were in reality; a line whose flag is set fixes the task on its first attempt,
one whose flag is clear fails every attempt. **Copula** (``oracle.success``): task difficulty d
(given, or uniform from the seed and task id) and per-attempt noise u (uniform from the seed, task
id and attempt number, the same for every model) are mixed with a Gaussian copula,

    score = Phi(rho * Phi^-1(d) + sqrt(1 - rho^2) * Phi^-1(u)),

which is itself uniform, so "success iff score < p_model" succeeds with exactly
probability p_model over tasks, and a task/attempt that a stronger model fails is
failed by every weaker one with the same seed (shared difficulty and noise).

With ``oracle.trace`` the model explores before it edits (sim/trace.py): 10-40 turns per attempt,
each viewing a file whose result counts at a drawn size, so the context grows as a real agent's.
"""

from __future__ import annotations

import hashlib
import math
import threading
from dataclasses import dataclass
from statistics import NormalDist

from escalate.errors import ConfigError
from escalate.sim.catalogue import SimCatalogue, SimModel
from escalate.sim.draws import unit
from escalate.sim.errors import invalid
from escalate.sim.joint import JointTable
from escalate.sim.script import EDITOR_TOOL, last_user, request_text, system_text, tool_results
from escalate.sim.tokens import count_input
from escalate.sim.trace import TraceSpec

_NORMAL = NormalDist()
# Weights of the wrong-answer kinds (renormalised over the kinds available for the attempt).
WRONG_KINDS = {"wrong": 0.5, "syntax": 0.2, "no_change": 0.15, "undo": 0.15}


@dataclass(frozen=True)
class Edit:
    path: str
    old_str: str | None
    new_str: str | None
    file_text: str | None = None

    def tool_input(self) -> dict:
        if self.file_text is not None:
            return {"command": "create", "path": self.path, "file_text": self.file_text}
        return {"command": "str_replace", "path": self.path, "old_str": self.old_str, "new_str": self.new_str}


@dataclass(frozen=True)
class OracleTask:
    id: str
    match: str
    difficulty: float
    fix: tuple[Edit, ...]
    wrong: tuple[tuple[Edit, ...], ...]


_unit = unit


def _edits(raw: object, where: str) -> tuple[Edit, ...]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"sim script: {where} must be a non-empty list of {{path, old_str, new_str}}")
    out = []
    for i, e in enumerate(raw):
        if (
            not isinstance(e, dict)
            or "path" not in e
            or not ("file_text" in e or ("old_str" in e and "new_str" in e))
        ):
            raise ConfigError(f"sim script: {where}[{i}] needs path plus old_str/new_str (or file_text)")
        out.append(Edit(str(e["path"]), e.get("old_str"), e.get("new_str"), e.get("file_text")))
    return tuple(out)


class Oracle:
    def __init__(self, spec: dict, catalogue: SimCatalogue):
        if not isinstance(spec, dict):
            raise ConfigError("sim script: `oracle` must be a mapping with seed, success and tasks")
        self.seed = spec.get("seed", 0)
        self.success = {str(k): float(v) for k, v in (spec.get("success") or {}).items()}
        self.joint = JointTable.parse(spec["joint"]) if spec.get("joint") is not None else None
        if not self.success and self.joint is None:
            raise ConfigError(
                "sim script: oracle.success needs a probability per model line or id, e.g. {haiku: 0.7} "
                "(or oracle.joint, a table of outcome patterns)"
            )
        self.trace = TraceSpec.parse(spec.get("trace"))
        # Tool results of exploring turns, counted at their drawn size by tool_use id (sim/trace.py).
        self.result_tokens: dict[str, int] = {}
        self._turns: dict[tuple[str, str], list] = {}  # (task, model) -> [attempt, edited]
        self.rho = float(spec.get("correlation", 0.8))
        # Shared noise: attempt n has the same luck for every model, so "a stronger model fails"
        # implies "every weaker one fails". False: each model draws its own per-attempt noise.
        self.shared_noise = bool(spec.get("shared_noise", True))
        # Requests whose system prompt holds one of these strings are not attempts (e.g. a read-only
        # explorer that is offered the editor only to `view`); the script answers them.
        self.pass_system = [str(x) for x in spec.get("pass_system") or []]
        if not 0.0 <= self.rho < 1.0:
            raise ConfigError("sim script: oracle.correlation must be in [0, 1)")
        self.catalogue = catalogue
        self.tasks: list[OracleTask] = []
        for i, raw in enumerate(spec.get("tasks") or []):
            where = f"oracle.tasks[{i}]"
            if not isinstance(raw, dict) or "id" not in raw or "match" not in raw:
                raise ConfigError(f"sim script: {where} needs `id` and `match`")
            tid = str(raw["id"])
            difficulty = raw.get("difficulty")
            self.tasks.append(
                OracleTask(
                    id=tid,
                    match=str(raw["match"]),
                    difficulty=_unit(self.seed, "difficulty", tid)
                    if difficulty is None
                    else float(difficulty),
                    fix=_edits(raw.get("fix"), f"{where}.fix"),
                    wrong=tuple(
                        _edits(w, f"{where}.wrong[{j}]") for j, w in enumerate(raw.get("wrong") or [])
                    ),
                )
            )
        self._attempts: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    # -- the success model -----------------------------------------------------------------------

    def probability(self, model: SimModel) -> float:
        for key in (model.id, model.line):
            if key in self.success:
                return self.success[key]
        raise invalid(
            f"the sim oracle has no success probability for {model.id}; "
            f"add oracle.success.{model.line or model.id}"
        )

    def score(self, task: OracleTask, attempt: int, model_id: str = "") -> tuple[float, float]:
        """(noise, score) for the nth attempt at a task (the same for every model with shared noise)."""
        noise = _unit(self.seed, "noise", task.id, attempt, *([] if self.shared_noise else [model_id]))
        d = min(max(task.difficulty, 1e-9), 1 - 1e-9)
        z = self.rho * _NORMAL.inv_cdf(d) + math.sqrt(1 - self.rho**2) * _NORMAL.inv_cdf(noise)
        return noise, _NORMAL.cdf(z)

    def find_task(self, body: dict) -> OracleTask | None:
        text = request_text(body)
        found = [t for t in self.tasks if t.match in text]
        return max(found, key=lambda t: len(t.match)) if found else None

    # -- answering ---------------------------------------------------------------------------------

    def respond(self, model: SimModel, body: dict, *, batch: bool = False) -> tuple[list[dict], dict] | None:
        task = self.find_task(body)
        tool = _editor_name(body)
        if task is None or tool is None:  # a model cannot edit without the tool; the script answers
            return None
        if self.pass_system and any(x in system_text(body) for x in self.pass_system):
            return None
        if self.trace is not None and not batch:  # a one-shot batch request gets no second turn
            return self._traced(model, body, task, tool)
        if tool_results(last_user(body)):
            return self._closing(model, body, task, tool)
        return self._edit_turn(model, body, task, tool, self._next_attempt(task, model))

    def _next_attempt(self, task: OracleTask, model: SimModel) -> int:
        with self._lock:
            key = (task.id, model.id)
            self._attempts[key] = attempt = self._attempts.get(key, 0) + 1
        return attempt

    def _closing(self, model: SimModel, body: dict, task: OracleTask, tool: str) -> tuple[list[dict], dict]:
        touched = sorted({e["path"] for e in _applied_edits(body, tool)})
        where = ", ".join(touched) if touched else "the code"
        text = f"I've updated {where}; the change should make the failing test pass."
        decision = {"task": task.id, "model": model.id, "phase": "done"}
        return [{"type": "text", "text": text}], {"oracle": decision}

    def _traced(self, model: SimModel, body: dict, task: OracleTask, tool: str) -> tuple[list[dict], dict]:
        """Exploring turns, then the edit turn, then the closing turn (sim/trace.py)."""
        assert self.trace is not None
        turn = _turns_in_attempt(body)
        key = (task.id, model.id)
        with self._lock:
            state = self._turns.get(key)
        if turn == 0 or state is None:
            state = [self._next_attempt(task, model), False]
            with self._lock:
                self._turns[key] = state
        attempt, edited = state
        if edited:
            return self._closing(model, body, task, tool)
        plan = self.trace.attempt(self.seed, task.id, model.id, attempt)
        if turn < plan.exploring_turns:
            with self._lock:
                context = count_input(body, model.tokenizer, self.result_tokens)
            size = plan.result_tokens(turn, context, model.context_window)
            if size:
                return self._explore(model, task, tool, plan.key, turn, size, plan.note_tokens(turn))
        state[1] = True
        blocks, meta = self._edit_turn(model, body, task, tool, attempt)
        meta["oracle"]["turns"] = turn + 2  # this edit turn and the closing one
        return blocks, meta

    def _explore(
        self, model: SimModel, task: OracleTask, tool: str, key: tuple, turn: int, size: int, note: int
    ) -> tuple[list[dict], dict]:
        paths = sorted({e.path for e in task.fix})
        path = paths[turn % len(paths)]
        use_id = "toolu_01" + hashlib.sha256("|".join(map(str, (*key, turn))).encode()).hexdigest()[:22]
        with self._lock:
            self.result_tokens[use_id] = size
        sentence = f"Reading {path} to follow the failing behaviour to its cause. "
        text = (sentence * (note * 4 // len(sentence) + 1))[: note * 4].strip()
        blocks = [
            {"type": "text", "text": text},
            {"type": "tool_use", "id": use_id, "name": tool, "input": {"command": "view", "path": path}},
        ]
        decision = {"task": task.id, "model": model.id, "attempt": key[-1], "phase": "explore",
                    "turn": turn, "result_tokens": size}  # fmt: skip
        return blocks, {"oracle": decision}

    def _succeeds(self, task: OracleTask, model: SimModel, attempt: int) -> dict:
        """The attempt's outcome and the numbers behind it, from the joint table or the copula."""
        if self.joint is not None:
            pattern = self.joint.draw(self.seed, task.id)
            index = self.joint.index(model.id, model.line)
            if index is None:
                raise invalid(
                    f"the sim oracle's joint table has no column for {model.id}; "
                    f"add {model.line or model.id} to oracle.joint.lines"
                )
            resolves = pattern[index]
            return {"pattern": [int(f) for f in pattern], "resolves": resolves,
                    "success": resolves and attempt == 1}  # fmt: skip
        p = self.probability(model)
        noise, score = self.score(task, attempt, model.id)
        return {"p": p, "difficulty": task.difficulty, "noise": round(noise, 6), "score": round(score, 6),
                "success": score < p}  # fmt: skip

    def _edit_turn(
        self, model: SimModel, body: dict, task: OracleTask, tool: str, attempt: int
    ) -> tuple[list[dict], dict]:
        outcome = self._succeeds(task, model, attempt)
        applied = _applied_edits(body, tool)
        undo = [Edit(e["path"], e["new_str"], e["old_str"]) for e in reversed(applied) if "old_str" in e]
        if outcome["success"]:
            kind, edits = "fix", undo + list(task.fix)
        else:
            kind, edits = self._wrong(task, model, attempt, undo)
        blocks = self._blocks(body, task, kind, edits, tool)
        decision = {"task": task.id, "model": model.id, "attempt": attempt, **outcome, "kind": kind}
        return blocks, {"oracle": decision}

    def _wrong(
        self, task: OracleTask, model: SimModel, attempt: int, undo: list[Edit]
    ) -> tuple[str, list[Edit]]:
        kinds = {
            k: w for k, w in WRONG_KINDS.items() if (k != "wrong" or task.wrong) and (k != "undo" or undo)
        }
        pick = _unit(self.seed, "kind", task.id, model.id, attempt) * sum(kinds.values())
        kind = list(kinds)[-1]
        for name, weight in kinds.items():
            if pick < weight:
                kind = name
                break
            pick -= weight
        if kind == "wrong":
            choice = task.wrong[int(_unit(self.seed, "which", task.id, model.id, attempt) * len(task.wrong))]
            return kind, undo + list(choice)
        if kind == "syntax":
            first, *rest = task.fix
            broken = Edit(
                first.path, first.old_str, (first.new_str or "").rstrip("\n") + ")\n", first.file_text
            )
            if first.file_text is not None:
                broken = Edit(first.path, None, None, first.file_text + "\n)(\n")
            return kind, undo + [broken, *rest]
        if kind == "undo":
            return kind, undo
        return "no_change", []

    def _blocks(self, body: dict, task: OracleTask, kind: str, edits: list[Edit], tool: str) -> list[dict]:
        paths = sorted({e.path for e in task.fix})
        blocks: list[dict] = []
        if (body.get("thinking") or {}).get("type") in ("enabled", "adaptive"):
            plan = (
                "; ".join(f"in {e.path} replace {e.old_str!r} with {e.new_str!r}" for e in edits)
                or "look first"
            )
            blocks.append(
                {"type": "thinking", "thinking": f"The failure traces to {', '.join(paths)}. Plan: {plan}."}
            )
        if kind == "no_change":
            blocks.append({"type": "text", "text": f"Let me look at {paths[0]} before changing anything."})
            blocks.append({"type": "tool_use", "name": tool, "input": {"command": "view", "path": paths[0]}})
            return blocks
        blocks.append({"type": "text", "text": f"The bug is in {', '.join(paths)}. I'll make the fix."})
        blocks += [{"type": "tool_use", "name": tool, "input": e.tool_input()} for e in edits]
        return blocks


def _editor_name(body: dict) -> str | None:
    """The text editor tool's name in this request, or None when no editor is offered."""
    for tool in body.get("tools") or []:
        if str(tool.get("type", "")).startswith("text_editor_") or tool.get("name") == EDITOR_TOOL:
            return str(tool.get("name") or EDITOR_TOOL)
    return None


def _turns_in_attempt(body: dict) -> int:
    """Assistant turns since the user message that opened this attempt (the first message or the
    runner's feedback: a user message with text, not only tool results)."""
    turns = 0
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "assistant":
            turns += 1
        elif isinstance(message.get("content"), str) or any(
            b.get("type") == "text" for b in message.get("content") or [] if isinstance(b, dict)
        ):
            return turns
    return turns


def _applied_edits(body: dict, tool: str) -> list[dict]:
    """str_replace inputs this conversation applied (their tool_result came back without is_error)."""
    messages = body.get("messages") or []
    out = []
    for i, message in enumerate(messages[:-1]):
        if message.get("role") != "assistant" or isinstance(message.get("content"), str):
            continue
        ok = {r.get("tool_use_id") for r in tool_results(messages[i + 1]) if not r.get("is_error")}
        for block in message.get("content") or []:
            if block.get("type") == "tool_use" and block.get("name") == tool and block.get("id") in ok:
                inp = block.get("input") or {}
                if inp.get("command") == "str_replace":
                    out.append(
                        {
                            "path": inp.get("path"),
                            "old_str": inp.get("old_str"),
                            "new_str": inp.get("new_str"),
                        }
                    )
    return out

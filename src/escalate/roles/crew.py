"""One run's crew: which roles play, on which models, and their calls.

``Crew.assemble`` decides which roles run for a task (the preset, the task class, the config)
and writes each choice down as a ``Decision``; ``brief`` runs the explorer and the planner
before the first attempt, ``review`` the reviewer after validation passes, and
``commit_message`` the commit writer once the fix is accepted. See roles.py for the rules every
role follows (same budget, call records with the role's name, failures degrade, never stop).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from escalate.llm.client import ModelCallError, ModelRequest
from escalate.llm.pricing import BudgetExceeded
from escalate.llm.protocols import Stop
from escalate.roles import review as rv
from escalate.roles.plan import (
    COMMITTER_SYSTEM,
    EDITOR_TOOL,
    EXPLORER_SYSTEM,
    MAX_PLAN_CHARS,
    PLANNER_SYSTEM,
    Brief,
    RolePlan,
    check_commit_message,
    choose,
    compose_commit_message,
    parse_findings,
    role_config,
)

if TYPE_CHECKING:
    from escalate.agent.editor import Editor, ToolResult
    from escalate.config import Config
    from escalate.llm.catalog import Catalog
    from escalate.llm.client import ModelReply
    from escalate.llm.protocols import ModelClient
    from escalate.records.console import Progress
    from escalate.routing.route import Route
    from escalate.routing.rules import Classification
    from escalate.task import FrameLike, Task

Decide = Callable[[str, str, str], None]
LAST_TURN = "You are out of turns: stop exploring and give your ```json file list now."


class ReadOnlyEditor:
    """The explorer's tools: the editor's ``view``, ``search_repo`` and ``list_files``; edits refused."""

    def __init__(self, editor: Editor) -> None:
        self.editor = editor

    def tools(self) -> list[dict]:
        return self.editor.tools()

    def handle(self, name: str, tool_input: dict) -> ToolResult:
        from escalate.agent.editor import ToolResult

        command = tool_input.get("command") if isinstance(tool_input, dict) else None
        if name == EDITOR_TOOL and command != "view":
            return ToolResult(
                f"Error: the explorer is read-only; `{command}` is refused. Use `view`, `search_repo` "
                "or `list_files`, then give your file list.",
                is_error=True,
            )
        return self.editor.handle(name, tool_input)


def classification(
    task: Task, config: Config, frames: Iterable[FrameLike], root: Path | None, plan: Route | None = None
) -> Classification:
    """The task class: the router's when it made one, else the classifier on the same signals."""
    if plan is not None and plan.classification is not None:
        return plan.classification
    from escalate.routing.rules import classify, gather_signals

    return classify(gather_signals(task, frames=list(frames), root=root or Path(".")), config.router)


class Crew:
    """The roles that play in one run (an empty crew plays none)."""

    def __init__(
        self,
        task: Task,
        config: Config,
        llm: ModelClient,
        plans: dict[str, RolePlan],
        *,
        decide: Decide,
        progress: Progress | None = None,
        localised: list[str] = (),
    ) -> None:
        self.task = task
        self.config = config
        self.llm = llm
        self.plans = plans
        self.decide = decide
        self.progress = progress
        self.localised = list(localised)

    @classmethod
    def assemble(
        cls,
        task: Task,
        config: Config,
        catalog: Catalog,
        llm: ModelClient,
        *,
        decide: Decide,
        frames: Iterable[FrameLike] = (),
        root: Path | None = None,
        route: Route | None = None,
        progress: Progress | None = None,
    ) -> Crew:
        """Choose the roles for ``task``; a missing price or unknown model stops the run here."""
        frames = list(frames)
        klass = None if config.roles.preset == "single" else classification(task, config, frames, root, route)
        plans, decisions = choose(config, catalog, klass, task.labels)
        for d in decisions:
            decide(d.kind, d.choice, d.reason)
        for plan in plans.values():
            llm.prices.price(plan.model.id)  # a missing price stops the run before any call
        localised = list(klass.signals.files) if klass is not None and klass.signals is not None else []
        return cls(task, config, llm, plans, decide=decide, progress=progress, localised=localised)

    # -- calls -------------------------------------------------------------------------------------

    def _line(self, text: str) -> None:
        if self.progress is not None:
            self.progress.line(text)

    def _ask(self, plan: RolePlan, system: str, message: str) -> ModelReply | None:
        """One tool-less call for ``plan``'s role; None (with a decision) when it cannot be made."""
        request = ModelRequest(
            model=plan.model,
            system=system,
            messages=[{"role": "user", "content": [{"type": "text", "text": message}]}],
            max_tokens=plan.max_tokens,
            effort=plan.effort,
            thinking=plan.thinking,
            tier=plan.name,
            role=plan.role,
        )
        try:
            return self.llm.send(request)
        except (BudgetExceeded, ModelCallError) as exc:
            self.decide("role", f"{plan.role}: no answer", f"{type(exc).__name__}: {exc}")
            return None

    def brief(
        self, root: Path, failures: dict[str, str], frames: Iterable[FrameLike], cache_dir: Path
    ) -> Brief:
        """Explorer then planner, before the first attempt; what they found for the implementer."""
        from escalate.workspace.repomap import build_map, files_in_traceback, names_in_text

        brief = Brief()
        if not ("explorer" in self.plans or "planner" in self.plans):
            return brief
        task = self.task
        text = "\n".join([task.title, task.text, *failures.values()])
        focus = [*self.localised, *files_in_traceback(text, root)]
        repo_map = build_map(
            root,
            focus_files=focus,
            focus_names=names_in_text(text),
            budget_tokens=self.config.roles.map_tokens,
            cache_dir=cache_dir,
        )
        context = _task_context(task, failures, frames, repo_map.text)
        if "explorer" in self.plans:
            brief.findings = self._explore(self.plans["explorer"], root, context)
        if "planner" in self.plans:
            plan = self.plans["planner"]
            found = Brief(brief.findings).text() or ""
            excerpts = _excerpts(root, brief.paths or focus)
            reply = self._ask(plan, PLANNER_SYSTEM, "\n\n".join(p for p in [context, found, excerpts] if p))
            words = (reply.text or "").strip() if reply is not None else ""
            if reply is not None and reply.stop == Stop.REFUSAL:
                words = ""
            if words:
                brief.plan = words[:MAX_PLAN_CHARS]
                brief.planner = f"{plan.name}, {plan.model.id}"
                self.decide("role", "planner: plan", f"{len(words)} characters for the implementer")
                self._line(f"planner ({plan.model.id}): a plan of {len(words.split())} words")
            elif reply is not None:
                self.decide("role", "planner: no plan", f"empty answer (stop: {reply.stop})")
        return brief

    def _explore(self, plan: RolePlan, root: Path, context: str) -> list:
        from escalate.agent.editor import Editor
        from escalate.agent.session import Session

        editor = ReadOnlyEditor(
            Editor(root, self.config.editor.protected_paths, self.config.editor.max_view_chars)
        )
        ask = context + "\n\nExplore, then end with the ```json file list."
        session = Session(
            plan, self.llm, editor, EXPLORER_SYSTEM, [{"type": "text", "text": ask}],
            max_turns=plan.max_turns, role="explorer",
        )  # fmt: skip
        try:
            end = session.attempt()
            if end.reason == "turn_limit":  # out of turns mid-exploration: one last turn to answer
                session.max_turns = 1
                last = session.attempt(LAST_TURN)
                end.turns += last.turns
                end.text = last.text or end.text
        except (BudgetExceeded, ModelCallError) as exc:
            self.decide("role", "explorer: no answer", f"{type(exc).__name__}: {exc}")
            return []
        findings, dropped = parse_findings(end.text, root)
        gone = f"; dropped (no such file): {', '.join(dropped)}" if dropped else ""
        if findings:
            self.decide("role", "explorer: files", ", ".join(f.path for f in findings) + gone)
            self._line(f"explorer ({plan.model.id}): {', '.join(f.path for f in findings)}")
        else:
            why = "no file list in its answer" if not dropped else "every file it named is missing"
            self.decide("role", "explorer: nothing", f"{why} ({end.reason}, {end.turns} turns){gone}")
        return findings

    @property
    def reviews(self) -> bool:
        """True when a reviewer reads the patches that pass validation."""
        return "reviewer" in self.plans

    def review(
        self, diff: str, targets: list[str], summary: str, duration_s: float = 0.0
    ) -> rv.Rejection | None:
        """The reviewer's verdict on a patch that passed validation (in ``duration_s``); a Rejection
        fails the attempt."""
        plan = self.plans.get("reviewer")
        if plan is None:
            return None
        system = rv.REVIEWER_SYSTEM
        if role_config(self.config, "reviewer", self.task.labels)[1].endswith("security"):
            system += rv.SECURITY_NOTE
        # Reviewed whole, in parts if need be: a cheat in the middle of a long diff is never cut out.
        parts = rv.diff_parts(diff)
        who = f"{plan.name}, {plan.model.id}"
        if parts is None or len(parts) > rv.MAX_REVIEW_PARTS:
            failed = rv.too_large(diff, parts)
            self.decide("review", "reject", f"{who}: {failed.reason}")
            failed.duration_s = duration_s
            return failed
        verdicts = []
        for n, part in enumerate(parts, start=1):
            message = rv.review_message(
                self.task.title, self.task.text, targets, part, summary, part=(n, len(parts))
            )
            reply = self._ask(plan, system, message)
            if reply is not None:
                verdicts.append(rv.parse_review(reply.text))
        if not verdicts:
            return None
        verdict = rv.combine(verdicts, len(parts))
        self._line(f"reviewer ({plan.model.id}): {'reject' if verdict.rejects else verdict.kind}")
        if verdict.rejects:
            self.decide("review", "reject", f"{who}: {'; '.join(verdict.findings)[:400]}")
            failed = rv.rejection(verdict, who)
            failed.duration_s = duration_s
            return failed
        if verdict.kind == "approve":
            notes = f" with remarks: {'; '.join(verdict.findings)[:300]}" if verdict.findings else ""
            self.decide("review", "approve", f"{who}{notes}")
        else:
            # Not a rejection (a broken reviewer must not block fixes) and not an approval either.
            self.decide("review", "unclear: not counted", f"{who}: {verdict.note}")
        return None

    def commit_message(self, diff: str, fallback: str, summary: str = "") -> str:
        """The commit writer's message around the runner's facts, or ``fallback`` when unusable."""
        plan = self.plans.get("committer")
        if plan is None:
            return fallback
        from escalate.agent.prompts import truncate

        message = "\n".join(
            [
                f"Task: {self.task.title}",
                "",
                f"The implementer's summary: {truncate(summary.strip(), 1500) or '(none)'}",
                "",
                "```diff",
                truncate(diff, 16_000),
                "```",
            ]
        )
        reply = self._ask(plan, COMMITTER_SYSTEM, message)
        if reply is None:
            return fallback
        checked = check_commit_message(reply.text)
        if checked is None:
            first = (reply.text or "").strip().splitlines()[:1]
            why = f"unusable answer ({first[0][:80]!r})" if first else "empty answer"
            self.decide("role", "committer: runner's message", f"{why}: subject must be one line <= 72 chars")
            return fallback
        subject, body = checked
        self.decide("role", "committer: message", subject)
        return compose_commit_message(subject, body, fallback, f"{plan.name}/{plan.model.id}")


def _task_context(task: Task, failures: dict[str, str], frames: Iterable[FrameLike], repo_map: str) -> str:
    from escalate.agent.prompts import _frame_pairs, truncate

    parts = ["# Task", "", task.title]
    if task.text and task.text.strip() != task.title.strip():
        parts += ["", task.text.strip()]
    for nodeid, output in failures.items():
        parts += ["", f"## Failing test {nodeid}", "```", truncate(output or "(no output)", 3000), "```"]
    pairs = _frame_pairs(frames)
    if pairs:
        parts += ["", "## Traceback frames", *[f"- {p}:{ln}" for p, ln in pairs]]
    if repo_map:
        parts += ["", "# Repository map (ranked toward the task)", "", repo_map]
    return "\n".join(parts)


def _excerpts(root: Path, paths: list[str], limit: int = 4) -> str:
    from escalate.agent.prompts import file_excerpt

    shown = [file_excerpt(root, p, []) for p in list(dict.fromkeys(paths))[:limit]]
    return "\n\n".join(s for s in shown if s)[:40_000] if paths else ""

"""`escalate demo`: the whole fix flow on a sample repository, with the model simulated.

The sample project ships in ``escalate/data/demo/`` (``demo.yml`` names its failing tests, a
wrong patch and a right patch). The demo copies it into a fresh git repository, starts the
simulated Anthropic API in this process with a script in which Haiku's patch fails validation
and then goes in circles while Sonnet's passes, and runs the real runner on it. Nothing here
re-implements the runner: only the model answers are scripted; git, ruff, pytest, the cost log
and the branch are real.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import yaml

from escalate.errors import EscalateError

if TYPE_CHECKING:
    from escalate.config import Config
    from escalate.records.types import Outcome

EDITOR_TOOL = "str_replace_based_edit_tool"
SIM_KEY = "sk-sim-demo-not-a-real-key"
# The SDK reads these; the demo sets them for its own run only and restores them afterwards.
SDK_ENV = ("ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")
SIMULATED = (
    "The model in this demo is SIMULATED: escalate's built-in fake of the Anthropic API runs in this "
    "process and plays scripted answers. No API key, no network, no charge."
)
REAL_PARTS = (
    "Everything else is real: a git repository, a worktree and a branch, ruff and pytest proving each "
    "patch, and a cost log priced at list prices (what these calls would cost)."
)


class DemoError(EscalateError):
    """The demo cannot run as asked (a --keep folder in the way, a broken install)."""


@dataclass(frozen=True)
class DemoSpec:
    """``demo.yml``: what is broken in the sample project and the two scripted patches."""

    project: str
    failing_tests: list[str]
    title: str
    text: str
    wrong: list[dict]
    right: list[dict]

    @classmethod
    def load(cls) -> DemoSpec:
        raw = yaml.safe_load((_data() / "demo.yml").read_text(encoding="utf-8"))
        return cls(
            project=str(raw["project"]),
            failing_tests=[str(t) for t in raw["failing_tests"]],
            title=str(raw["title"]),
            text=str(raw["text"]).strip(),
            wrong=[dict(e) for e in raw["wrong"]],
            right=[dict(e) for e in raw["right"]],
        )


def _data():
    return resources.files("escalate") / "data" / "demo"


# -- the sample repository ------------------------------------------------------------------------


def create_repo(dest: Path) -> Path:
    """Copy the sample project into ``dest`` (new or empty) as a git repository with one commit."""
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise DemoError(f"{dest} exists and is not empty; pass a new or empty folder to --keep.")
    dest.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".ruff_cache", "demo.yml")
    with resources.as_file(_data()) as src:
        if not (Path(src) / "demo.yml").is_file():
            raise DemoError(f"the demo's sample project is missing from {src}; reinstall escalate.")
        shutil.copytree(src, dest, ignore=ignore, dirs_exist_ok=True)
    (dest / ".gitignore").write_text("__pycache__/\n*.pyc\n.pytest_cache/\n.ruff_cache/\n.escalate/\n")
    # The demo repository is made here rather than by workspace.py: it is the user's "checkout",
    # not a worktree. Local identity only, so the demo never depends on the global git config.
    for args in (
        ("init", "-q", "-b", "main"),
        ("config", "user.name", "escalate demo"),
        ("config", "user.email", "demo@escalate.invalid"),
        ("config", "commit.gpgsign", "false"),
        ("add", "-A"),
        ("commit", "-q", "-m", "shop: apply_discount and the cart"),
    ):
        proc = subprocess.run(["git", *args], cwd=dest, capture_output=True, text=True, env=_git_env())
        if proc.returncode != 0:
            raise DemoError(f"git {args[0]} failed in {dest}: {proc.stderr.strip()}; is git installed?")
    return dest


def _git_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1")
    return env


# -- the simulated models -------------------------------------------------------------------------


def _edit(e: dict) -> dict:
    return {"type": "tool_use", "name": EDITOR_TOOL, "input": {"command": "str_replace", **e}}


def _system_line(text: str) -> str:
    return text.splitlines()[0]


def role_entries(spec: DemoSpec) -> list[dict]:
    """Answers for the roles around the implementer (explorer, planner, reviewer, commit writer),
    told apart by their system prompts; repeatable, so any tier's model may play them."""
    from escalate.roles.plan import COMMITTER_SYSTEM, EXPLORER_SYSTEM, PLANNER_SYSTEM
    from escalate.roles.review import REVIEWER_SYSTEM

    path = spec.right[0]["path"]
    listing = [{"path": path, "symbols": ["apply_discount"], "why": "computes the price the tests check"}]
    answers = {
        EXPLORER_SYSTEM: f"The tests call apply_discount in {path}.\n```json\n{json.dumps(listing)}\n```",
        PLANNER_SYSTEM: f"apply_discount in {path} takes the wrong fraction off; fix the formula there.",
        REVIEWER_SYSTEM: "APPROVE",
        COMMITTER_SYSTEM: (
            "fix: divide the discount percentage by 100\n\n"
            "apply_discount divided the percentage by 10, so ten times too much\n"
            "came off: 10% off 80.00 gave 0.00. It now divides by 100."
        ),
    }
    return [
        {"when": {"system_contains": _system_line(system)}, "content": text, "repeat": True}
        for system, text in answers.items()
    ]


def demo_script(spec: DemoSpec, first_model: str, second_model: str) -> dict:
    """The sim script: the first tier's patch fails the tests, its second attempt changes nothing
    (a circular fix), and the second tier looks at the file, then makes the right patch. The
    roles (explorer, reviewer, commit writer) get plain, helpful answers."""
    from escalate.agent.prompts import SYSTEM

    implementer = {"system_contains": _system_line(SYSTEM)}
    opening = {**implementer, "last_user_has_tool_result": False}
    after_tool = {**implementer, "last_user_has_tool_result": True}
    path = spec.right[0]["path"]
    roles = role_entries(spec)
    return {
        "models": {
            first_model: [
                *roles,
                {
                    "when": opening,
                    "content": [
                        {"type": "text", "text": f"The discount formula in {path} looks off. I'll fix it."},
                        *[_edit(e) for e in spec.wrong],
                    ],
                },
                {"when": after_tool, "content": f"I changed the formula in {path}. DONE"},
                {
                    "when": opening,
                    "content": "I re-checked the formula and I believe my change is correct; "
                    "the tests may expect something else. DONE",
                },
            ],
            second_model: [
                *roles,
                {
                    "when": opening,
                    "content": [
                        {"type": "text", "text": f"Let me read {path} first."},
                        {"type": "tool_use", "name": EDITOR_TOOL, "input": {"command": "view", "path": path}},
                    ],
                },
                {
                    "when": after_tool,
                    "content": [
                        {
                            "type": "text",
                            "text": "The percentage is divided by 10 instead of 100, so ten times too much "
                            "comes off. The earlier attempt returned the discount amount instead of the "
                            "discounted price; I'll keep the subtraction and fix the divisor.",
                        },
                        *[_edit(e) for e in spec.right],
                    ],
                },
                {
                    "when": after_tool,
                    "content": "apply_discount now divides the percentage by 100, so 10% off 80.00 "
                    "is 72.00. DONE",
                },
            ],
            "*": roles,
        }
    }


@contextmanager
def sim_environment(url: str, key: str = SIM_KEY) -> Iterator[None]:
    """Point the SDK at the sim for the ``with`` block only; the caller's values come back after."""
    saved = {name: os.environ.get(name) for name in SDK_ENV}
    os.environ["ANTHROPIC_BASE_URL"] = url
    os.environ["ANTHROPIC_API_KEY"] = key
    os.environ.pop("ANTHROPIC_AUTH_TOKEN", None)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def running_simulator(script: dict) -> Iterator[object]:
    """The simulated API on a free loopback port, in a background thread of this process."""
    from escalate.sim.server import SimServer
    from escalate.sim.simulator import Simulator

    server = SimServer(Simulator(script), host="127.0.0.1", port=0).start()
    try:
        yield server
    finally:
        server.close()


# -- the run --------------------------------------------------------------------------------------


@dataclass
class DemoResult:
    outcome: Outcome
    repo: Path
    kept: bool
    sim_requests: int  # POST /v1/messages the sim answered (retries included)

    def to_json(self) -> dict:
        data = self.outcome.to_json()
        data.update(simulated=True, sim_requests=self.sim_requests)
        data["repo"] = str(self.repo) if self.kept else None
        return data


def demo_config(repo: Path) -> Config:
    """The repository's config, with validation run by this interpreter (a venv need not be active)."""
    import sys

    from escalate.config import load_config

    overrides = {
        "validate": {
            "test_command": [sys.executable, "-m", "pytest"],
            "ruff_command": [sys.executable, "-m", "ruff", "check"],
        }
    }
    return load_config(repo, overrides)


def run_demo(keep: Path | None = None, *, out: TextIO, progress_quiet: bool = False) -> DemoResult:
    """Make the sample repo, run the runner on it against the in-process sim, tell the story on ``out``."""
    from escalate.github.render import stages
    from escalate.ladder.run import run_task
    from escalate.llm.catalog import Catalog
    from escalate.records.console import Progress
    from escalate.task import Task

    say = _Teller(out)
    say.banner()
    if os.environ.get("ANTHROPIC_API_KEY"):
        say.line(
            "ANTHROPIC_API_KEY is set, but the demo always uses the simulator (it never calls the real "
            "API).\nFor real work run `escalate fix --test NODEID` in your repository."
        )
        say.line()
    spec = DemoSpec.load()
    tmp = None
    if keep is None:
        tmp = Path(tempfile.mkdtemp(prefix="escalate-demo-"))
        repo = tmp / spec.project
    else:
        repo = Path(keep).resolve()
    try:
        create_repo(repo)
        say.step(f"Sample repository: {repo} (git, one commit on main)")
        say.line(f"  The bug: {spec.title}.")
        say.line(f"  {spec.text}")
        say.line("  Failing tests: " + ", ".join(spec.failing_tests))
        say.line()
        config = demo_config(repo)
        static = Catalog.static()
        first = static.resolve(config.tiers[0], 0).id
        second = static.resolve(config.tiers[1], 1).id
        task = Task.from_tests(spec.failing_tests, source="demo")
        task.title, task.text = spec.title, spec.text
        say.step(f"Running `escalate fix` on it: {first} first, {second} next (simulated).")
        say.line()
        with running_simulator(demo_script(spec, first, second)) as server, sim_environment(server.url):
            outcome = run_task(task, repo, config, progress=Progress(out, quiet=progress_quiet))
            log = server.sim.log.snapshot()
            requests = sum(1 for r in log if r["method"] == "POST" and r["path"] == "/v1/messages")
        say.story(outcome, repo, keep is not None, stages(config.validate))
        return DemoResult(outcome, repo, keep is not None, requests)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


_VERDICTS = {  # "pass" names the stages the config ran (validation.stages.STAGES)
    "fail": "failed validation",
    "circular": "went in circles (escalated at once, nothing to validate)",
}


_ROLE_WORDS = {"files", "message", "plan"}  # role decisions that report what a role produced


class _Teller:
    """The demo's own lines around the runner's progress output."""

    def __init__(self, out: TextIO):
        self.out = out
        self.color = getattr(out, "isatty", lambda: False)()

    def line(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def paint(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.color else text

    def step(self, text: str) -> None:
        self.line(self.paint("==> ", "1;34") + text)

    def banner(self) -> None:
        self.line(self.paint("escalate demo", "1"))
        self.line(self.paint(SIMULATED, "1;33"))
        self.line(REAL_PARTS)
        self.line()

    def story(self, outcome: Outcome, repo: Path, kept: bool, stage_names: list[str]) -> None:
        self.line()
        self.step("What happened")
        verdicts = {"pass": "passed every stage: " + ", ".join(stage_names), **_VERDICTS}
        for a in outcome.attempts:
            self.line(f"  {a.tier} ({a.model}) attempt {a.n}: {verdicts.get(a.verdict, a.verdict)}")
            if a.verdict != "pass":
                self.line(f"      {a.stage}: {_first_line(a.reason)}")
        for d in outcome.decisions:
            if d.kind == "escalate":
                self.line(f"  escalated {d.choice}: {d.reason}")
            elif d.kind == "review" or (d.kind == "role" and d.choice.split(":")[-1].strip() in _ROLE_WORDS):
                self.line(f"  {d.kind} {d.choice} ({_first_line(d.reason, 70)})")
        if outcome.outcome == "fixed" and outcome.branch:
            self.line()
            self.step(f"The fix, committed on branch {outcome.branch} (git diff main...{outcome.branch}):")
            for row in (outcome.diff or "").splitlines():
                code = "32" if row.startswith("+") and not row.startswith("+++") else ""
                code = "31" if row.startswith("-") and not row.startswith("---") else code
                self.line("  " + (self.paint(row, code) if code else row))
        else:
            self.line(f"  Not fixed: {outcome.outcome}. {outcome.explanation}")
        self.line()
        if kept:
            self.line(f"The sample repository is kept at {repo}; cost log and summary: {outcome.log_dir}")
        else:
            self.line("The sample repository and its cost log are removed now (`--keep DIR` keeps them).")
        self.line(
            self.paint("Reminder: the model answers above were SIMULATED (scripted), not Claude's.", "1;33")
        )
        self.line(
            "The costs are what those calls would cost at list prices. For real work: set ANTHROPIC_API_KEY "
            "and run `escalate fix --test NODEID` in your repository (docs/fix.md)."
        )


def _first_line(text: str, limit: int = 100) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= limit else first[: limit - 3] + "..."

"""The records a run is made of: routing decisions, tier plans, attempts and the outcome.

They carry data, not sentences: the target tests, the failing stage, the costs and the top
tier travel as fields from the runner to every renderer (run directory, ledger, console,
pull request), so nothing downstream parses a reason string to get them back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from escalate.llm.pricing import usd

if TYPE_CHECKING:
    from escalate.llm.catalog import ModelInfo
    from escalate.llm.client import CallRecord

OUTCOMES = ("fixed", "needs_human", "budget_exceeded", "cannot_reproduce", "error")


@dataclass
class Decision:
    """One choice the run made, with its reason (routing, baseline, escalation, outcome)."""

    kind: str  # "context", "class", "classifier", "start_tier", "skip", "effort", "thinking", "escalate", ...
    choice: str
    reason: str
    data: dict | None = None  # the numbers behind the choice (e.g. the give-up estimate), for renderers

    def to_json(self) -> dict:
        out = {"kind": self.kind, "choice": self.choice, "reason": self.reason}
        if self.data is not None:
            out["data"] = self.data
        return out


def climb_numbers(data: dict | None) -> str:
    """One line for a give-up / escalate decision's numbers (``routing.giveup.ClimbDecision.to_json``)."""
    if not data or "climb" not in data:
        return ""
    parts = []
    if data.get("p_success") is not None:
        parts.append(f"P(fix on {data['tier']}) {data['p_success']:.0%}")
    after = data.get("after_fail")
    if after:
        parts.append(f"after a lower tier failed {after['successes']}/{after['trials']}")
    stage = data.get("stage_rate")
    if stage:
        parts.append(f"after a failure at {data['stage']} {stage['successes']}/{stage['trials']}")
    if data.get("same_failure"):
        parts.append("same failure on every lower tier")
    money = (
        ("cost_usd", "cost a visit"), ("value_usd", "value of a fix"),
        ("expected_value_usd", "expected value"), ("budget_left_usd", "budget left"),
    )  # fmt: skip
    for key, name in money:
        if data.get(key) is not None:
            parts.append(f"{name} ${data[key]:.4f}")
    return "; ".join(parts)


@dataclass
class TierPlan:
    """One tier of the ladder as the router planned it: the model and the request settings."""

    name: str
    model: ModelInfo
    max_attempts: int
    max_tokens: int
    effort: str | None
    thinking: dict | None

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "model": self.model.id,
            "max_attempts": self.max_attempts,
            "max_tokens": self.max_tokens,
            "effort": self.effort,
            "thinking": self.thinking,
        }


@dataclass
class AttemptRecord:
    """One attempt on one tier: the conversation turns up to a validation verdict."""

    tier: str
    model: str
    n: int
    verdict: str  # "pass" | "fail" | "circular" | "error"
    stage: str  # the stage that decided: "ok", "syntax", "ruff", "target", "suite", "review", ...
    reason: str
    cost_usd: Decimal = Decimal(0)
    output: str = ""  # the failing stage's output (JUnit failure text); not in the JSON
    duration_s: float = 0.0
    # Changes put back as the base has them before judging ("path (why)"): judge's files, protected paths.
    discarded: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "tier": self.tier,
            "model": self.model,
            "n": self.n,
            "verdict": self.verdict,
            "stage": self.stage,
            "reason": self.reason,
            "cost_usd": usd(self.cost_usd),
            "discarded": list(self.discarded),
        }


@dataclass
class Reproduction:
    """The evidence that an issue was reproduced: a test that failed at base and passes after the fix.

    The test is committed on the fix branch before the fix (``commit``) and judged from there
    like every existing test: the implementer cannot weaken it.
    """

    tests: list[str]  # node ids
    files: list[str]
    tier: str
    model: str
    commit: str
    base_output: str  # the failure at base, as pytest printed it
    after_output: str = ""  # the passing run after the fix
    failures: dict[str, str] = field(default_factory=dict)  # node id -> failure text at base
    source: str = ""  # the new tests' code, as committed

    def to_json(self) -> dict:
        return {"tests": self.tests, "files": self.files, "tier": self.tier, "model": self.model,
                "commit": self.commit}  # fmt: skip


@dataclass
class Outcome:
    """How a task ended; ``to_json`` is the exact ``--json`` object.

    The fields after ``cost_by_role`` are for the renderers (pull request, comment) and stay
    out of the JSON: the records of every call, the target tests, the top tier's model and
    what the same tokens would have cost there.
    """

    outcome: str
    branch: str | None = None
    commit: str | None = None
    cost_usd: Decimal = Decimal(0)
    calls: int = 0
    attempts: list[AttemptRecord] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    log_dir: str | None = None
    diff: str = ""
    explanation: str = ""
    cost_by_role: dict[str, Decimal] = field(default_factory=dict)  # set by RunLog.finish
    call_records: list[CallRecord] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)  # the tests that had to pass; [] = the whole suite
    top_model: str | None = None  # the top tier's model id, as the run resolved it
    top_model_cost_usd: Decimal | None = None  # the same tokens on top_model; None without usage
    reproduction: Reproduction | None = None  # an issue reproduced by a test first (in the JSON)
    no_test_reason: str | None = None  # why no test proves this change (in the JSON)
    sandbox: str = "none"  # the isolation the repository's code ran under: "bwrap" or "none"
    sandbox_warning: str = ""  # why it ran without a sandbox; shown in the summary and the PR body

    def sandbox_note(self) -> str:
        """One Markdown line warning that tests ran unsandboxed, or "" when they were sandboxed."""
        if self.sandbox == "bwrap" or not self.sandbox_warning:
            return ""
        return (
            f"> **Warning: the repository's tests ran without a sandbox** ({self.sandbox_warning}); "
            "the code under test could read this machine's files and reach its network. See docs/security.md."
        )

    def to_json(self) -> dict:
        return {
            "outcome": self.outcome,
            "branch": self.branch,
            "commit": self.commit,
            "cost_usd": usd(self.cost_usd),
            "calls": self.calls,
            "attempts": [a.to_json() for a in self.attempts],
            "decisions": [d.to_json() for d in self.decisions],
            "log_dir": self.log_dir,
            "explanation": self.explanation,
            "cost_by_role": {role: usd(cost) for role, cost in self.cost_by_role.items()},
            "reproduction": self.reproduction.to_json() if self.reproduction else None,
            "no_test_reason": self.no_test_reason,
            "sandbox": {"mode": self.sandbox, "warning": self.sandbox_warning or None},
            # Every change any attempt tried on the judge's files or protected paths, put back.
            "discarded": sorted({d for a in self.attempts for d in a.discarded}),
        }

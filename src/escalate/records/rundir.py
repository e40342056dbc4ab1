"""The run directory: ``calls.jsonl``, ``decisions.jsonl``, ``attempts.xml``, ``summary.md``, ``result.json``.

Written incrementally: every call and decision is appended and flushed as it happens, and the
JUnit XML is rewritten after each attempt, so a crash or Ctrl-C still leaves the log of every
call made. ``finish`` writes the summary and the ``--json`` result.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from escalate.llm.pricing import fmt_usd, usd
from escalate.records.types import AttemptRecord, Decision, Outcome, climb_numbers

if TYPE_CHECKING:
    from escalate.llm.client import CallRecord
    from escalate.llm.pricing import PriceTable


def _money(value: Decimal) -> float:
    return usd(value)


def new_run_id(slug: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{stamp}-{slug}"[:80]


class RunLog:
    """One run's log directory, appended to as the run goes."""

    def __init__(self, directory: Path, prices: PriceTable, top_model: str, title: str = "") -> None:
        self.path = Path(directory)
        self.path.mkdir(parents=True, exist_ok=True)
        self.prices = prices
        self.top_model = top_model
        self.title = title
        self.records: list[CallRecord] = []
        self.attempts: list[AttemptRecord] = []
        self.decisions: list[Decision] = []
        self._calls = open(self.path / "calls.jsonl", "a", encoding="utf-8")  # noqa: SIM115
        self._decisions = open(self.path / "decisions.jsonl", "a", encoding="utf-8")  # noqa: SIM115

    def call(self, record: CallRecord) -> None:
        self.records.append(record)
        self._calls.write(json.dumps(record.to_json()) + "\n")
        self._calls.flush()

    def decision(self, decision: Decision) -> None:
        self.decisions.append(decision)
        self._decisions.write(json.dumps(decision.to_json()) + "\n")
        self._decisions.flush()

    def attempt(self, record: AttemptRecord) -> None:
        self.attempts.append(record)
        self._write_junit()

    @property
    def spent(self) -> Decimal:
        return sum((r.cost_usd for r in self.records), Decimal(0))

    def _write_junit(self) -> None:
        from junit_xml import TestCase, TestSuite, to_xml_report_string

        cases = []
        for a in self.attempts:
            case = TestCase(
                f"{a.tier} attempt {a.n}",
                classname=f"escalate.{a.tier}",
                elapsed_sec=a.duration_s,
                stdout=f"model={a.model} cost_usd={_money(a.cost_usd)}",
            )
            if a.verdict == "error":
                case.add_error_info(message=a.reason, output=a.output)
            elif a.verdict != "pass":
                case.add_failure_info(message=f"{a.verdict} at {a.stage}: {a.reason}", output=a.output)
            cases.append(case)
        xml = to_xml_report_string([TestSuite(f"escalate {self.path.name}", cases)])
        tmp = self.path / "attempts.xml.tmp"
        tmp.write_text(xml, encoding="utf-8")
        tmp.replace(self.path / "attempts.xml")

    def finish(self, outcome: Outcome) -> None:
        """Write ``summary.md`` and ``result.json`` and close the append-only files."""
        if not (self.path / "attempts.xml").exists():
            self._write_junit()
        outcome.cost_by_role = cost_by_role(self.records)
        result = json.dumps(outcome.to_json(), indent=2) + "\n"
        (self.path / "result.json").write_text(result, encoding="utf-8")
        (self.path / "summary.md").write_text(self.summary(outcome), encoding="utf-8")
        self.close()

    def close(self) -> None:
        for f in (self._calls, self._decisions):
            if not f.closed:
                f.close()

    def summary(self, outcome: Outcome) -> str:
        lines = [f"# escalate run {self.path.name}", ""]
        if self.title:
            lines += [f"Task: {self.title}", ""]
        lines += [f"Outcome: **{outcome.outcome}**"]
        if outcome.sandbox_note():
            lines += ["", outcome.sandbox_note(), ""]
        if outcome.branch:
            at = f" at `{outcome.commit[:12]}`" if outcome.commit else ""
            lines.append(f"Branch: `{outcome.branch}`{at}")
        if outcome.explanation:
            lines += ["", outcome.explanation]
        evidence = evidence_lines(outcome)
        if evidence:
            lines += ["", *evidence]
        lines += ["", "## Cost by tier", ""]
        lines += tier_table(self.records, self.attempts)
        if self.records:
            lines += ["", "## Cost by role", ""]
            lines += role_table(self.records)
        total = self.spent
        top = self.top_model_cost()
        lines += ["", f"Total: **{fmt_usd(total)}** over {len(self.records)} calls."]
        if top is not None:
            lines.append(
                f"The same tokens on the top tier ({self.top_model}) would have cost {fmt_usd(top)}."
            )
        if self.attempts:
            lines += [
                "",
                "## Attempts",
                "",
                "| tier | model | n | verdict | stage | reason | $ |",
                "|---" * 7 + "|",
            ]
            for a in self.attempts:
                reason = a.reason.replace("|", "\\|").replace("\n", " ")[:160]
                cells = [a.tier, a.model, str(a.n), a.verdict, a.stage, reason, fmt_usd(a.cost_usd)]
                lines.append("| " + " | ".join(cells) + " |")
        if self.decisions:
            lines += ["", "## Decisions", ""]
            for d in self.decisions:
                lines.append(f"- **{d.kind}**: {d.choice} ({d.reason})")
                if climb_numbers(d.data):
                    lines.append(f"  - numbers: {climb_numbers(d.data)}")
        return "\n".join(lines) + "\n"

    def top_model_cost(self) -> Decimal | None:
        """What the run's tokens would have cost on the top tier's model; None without usage."""
        if not self.records or any(r.usage is None for r in self.records):
            return None
        return sum((self.prices.cost(self.top_model, r.usage) for r in self.records), Decimal(0))


def evidence_lines(outcome: Outcome, limit: int = 3000) -> list[str]:
    """What proves an issue's fix (Markdown, for the summary and the PR body): the reproduction test,
    its failure at base and its run after the fix; or, plainly, that no test proves it."""
    repro = outcome.reproduction
    if repro is None:
        if outcome.no_test_reason is None:
            return []
        return [
            "## No test proves this change",
            "",
            f"No test was written for this issue ({outcome.no_test_reason}), so nothing shows that the "
            "issue itself is addressed. The change was judged only by the repository's own checks (the "
            "existing test suite and ruff, where they run) and the reviewer, where it is on: read it "
            "with that in mind.",
        ]
    tests = ", ".join(f"`{t}`" for t in repro.tests)
    files = ", ".join(f"`{f}`" for f in repro.files)
    lines = [
        "## Reproduction",
        "",
        f"Written first by the test writer on {repro.tier} (`{repro.model}`) in {files}, and committed "
        f"before the fix (`{repro.commit[:12]}`): {tests}.",
        "",
        *(["```python", _clip(repro.source, limit), "```", ""] if repro.source else []),
        "Failing at the base commit:",
        "",
        "```",
        _clip(repro.base_output, limit),
        "```",
    ]
    if repro.after_output:
        lines += ["", "After the fix:", "", "```", _clip(repro.after_output, limit), "```"]
    return lines


def _clip(text: str, limit: int) -> str:
    text = text.replace("```", "ˋˋˋ").strip()  # a fence in the output must not close ours
    return text if len(text) <= limit else text[: limit // 2] + "\n[...]\n" + text[-limit // 2 :]


def tier_table(records: list[CallRecord], attempts: list[AttemptRecord]) -> list[str]:
    columns = ["tier", "model", "calls", "attempts", "verdicts", "input", "output"]
    columns += ["cache write", "cache read", "thinking", "$"]
    rows = ["| " + " | ".join(columns) + " |", "|---" * len(columns) + "|"]
    order: list[tuple[str, str]] = []
    for key in [(r.tier, r.model) for r in records] + [(a.tier, a.model) for a in attempts]:
        if key not in order:
            order.append(key)
    for tier, model in order:
        calls = [r for r in records if (r.tier, r.model) == (tier, model)]
        tries = [a for a in attempts if (a.tier, a.model) == (tier, model)]
        verdicts = ", ".join(a.verdict for a in tries) or "-"
        cost = sum((r.cost_usd for r in calls), Decimal(0))
        sums = [sum(getattr(r, f) for r in calls) for f in TOKEN_FIELDS]
        cells = " | ".join(f"{n:,}" for n in sums)
        rows.append(
            f"| {tier} | {model} | {len(calls)} | {len(tries)} | {verdicts} | {cells} | {fmt_usd(cost)} |"
        )
    return rows


def cost_by_role(records: list[CallRecord]) -> dict[str, Decimal]:
    """Dollars per role (explorer, planner, implementer, reviewer, committer, ...), in call order."""
    out: dict[str, Decimal] = {}
    for r in records:
        out[r.role] = out.get(r.role, Decimal(0)) + r.cost_usd
    return out


def role_table(records: list[CallRecord]) -> list[str]:
    rows = ["| role | models | calls | input | output | thinking | $ |", "|---" * 7 + "|"]
    for role, cost in cost_by_role(records).items():
        calls = [r for r in records if r.role == role]
        models = ", ".join(dict.fromkeys(r.model for r in calls))
        fields = ("input_tokens", "output_tokens", "thinking_tokens")
        sums = [sum(getattr(r, f) for r in calls) for f in fields]
        cells = " | ".join(f"{n:,}" for n in sums)
        rows.append(f"| {role} | {models} | {len(calls)} | {cells} | {fmt_usd(cost)} |")
    return rows


# The token counts of a call record, as calls.jsonl and the cost tables name them.
TOKEN_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_write_tokens",
    "cache_read_tokens",
    "thinking_tokens",
)

"""Configuration: one pydantic schema, validated once at load, defaults inside the schema.

Sources, lowest to highest: the defaults below, ``[tool.escalate]`` in ``pyproject.toml``,
``.escalate.yml`` at the repository root, then overrides passed by a command (CLI flags).
Mappings merge key by key; lists and scalars from a higher source replace the lower one.
Errors read as a path into the file, pre-commit style; unknown keys warn and are ignored.
"""

from __future__ import annotations

import warnings
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from escalate.errors import ConfigError

MODEL_LINES = ("haiku", "sonnet", "opus")  # the model lines a tier may name, cheapest first

YML_NAME = ".escalate.yml"
PYPROJECT_NAME = "pyproject.toml"
DEFAULT = "default"
CLI = "cli"

Effort = Literal["low", "medium", "high", "xhigh", "max"]


class ConfigWarning(UserWarning):
    """A configuration problem that does not stop the run (unknown key, shadowed source)."""


class _KeyProblem(ValueError):
    """A cross-field check failure that knows which key it is about (for the error path)."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


class Section(BaseModel):
    # extra="ignore": unknown keys are reported by _unknown_keys() with their source, not rejected.
    # allow_inf_nan=False: `max_cost_usd: .inf` is a mistake, not an unlimited budget.
    # The attribute docstrings are read by field_docs() when asked (`escalate config --reference`),
    # not by pydantic at every import (it tokenizes each class's source: ~30 ms of every run).
    model_config = ConfigDict(extra="ignore", validate_assignment=True, allow_inf_nan=False)


def field_docs(model: type[BaseModel]) -> dict[str, str]:
    """Each field's docstring (the string literal under it in the class body), inherited ones included."""
    import ast
    import inspect
    import textwrap

    docs: dict[str, str] = {}
    for cls in reversed(model.__mro__):
        if not (isinstance(cls, type) and issubclass(cls, BaseModel)) or cls is BaseModel:
            continue
        body = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0].body
        for stmt, after in zip(body, body[1:], strict=False):
            if (
                isinstance(stmt, ast.AnnAssign)
                and isinstance(stmt.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[stmt.target.id] = inspect.cleandoc(after.value.value)
    return docs


class TierConfig(Section):
    name: str
    """Tier name used in logs, `start_tier` and role settings, e.g. "haiku"."""
    model: str | None = None
    """A model id such as "claude-haiku-4-5". Set exactly one of `model` or `line`."""
    line: str | None = None
    """A model line ("haiku", "sonnet", "opus"), resolved to its newest active model at run time."""
    max_attempts: int = Field(2, ge=1)
    """Validated attempts on this tier before escalating to the next one."""
    max_tokens: int = Field(8192, ge=1)
    """`max_tokens` per request; also the output side of the worst-case budget check."""
    effort: Effort | None = None
    """`output_config.effort` for models that support it; None lets the router decide."""
    thinking_budget: int | None = Field(None, ge=1024)
    """Extended-thinking budget in tokens (>= 1024, the API minimum); None lets the router decide."""

    @model_validator(mode="after")
    def _one_target(self) -> TierConfig:
        if (self.model is None) == (self.line is None):
            got = "both" if self.model else "neither"
            raise ValueError(f"set exactly one of 'model' or 'line' (got {got})")
        return self


def _default_tiers() -> list[TierConfig]:
    return [
        TierConfig(name="haiku", model="claude-haiku-4-5"),
        TierConfig(name="sonnet", model="claude-sonnet-4-6"),
        TierConfig(name="opus", model="claude-opus-4-6"),
    ]


class BudgetConfig(Section):
    max_cost_usd: float = Field(2.0, gt=0)
    """Hard ceiling for one task in USD; every call is checked against it before it is sent."""
    max_thinking_tokens_per_call: int = Field(8000, ge=0)
    """Upper bound for any thinking budget the router picks for one call."""


class ValidateConfig(Section):
    test_command: list[str] = ["python", "-m", "pytest"]
    """The repository's test command; node ids and JUnit XML options are appended. A leading `python`
    is the project's interpreter (see `python`); a leading `ruff` in ruff_command is escalate's ruff."""
    python: str | None = None
    """The project's interpreter for `python` in test_command. Default: $VIRTUAL_ENV, else the
    repository's .venv/, else python on PATH (docs/fix.md says which one a run used)."""
    ruff: bool = True
    """Run ruff on changed files; only findings that are new against the baseline fail an attempt."""
    ruff_command: list[str] = ["ruff", "check"]
    """The lint command; `--output-format json` and the changed paths are appended."""
    timeout_s: float = Field(300, gt=0)
    """Timeout for one validation subprocess, in seconds."""
    full_suite: bool = True
    """Run the full test suite after the target tests pass (new failures only fail an attempt)."""
    suite_beside_targets: bool = True
    """Sandboxed: start the full suite's run beside the target tests' run (each in its own copy of the
    tree), killed as soon as a target fails. Uses a second core and up to twice memory_limit_mb."""
    memory_limit_mb: int | None = Field(2048, ge=64)
    """Memory cap in MiB for one validation command's whole process tree (a cgroup where one can be
    made, else an address-space limit per process); None disables it."""
    sandbox: Literal["auto", "bwrap", "none"] = "auto"
    """Isolation of the repository's code: `bwrap` requires bubblewrap (Linux), `auto` uses it when it
    works and warns when not, `none` runs tests unsandboxed (flagged in the summary and the PR body)."""
    network: bool = False
    """Let sandboxed tests reach the network (loopback inside the sandbox works either way)."""
    max_processes: int = Field(256, ge=8)
    """Most processes one validation command's tree may have at once (a fork bomb stops here)."""
    tmp_size_mb: int = Field(512, ge=16)
    """Size of the sandbox's private /tmp in MiB."""
    file_size_limit_mb: int = Field(1024, ge=1)
    """Largest file a validation command may write, in MiB (RLIMIT_FSIZE)."""
    output_limit_kb: int = Field(8192, ge=64)
    """Output kept per stream of one validation command, in KiB; the head and the tail are kept."""
    pass_env: list[str] = []
    """Extra environment variable names passed into the sandbox (all others are dropped)."""
    feedback_chars: int = Field(6000, ge=200)
    """How much failure output is shown to the model after a failed attempt."""
    verdict_from_base: bool = True
    """Take the files that judge a patch (existing tests, conftest.py, pytest and ruff config,
    .gitattributes) from the base commit and refuse the model's edits to them. false: the patch's
    own versions judge it (it can then forge its verdict; only for tasks that must change tests),
    except an issue's reproduction test, which stays frozen."""


class EditorConfig(Section):
    protected_paths: list[str] = [".github/**", "**/.gitattributes", ".gitmodules", YML_NAME]
    """Glob patterns (case-insensitive) the model may view but never change; also checked on the final
    change set before every commit and push, with the [tool.escalate] table and added symlinks."""
    max_view_chars: int = Field(20000, ge=1000)
    """A `view` result longer than this is truncated with a note to view a line range."""


class SessionConfig(Section):
    max_turns: int = Field(20, ge=1)
    """Model turns (requests) per attempt before the attempt counts as failed."""
    max_retries: int = Field(2, ge=0)
    """Retries per API call on 408/409/429/5xx, a broken stream and connection errors. escalate runs them
    itself (the SDK's are off), so every try is logged in calls.jsonl and paid from the budget."""


class PriceOverride(Section):
    """USD per million tokens. Missing cache prices derive from `input`: 1.25x, 2x, 0.1x."""

    input: float | None = Field(None, ge=0)
    """Input price per MTok (required for a model not in the built-in table)."""
    output: float | None = Field(None, ge=0)
    """Output price per MTok, thinking included (required for a model not in the built-in table)."""
    cache_write_5m: float | None = Field(None, ge=0)
    """5-minute cache write per MTok; default 1.25 x input."""
    cache_write_1h: float | None = Field(None, ge=0)
    """1-hour cache write per MTok; default 2 x input."""
    cache_read: float | None = Field(None, ge=0)
    """Cache read per MTok; default 0.1 x input."""


class LedgerConfig(Section):
    path: str = ".escalate/ledger.db"
    """SQLite ledger of calls, attempts and decisions, relative to the repository root."""
    enabled: bool = True
    """Record runs in the ledger (the router learns from it)."""


class RouterConfig(Section):
    learning: bool = True
    """Let ledger history move the start tier up and stop hopeless escalation (off: cheapest, full ladder)."""
    min_history: int = Field(5, ge=1)
    """Visits of the cheapest tier (start) or after-fail visits of a tier (give-up) before history acts."""
    prior_strength: float = Field(4.0, gt=0)
    """Pseudo-tasks of the prior: a repository's rate leans on its class's, a class's on the ledger's."""
    explore_share: float = Field(0.05, ge=0, le=0.5)
    """Share of tasks (by a hash of the task id) that start one tier below the estimate, to keep learning."""
    value_usd: float = Field(10.0, gt=0)
    """What a fix is worth to you: a higher tier is tried only when P(it fixes) x value_usd beats its cost."""
    same_failure_discount: float = Field(0.5, ge=0, le=1)
    """Factor on the next tier's chance when every lower tier failed with the same signature and stage."""
    context_limit_tokens: int = Field(200000, ge=1000)
    """A task whose context exceeds this starts on the strongest tier."""
    classifier_call: bool = False
    """One small call to the haiku-line model to classify the task; the rules decide if it does not parse."""
    high_error_cost_labels: list[str] = ["security", "production", "critical", "data-loss"]
    """Issue labels that mark a task as high error cost (router.hard_effort on Opus-line tiers)."""
    reasoning_labels: list[str] = ["concurrency", "architecture", "refactor", "performance"]
    """Issue labels that mark a task as reasoning-intensive."""
    mechanical_labels: list[str] = ["typo", "formatting", "lint", "docs"]
    """Issue labels that mark a task as mechanical."""
    reasoning_keywords: list[str] = [
        "race", "races", "race condition", "race conditions", "racy", "deadlock", "deadlocks", "deadlocked",
        "livelock", "thread-safe", "thread safety", "threadsafe", "thread-unsafe", "concurrency",
        "concurrently", "lock ordering", "redesign", "memory leak", "memory leaks", "heisenbug",
        "intermittent", "intermittently", "flaky", "nondeterministic", "non-deterministic",
    ]  # fmt: skip
    """Words in the issue's prose that mark it reasoning-intensive (whole words; code, logs, paths and
    identifiers are not read; a negated mention does not count; a trailing * adds lowercase letters)."""
    high_error_cost_keywords: list[str] = [
        "cve", "vulnerability", "vulnerabilities", "vulnerable", "injection", "privilege", "privileges",
        "privilege escalation", "remote code execution", "xss",
    ]  # fmt: skip
    """Explicit security terms in the issue's prose that mark a high error cost (read like the reasoning
    keywords). Mechanical (no thinking) never comes from words: only from the task kind or a label."""
    multi_module_threshold: int = Field(3, ge=2)
    """Distinct source modules in the failing tests' tracebacks that make a task reasoning-intensive."""
    routine_effort: Effort = "medium"
    """Effort for Opus-line tiers on routine work (report: medium matches Sonnet with 76% fewer tokens)."""
    hard_effort: Effort = "high"
    """Effort for Opus-line tiers on reasoning-intensive or high-error-cost work; set "max" to go further."""
    learning_margin: float = Field(0.1, ge=0, lt=1)
    """Relative margin over the break-even P(cheaper tier fails) before history moves the start up."""
    capability_cache_ttl_s: int = Field(86400, ge=0)
    """How long the Models API answer is cached on disk, in seconds."""


class GithubConfig(Section):
    label: str = "escalate"
    """Issue label that triggers a run."""
    fixed_label: str = "escalate:fixed"
    """Label put on an issue once a fix PR is open."""
    needs_human_label: str = "needs-human"
    """Label put on an issue when every tier failed."""
    draft: bool = True
    """Open pull requests as drafts."""
    push_failed_branch: bool = False
    """Push the best failed attempt's branch for a human to pick up."""
    trusted_associations: list[str] = ["OWNER", "MEMBER", "COLLABORATOR"]
    """`author_association` values allowed to trigger runs by comment or label."""
    running_label: str = "escalate:running"
    """Label on an issue while a run works on it; another trigger for that issue is skipped meanwhile."""


class BatchConfig(Section):
    max_tasks: int = Field(20, ge=1)
    """Most tasks submitted in one nightly batch."""
    paths: list[str] = []
    """Paths the nightly scan covers; empty = the whole repository."""
    ruff_rules: list[str] = []
    """Ruff rule codes whose findings become nightly tasks; empty = the project's own selection."""
    issue_label: str = "escalate:nightly"
    """Open issues with this label are included in the nightly batch."""
    combined_pr: bool = False
    """One pull request for all nightly fixes instead of one per fix."""
    max_tokens: int = Field(8192, ge=1)
    """`max_tokens` for one-shot batch requests."""
    hold_days: float = Field(7, ge=0)
    """Days a task fixed by a batch (PR open) or handed to a human stays out of new batches."""


class RoleConfig(Section):
    enabled: bool = True
    """Use this role in a run."""
    tier: str | None = None
    """Tier (by name, else by model line) whose model plays the role; ignored when `model` is set."""
    model: str | None = None
    """A model id for the role, overriding `tier`."""
    effort: Effort | None = None
    """`output_config.effort` for the role's calls, where the model supports it."""
    thinking_budget: int | None = Field(None, ge=1024)
    """Extended-thinking budget for the role's calls (>= 1024), where the model offers thinking."""
    max_tokens: int = Field(4096, ge=1)
    """`max_tokens` for the role's calls (the output side of their worst-case budget check)."""


class ExplorerConfig(RoleConfig):
    tier: str | None = "haiku"
    """Tier (by name, else by model line) whose model explores (report: Haiku 4.5)."""
    max_turns: int = Field(6, ge=1)
    """Model turns (read-only tool calls) before the explorer must give its file list."""
    when_localised: bool = False
    """Explore even when the failing tests' tracebacks already name the repository files."""


class PlannerConfig(RoleConfig):
    tier: str | None = "opus"
    """Tier (by name, else by model line) whose model plans (report: Opus 4.6 at medium effort)."""
    effort: Effort | None = "medium"
    """Effort for the planner's calls (report: medium matches high on routine work at far fewer tokens)."""
    max_tokens: int = Field(8192, ge=1)
    """`max_tokens` for the planner's call."""
    for_complexity: list[Literal["mechanical", "generative", "reasoning"]] = ["reasoning"]
    """Task classes the planner runs for in the ladder preset; the plan-execute preset always plans."""


class SecurityReviewerConfig(RoleConfig):
    tier: str | None = "opus"
    """Tier (by name, else by model line) that reviews security-labelled tasks (report: Opus 4.6, high)."""
    effort: Effort | None = "high"
    """Effort for security reviews."""
    max_tokens: int = Field(8192, ge=1)
    """`max_tokens` for a security review."""


class ReviewerConfig(RoleConfig):
    tier: str | None = "haiku"
    """Tier (by name, else by model line) that reviews a passing patch (report: Haiku 4.5 + thinking)."""
    thinking_budget: int | None = Field(4096, ge=1024)
    """Extended-thinking budget for reviews (report: Haiku + thinking beats Sonnet + thinking at review)."""
    max_tokens: int = Field(8192, ge=1)
    """`max_tokens` for a review (thinking included)."""
    security: SecurityReviewerConfig = SecurityReviewerConfig()
    """The reviewer for tasks with a security label; `enabled: false` keeps the normal reviewer."""
    security_labels: list[str] = ["security", "vulnerability"]
    """Task labels that call the security reviewer."""


class CommitterConfig(RoleConfig):
    tier: str | None = "haiku"
    """Tier (by name, else by model line) that writes the commit message and PR text (report: Haiku 4.5)."""
    max_tokens: int = Field(1024, ge=1)
    """`max_tokens` for the commit message."""


class TestWriterConfig(RoleConfig):
    tier: str | None = "sonnet"
    """Tier (by name, else by model line) that writes the reproduction test first (report: test
    writing on Sonnet 4.6); when its test is not accepted, the tiers above it try in turn."""
    max_turns: int = Field(12, ge=1)
    """Model turns for one try at a reproduction test (viewing code and tests, then writing it)."""
    max_tokens: int = Field(8192, ge=1)
    """`max_tokens` for the test writer's calls."""


class RolesConfig(Section):
    """Roles from the routing report's table; each may be turned off or moved to another model."""

    preset: Literal["ladder", "plan-execute", "single"] = "ladder"
    """"ladder": explorer, the tiers upward, reviewer, commit writer; "plan-execute": planner on its
    tier, implementer from the middle tier, the ladder on failure; "single": the start tier only, no roles."""
    map_tokens: int = Field(2000, ge=200)
    """Token budget of the repository map the explorer and the planner read."""
    explorer: ExplorerConfig = ExplorerConfig()
    """Read-only localisation of the files and symbols that matter, before the implementer."""
    planner: PlannerConfig = PlannerConfig()
    """A plan in words before the implementer, for reasoning-intensive tasks and plan-execute."""
    reviewer: ReviewerConfig = ReviewerConfig()
    """Reads a patch that passed validation; a rejection with findings fails the attempt."""
    committer: CommitterConfig = CommitterConfig()
    """Writes the commit message (its body is the pull request's "what changed and why")."""
    test_writer: TestWriterConfig = TestWriterConfig()
    """For an issue without a named failing test: writes a test that fails at base for the issue's
    reason first; the fix must make it pass (docs/fix.md, "Issues")."""


# "validate" shadows the deprecated BaseModel.validate; the contract name wins.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message='Field name "validate"', category=UserWarning)

    class Config(Section):
        """The effective escalate configuration for one repository."""

        tiers: list[TierConfig] = Field(default_factory=_default_tiers, min_length=1)
        """The escalation ladder, cheapest first."""
        start_tier: str | None = None
        """Tier name to start on; None = the first tier (the router may move it)."""
        budget: BudgetConfig = BudgetConfig()
        """Spending limits."""
        validate: ValidateConfig = ValidateConfig()
        """How a patch is proven: ruff and the test suite."""
        editor: EditorConfig = EditorConfig()
        """The text editor tool."""
        session: SessionConfig = SessionConfig()
        """One tier's conversation."""
        prices: dict[str, PriceOverride] = {}
        """Model id -> USD per MTok; overrides or extends the built-in price table."""
        log_dir: str = ".escalate/runs"
        """Run directories (cost log, summary, JUnit XML), relative to the repository root."""
        ledger: LedgerConfig = LedgerConfig()
        """The SQLite ledger."""
        router: RouterConfig = RouterConfig()
        """Start tier, effort and thinking decisions."""
        github: GithubConfig = GithubConfig()
        """GitHub issues, labels and pull requests."""
        batch: BatchConfig = BatchConfig()
        """Nightly maintenance over the Message Batches API."""
        roles: RolesConfig = RolesConfig()
        """Multi-model roles."""

        @model_validator(mode="after")
        def _references(self) -> Config:
            names = [t.name for t in self.tiers]
            for i, name in enumerate(names):
                if name in names[:i]:
                    raise _KeyProblem(("tiers", i, "name"), f"duplicate tier name {name!r}")
            if self.start_tier is not None and self.start_tier not in names:
                got = f"expected one of the tier names {names}, got {self.start_tier!r}"
                raise _KeyProblem(("start_tier",), got)
            # A role's tier is a tier name or a model line (resolved at run time like the router does).
            roles = (("explorer",), ("planner",), ("reviewer",), ("reviewer", "security"), ("committer",))
            for loc in (*roles, ("test_writer",)):
                rc: RoleConfig = self.roles
                for part in loc:
                    rc = getattr(rc, part)
                if rc.enabled and rc.model is None and rc.tier not in (*names, *MODEL_LINES):
                    got = f"expected a tier name {names}, a model line {list(MODEL_LINES)} or a model"
                    raise _KeyProblem(("roles", *loc, "tier"), f"{got}, got {rc.tier!r}")
            return self

        def tier(self, name: str) -> TierConfig:
            """The tier called `name`."""
            for t in self.tiers:
                if t.name == name:
                    return t
            raise ConfigError(f"No tier named {name!r}; tiers are {[t.name for t in self.tiers]}.")

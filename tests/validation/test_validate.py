import json
import os
import shlex
import sys
from collections import Counter
from pathlib import Path

import pytest
from samplerepo import CALC_FILES, CALC_TARGET, PYTEST_COMMAND, make_calc_repo, make_repo

from escalate.config import ValidateConfig
from escalate.validation.stages import Baseline, ValidationError, run_baseline, truncate_feedback, validate
from escalate.workspace.process import CommandResult, run_command, safe_env

RUFF = [sys.executable, "-m", "ruff", "check"]
OPS = CALC_FILES["calc/ops.py"]
# A known-broken test and a lint finding that exist before any attempt.
LEGACY = {
    "tests/test_legacy.py": 'def test_legacy():\n    assert False, "known broken"\n',
    "calc/legacy.py": "import os\n\n\ndef is_none(x):\n    return x == None\n",
}


def config(**kw) -> ValidateConfig:
    return ValidateConfig(**{"test_command": PYTEST_COMMAND, "ruff_command": RUFF, "timeout_s": 60, **kw})


def patch(root: Path, rel: str, old: str, new: str) -> None:
    text = (root / rel).read_text()
    assert old in text
    (root / rel).write_text(text.replace(old, new, 1))


@pytest.fixture(scope="module")
def calc_baseline(tmp_path_factory):
    """One calc repo with legacy problems, measured once for the module (baselines are not free)."""
    root = make_calc_repo(tmp_path_factory.mktemp("calc"), LEGACY)
    return root, run_baseline(root, config(), [CALC_TARGET])


@pytest.fixture
def calc(calc_baseline, tmp_path):
    """A fresh copy of the measured repo's files for one test to patch."""
    root, baseline = calc_baseline
    copy = make_calc_repo(tmp_path, LEGACY)
    return copy, baseline


def test_baseline_records_failing_tests_lint_and_target_failures(calc_baseline):
    _, baseline = calc_baseline
    assert baseline.failing_tests == {CALC_TARGET, "tests/test_legacy.py::test_legacy"}
    assert baseline.lint_findings == Counter(
        {
            ("calc/legacy.py", "F401", "`os` imported but unused"): 1,
            ("calc/legacy.py", "E711", "Comparison to `None` should be `cond is None`"): 1,
        }
    )
    assert list(baseline.target_failures) == [CALC_TARGET]
    assert "assert -1 == 5" in baseline.target_failures[CALC_TARGET]
    assert baseline.outcomes["tests/test_ops.py::test_mul"] == "passed"
    assert baseline.reproduces([CALC_TARGET]) and baseline.reproduces([])
    assert not baseline.reproduces(["tests/test_ops.py::test_mul"])


def test_a_real_fix_passes_and_old_problems_do_not_block(calc):
    root, baseline = calc
    patch(root, "calc/ops.py", "return a - b", "return a + b")
    patch(root, "calc/legacy.py", "return x == None", "return x == None  # still legacy")
    verdict = validate(root, ["calc/ops.py", "calc/legacy.py"], baseline, [CALC_TARGET], config())
    assert verdict.passed and verdict.stage == "ok", verdict.feedback
    assert verdict.signature == "ok" and verdict.duration_s > 0


def test_syntax_error_stops_at_syntax(calc):
    root, baseline = calc
    patch(root, "calc/ops.py", "return a - b", "return a +* b")
    verdict = validate(root, ["calc/ops.py"], baseline, [CALC_TARGET], config())
    assert (verdict.passed, verdict.stage) == (False, "syntax")
    assert verdict.reason == "syntax error in calc/ops.py line 2: invalid syntax"
    assert "calc/ops.py:2:" in verdict.feedback and "return a +* b" in verdict.feedback
    assert verdict.junit is None  # no test ran


def test_new_ruff_finding_stops_at_lint_counted_as_a_multiset(calc):
    root, baseline = calc
    patch(root, "calc/ops.py", "return a - b", "return a + b")
    patch(root, "calc/legacy.py", "return x == None", "y = x\n    return y == None and x == None")
    verdict = validate(root, ["calc/ops.py", "calc/legacy.py"], baseline, [CALC_TARGET], config())
    assert verdict.stage == "lint", verdict.feedback
    assert verdict.reason == "1 new ruff finding: E711 in calc/legacy.py"
    assert "calc/legacy.py:6:" in verdict.feedback and "E711" in verdict.feedback
    assert "F401" not in verdict.feedback  # pre-existing, not shown as new

    (root / "calc/legacy.py").write_text(LEGACY["calc/legacy.py"])
    patch(root, "calc/ops.py", "def sub", "import sys\n\n\ndef sub")
    verdict = validate(root, ["calc/ops.py"], baseline, [CALC_TARGET], config())
    assert (
        verdict.stage == "lint"
        and "F401" in verdict.reason
        and "`sys` imported but unused" in verdict.feedback
    )


def test_lint_stage_is_skipped_when_ruff_is_off(calc):
    root, baseline = calc
    patch(root, "calc/ops.py", "return a - b", "return a + b\n\n\nimport sys")
    verdict = validate(root, ["calc/ops.py"], baseline, [CALC_TARGET], config(ruff=False))
    assert verdict.passed, verdict.feedback


def test_target_still_failing(calc):
    root, baseline = calc
    patch(root, "calc/ops.py", "return a - b", "return a * b")
    verdict = validate(root, ["calc/ops.py"], baseline, [CALC_TARGET], config())
    assert verdict.stage == "target" and verdict.failing_tests == [CALC_TARGET]
    assert verdict.reason == f"target test failed: {CALC_TARGET}: assert 6 == 5"
    assert f"{CALC_TARGET}" in verdict.feedback and "assert 6 == 5" in verdict.feedback
    assert 'classname="tests.test_ops"' in verdict.junit


def test_skipping_or_deleting_the_target_is_not_a_fix(calc):
    root, baseline = calc
    patch(root, "tests/test_ops.py", "def test_add", "import pytest\n\n\n@pytest.mark.skip\ndef test_add")
    verdict = validate(root, ["tests/test_ops.py"], baseline, [CALC_TARGET], config())
    assert verdict.stage == "target" and verdict.failing_tests == [CALC_TARGET]
    patch(root, "tests/test_ops.py", "def test_add", "def test_renamed")
    verdict = validate(root, ["tests/test_ops.py"], baseline, [CALC_TARGET], config())
    assert verdict.stage == "target" and verdict.reason == f"target test no longer exists: {CALC_TARGET}"


def test_new_suite_failure_counts_and_old_ones_do_not(calc):
    root, baseline = calc
    patch(root, "calc/ops.py", "return a - b", "return a + b")
    patch(root, "calc/ops.py", "return a * b", "return a ** b")
    verdict = validate(root, ["calc/ops.py"], baseline, [CALC_TARGET], config())
    assert verdict.stage == "suite", verdict.feedback
    assert verdict.failing_tests == ["tests/test_ops.py::test_mul"]
    assert "test_legacy" not in verdict.feedback and "assert 64 == 12" in verdict.feedback
    # Without targets (an issue task) the suite is the first test stage.
    assert validate(root, ["calc/ops.py"], baseline, [], config()).stage == "suite"
    assert validate(root, ["calc/ops.py"], baseline, [], config(full_suite=False)).passed


def test_deleting_a_passing_test_fails_the_suite(calc):
    root, baseline = calc
    patch(root, "calc/ops.py", "return a - b", "return a + b")
    patch(root, "tests/test_ops.py", "def test_mul():\n    assert mul(4, 3) == 12\n", "")
    patch(root, "tests/test_ops.py", "add, mul, sub", "add, sub")
    verdict = validate(root, ["calc/ops.py", "tests/test_ops.py"], baseline, [CALC_TARGET], config())
    assert verdict.stage == "suite" and verdict.failing_tests == ["tests/test_ops.py::test_mul"]
    assert "no longer exists" in verdict.feedback


def test_signature_is_stable_across_different_patches_with_the_same_failure(calc):
    root, baseline = calc
    patch(root, "calc/ops.py", "return a - b", "return a - b  # attempt one")
    first = validate(root, ["calc/ops.py"], baseline, [CALC_TARGET], config())
    (root / "calc/ops.py").write_text(
        '"""Shifted by a docstring."""\n\n' + OPS.replace("a - b", "(a - b)", 1)
    )
    second = validate(root, ["calc/ops.py"], baseline, [CALC_TARGET], config())
    assert first.stage == second.stage == "target"
    assert first.signature == second.signature
    assert CALC_TARGET in first.signature and "assert -1 == 5" in first.signature
    assert str(root) not in first.signature
    patch(root, "calc/ops.py", "(a - b)", "a * b")
    assert validate(root, ["calc/ops.py"], baseline, [CALC_TARGET], config()).signature != first.signature


PARAM_FILES = {
    "pyproject.toml": CALC_FILES["pyproject.toml"],
    "tests/test_shapes.py": (
        "import pytest\n\n\n"
        '@pytest.mark.parametrize(("a", "b"), [(1, 1), (2, 3), (0.5, 0.5)])\n'
        "def test_same(a, b):\n    assert a == b\n\n\n"
        '@pytest.mark.parametrize("name", ["a.b", "x::y"])\n'
        "def test_names(name):\n    assert name\n\n\n"
        "class TestBox:\n"
        "    def test_ok(self):\n        pass\n\n"
        "    def test_broken(self):\n        raise ValueError(f'bad box at {hex(id(self))}')\n\n"
        "    class TestInner:\n        def test_deep(self):\n            assert 1 == 2\n"
    ),
    # A misspelt import of the project's own module: a bug at base, not an environment problem.
    "shapes/__init__.py": "",
    "tests/test_nocollect.py": (
        "from shapes import does_not_exist  # noqa: F401\n\n\ndef test_never():\n    pass\n"
    ),
}


def test_parametrized_class_and_collection_error_node_ids(tmp_path):
    root = make_repo(tmp_path, PARAM_FILES)
    targets = ["tests/test_shapes.py::test_same", "tests/test_shapes.py::TestBox::test_broken"]
    baseline = run_baseline(root, config(), targets)
    assert baseline.failing_tests == {
        "tests/test_shapes.py::test_same[2-3]",
        "tests/test_shapes.py::TestBox::test_broken",
        "tests/test_shapes.py::TestBox::TestInner::test_deep",
        "tests/test_nocollect.py",
    }
    assert baseline.outcomes["tests/test_shapes.py::test_names[a.b]"] == "passed"
    assert baseline.outcomes["tests/test_shapes.py::test_names[x::y]"] == "passed"
    assert baseline.outcomes["tests/test_shapes.py::test_same[0.5-0.5]"] == "passed"
    assert set(baseline.target_failures) == {
        "tests/test_shapes.py::test_same[2-3]",
        "tests/test_shapes.py::TestBox::test_broken",
    }
    assert baseline.reproduces(["tests/test_shapes.py::test_same[2-3]"])
    assert not baseline.reproduces(["tests/test_shapes.py::test_same[1-1]"])
    # A collection error of the target's module is the target failing.
    base2 = run_baseline(root, config(ruff=False), ["tests/test_nocollect.py::test_never"])
    assert "does_not_exist" in base2.target_failures["tests/test_nocollect.py"]


def test_missing_target_is_a_clear_error(tmp_path):
    root = make_calc_repo(tmp_path)
    with pytest.raises(ValidationError, match=r"not found at the base commit: tests/test_ops.py::test_nope"):
        run_baseline(root, config(ruff=False), ["tests/test_ops.py::test_nope"])
    with pytest.raises(ValidationError, match=r"tests/test_missing.py"):
        run_baseline(root, config(ruff=False), ["tests/test_missing.py::test_x"])


def test_target_outside_the_default_suite_is_run_by_id(tmp_path):
    root = make_calc_repo(tmp_path, {"extra_tests/test_extra.py": "def test_extra():\n    assert 1 == 0\n"})
    baseline = run_baseline(root, config(ruff=False), ["extra_tests/test_extra.py::test_extra"])
    assert "extra_tests/test_extra.py::test_extra" in baseline.target_failures
    assert "extra_tests/test_extra.py::test_extra" not in baseline.outcomes  # not part of the suite


def test_broken_test_command_is_a_baseline_error(tmp_path):
    root = make_calc_repo(tmp_path)
    cfg = ValidateConfig(test_command=["no-such-test-runner-xyz"], ruff=False, timeout_s=30)
    with pytest.raises(ValidationError, match="validate.test_command") as exc:
        run_baseline(root, cfg, [])
    assert "command: no-such-test-runner-xyz" in str(exc.value) and "exit code: 127" in str(exc.value)
    cfg = config(ruff_command=["no-such-ruff-xyz"])
    with pytest.raises(ValidationError, match="validate.ruff"):
        run_baseline(root, cfg, [])


def test_secrets_never_reach_the_tests(tmp_path, monkeypatch):
    # The test reports the environment it sees as its failure message (a sandboxed test cannot
    # write outside its own copy of the tree).
    files = {
        "pyproject.toml": CALC_FILES["pyproject.toml"],
        "tests/test_env.py": (
            "import json, os\n\n\ndef test_env():\n"
            "    raise AssertionError('ENV=' + json.dumps(dict(os.environ)) + '=ENV')\n"
        ),
    }
    root = make_repo(tmp_path, files)
    for name in (
        "ANTHROPIC_API_KEY",
        "GITHUB_TOKEN",
        "MY_SECRET",
        "DB_PASSWORD",
        "aws_secret_access_key",
        "GH_TOKEN",
    ):
        monkeypatch.setenv(name, "sk-live-DO-NOT-LEAK")
    monkeypatch.setenv("HARMLESS_SETTING", "kept")
    monkeypatch.setenv("OTHER_SETTING", "dropped")
    target = "tests/test_env.py::test_env"
    baseline = run_baseline(root, config(ruff=False, pass_env=["HARMLESS_SETTING"]), [target])
    text = baseline.target_failures[target]
    env = json.loads(text[text.rindex("ENV={") + 4 : text.rindex("=ENV")])
    assert "sk-live-DO-NOT-LEAK" not in text
    assert env["HARMLESS_SETTING"] == "kept" and env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert "OTHER_SETTING" not in env  # the sandbox passes an allow-list, not "all but secrets"
    assert env["PATH"] == os.environ["PATH"]


def test_safe_env_filters_by_name():
    env = safe_env(
        {"PATH": "/bin", "api_key": "x", "MyToken": "x", "SSH_PASSWORD": "x", "CLIENT_SECRET_ID": "x"}
    )
    assert env == {"PATH": "/bin", "PYTHONDONTWRITEBYTECODE": "1"}


HANG_FILES = {
    "pyproject.toml": CALC_FILES["pyproject.toml"],
    "tests/test_hang.py": "import time\n\n\ndef test_hang():\n    time.sleep(600)\n",
}


def _dead(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")  # a zombie waiting for init is dead, just not yet buried


def test_timeout_fails_the_stage_with_a_clear_reason(tmp_path):
    root = make_repo(tmp_path, HANG_FILES)
    baseline = Baseline(failing_tests=set(), lint_findings=Counter(), target_failures={})
    verdict = validate(root, [], baseline, ["tests/test_hang.py::test_hang"], config(timeout_s=3, ruff=False))
    # The hanging test is named: pytest -v announced it before it hung.
    assert (verdict.stage, verdict.reason, verdict.signature) == (
        "target",
        "timed out after 3 s in tests/test_hang.py::test_hang",
        "target|timeout|tests/test_hang.py::test_hang",
    )
    assert "timed out after 3 s (process group killed)" in verdict.feedback


def test_timeout_kills_grandchildren_and_reaps_the_child(tmp_path):
    script = "sleep 600 & echo $! > grandchild.pid; echo $$ > child.pid; wait"
    result = run_command(["sh", "-c", script], tmp_path, timeout_s=1)
    assert result.timed_out and result.returncode is None
    for name in ("child.pid", "grandchild.pid"):
        assert _dead(int((tmp_path / name).read_text())), name
    # Our own child is reaped, not left a zombie.
    assert not Path(f"/proc/{int((tmp_path / 'child.pid').read_text())}").exists()


def test_memory_limit_makes_unbounded_allocation_fail(tmp_path):
    files = {
        "pyproject.toml": CALC_FILES["pyproject.toml"],
        "tests/test_greedy.py": (
            "def test_greedy():\n    hog = []\n    while True:\n        hog.append(bytearray(50_000_000))\n"
        ),
    }
    root = make_repo(tmp_path, files)
    baseline = run_baseline(
        root, config(ruff=False, memory_limit_mb=512), ["tests/test_greedy.py::test_greedy"]
    )
    assert "MemoryError" in baseline.target_failures["tests/test_greedy.py::test_greedy"]


def test_run_command_describes_failures_the_same_way(tmp_path):
    code = "import sys; print('out'); sys.exit('bad thing')"
    result = run_command([sys.executable, "-c", code], tmp_path, timeout_s=30)
    assert isinstance(result, CommandResult) and result.returncode == 1 and not result.ok
    assert result.describe() == (
        f"command: {shlex.join([sys.executable, '-c', code])}\n"
        "exit code: 1\nstdout:\n    out\nstderr:\n    bad thing\n"
    )
    missing = run_command(["definitely-not-a-command-xyz"], tmp_path, timeout_s=5)
    assert missing.returncode == 127 and "stdout:\n    (none)" in missing.describe()


def test_truncate_feedback_keeps_head_tail_and_assertions():
    body = [f"noise line {n}" for n in range(400)]
    body[200] = "E       assert add(2, 3) == 5"
    text = "HEAD of the report\n" + "\n".join(body) + "\nFAILED tests/test_ops.py::test_add - tail"
    out = truncate_feedback(text, 1000)
    assert len(out) <= 1000
    assert out.startswith("HEAD of the report") and out.endswith("FAILED tests/test_ops.py::test_add - tail")
    assert "E       assert add(2, 3) == 5" in out and "characters cut" in out
    assert truncate_feedback("short", 1000) == "short"
    huge = "x" * 5000
    assert "characters cut" in truncate_feedback(huge, 1000) and len(truncate_feedback(huge, 1000)) < 1100


def test_the_worktree_code_is_imported_not_an_installed_copy(tmp_path, monkeypatch):
    # An editable install (here: PYTHONPATH) pointing at the user's unpatched checkout must not win.
    files = {k: v for k, v in CALC_FILES.items() if k != "pyproject.toml"}
    files["pyproject.toml"] = '[tool.pytest.ini_options]\ntestpaths = ["tests"]\n'
    checkout = make_repo(tmp_path, files, name="checkout")
    worktree = make_repo(tmp_path, files, name="worktree")
    monkeypatch.setenv("PYTHONPATH", str(checkout))
    # As the console script runs it: `-P` keeps `python -m` from putting the working directory first
    # by itself (a venv made with --system-site-packages has no bin/pytest of its own).
    # Unsandboxed: the sandbox's /tmp is a tmpfs of its own, where this test's checkout (under /tmp) is
    # not there to win; a user's checkout elsewhere is visible in the sandbox, read-only.
    cfg = config(ruff=False, test_command=[sys.executable, "-P", "-m", "pytest"], sandbox="none")
    baseline = run_baseline(worktree, cfg, [CALC_TARGET])
    patch(worktree, "calc/ops.py", "return a - b", "return a + b")
    assert validate(worktree, ["calc/ops.py"], baseline, [CALC_TARGET], cfg).passed


def _fake_pytest_writing(tmp_path: Path, report: str) -> list[str]:
    """A test command that writes ``report`` where --junitxml points and exits 1."""
    script = tmp_path / "fake_pytest.py"
    script.write_text(
        "import sys\n"
        "path = next(a.split('=', 1)[1] for a in sys.argv if a.startswith('--junitxml='))\n"
        f"open(path, 'w').write({report!r})\n"
        "sys.exit(1)\n"
    )
    return [sys.executable, str(script)]


def test_a_truncated_junit_report_counts_as_no_report(tmp_path):
    from escalate.validation.testrun import run_pytest

    command = _fake_pytest_writing(tmp_path, '<testsuites><testsuite name="pytest"><testcase')
    tr = run_pytest(tmp_path, config(test_command=command), [])
    assert tr.run.returncode == 1
    assert (tr.results, tr.junit, tr.complete) == (None, None, False)


def test_a_junit_parsing_bug_is_not_taken_for_a_truncated_report(tmp_path, monkeypatch):
    import escalate.validation.testrun as validate_module

    def broken(xml_text, root=None):
        raise TypeError("a bug in the parser")

    monkeypatch.setattr(validate_module, "parse_junit", broken)
    command = _fake_pytest_writing(tmp_path, "<testsuites></testsuites>")
    with pytest.raises(TypeError, match="a bug in the parser"):
        validate_module.run_pytest(tmp_path, config(test_command=command), [])

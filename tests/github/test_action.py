"""action.yml and the workflows: they parse, and everything they pass or read exists."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
ACTION = yaml.safe_load((ROOT / "action.yml").read_text())


def is_our_action(uses: str) -> bool:
    return uses == "./" or bool(re.fullmatch(r"[\w.-]+/escalate@[\w.-]+", uses))


def workflow(path: Path) -> dict:
    data = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as True.
    data["on"] = data.pop(True, data.get("on"))
    return data


def test_all_expected_files_exist():
    names = {p.name for p in WORKFLOWS}
    assert {"ci.yml", "escalate.yml", "escalate-on-ci-failure.yml"} <= names


def test_action_interface():
    assert ACTION["runs"]["using"] == "composite"
    inputs = ACTION["inputs"]
    for name in (
        "anthropic-api-key",
        "github-token",
        "label",
        "config",
        "max-cost",
        "draft",
        "python-version",
    ):
        assert name in inputs and inputs[name]["description"]
    assert inputs["label"]["default"] == "escalate" and inputs["anthropic-api-key"]["required"] is True
    wanted = {"outcome", "pr-url", "cost-usd", "input-tokens", "output-tokens", "cache-read-tokens"}
    assert set(ACTION["outputs"]) == wanted
    steps = {s.get("id"): s for s in ACTION["runs"]["steps"] if s.get("id")}
    for name, out in ACTION["outputs"].items():
        step_id, output = re.fullmatch(
            r"\$\{\{ steps\.([\w-]+)\.outputs\.([\w-]+) \}\}", out["value"]
        ).groups()
        assert step_id in steps and output == name


def test_action_steps_are_safe():
    steps = ACTION["runs"]["steps"]
    checkout = [s for s in steps if s.get("uses", "").startswith("actions/checkout@")]
    assert checkout and all(s["with"]["persist-credentials"] is False for s in checkout)
    caches = [s for s in steps if s.get("uses", "").startswith("actions/cache")]
    assert {s["uses"].split("@")[0] for s in caches} == {"actions/cache/restore", "actions/cache/save"}
    assert all(s["with"]["path"] == ".escalate/ledger.db" for s in caches)
    for step in steps:
        assert step.get("shell", "bash") == "bash" or "uses" in step
        # Inputs go through env:, never into the script text where they could inject commands.
        assert "${{" not in step.get("run", ""), step.get("name")
    used = {m for s in steps for m in re.findall(r"inputs\.([\w-]+)", yaml.safe_dump(s))}
    assert used <= set(ACTION["inputs"]), used - set(ACTION["inputs"])
    run = next(s for s in steps if s.get("id") == "escalate")
    assert '"$ESCALATE_VENV/bin/escalate" fix --event' in run["run"] and "GITHUB_TOKEN" in run["env"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_uses_of_the_action_match_its_interface(path):
    data = workflow(path)
    assert data["on"] and data["jobs"]
    for job in data["jobs"].values():
        ours = {s["id"] for s in job["steps"] if is_our_action(s.get("uses", "")) and "id" in s}
        for step in job["steps"]:
            if is_our_action(step.get("uses", "")):
                assert set(step.get("with", {})) <= set(ACTION["inputs"]), path.name
                required = {k for k, v in ACTION["inputs"].items() if v.get("required")}
                assert required <= set(step.get("with", {}))
        text = yaml.safe_dump(job)
        for step_id, output in re.findall(r"steps\.([\w-]+)\.outputs\.([\w-]+)", text):
            if step_id in ours:
                assert output in ACTION["outputs"], f"{path.name}: {step_id}.outputs.{output}"


def test_ci_runs_lint_and_tests_on_three_pythons():
    jobs = workflow(ROOT / ".github" / "workflows" / "ci.yml")["jobs"]
    assert jobs["test"]["strategy"]["matrix"]["python-version"] == ["3.11", "3.12", "3.13"]
    runs = " ".join(s.get("run", "") for job in jobs.values() for s in job["steps"])
    assert "ruff check" in runs and "ruff format --check" in runs and "python -m pytest -n 3" in runs
    assert "pip install --quiet -e '.[test]'" in runs  # the same install as .ci/run


def test_escalate_workflows_trigger_on_the_right_events():
    issue = workflow(ROOT / ".github" / "workflows" / "escalate.yml")
    assert issue["on"]["issues"]["types"] == ["labeled"] and issue["on"]["issue_comment"]["types"] == [
        "created"
    ]
    condition = issue["jobs"]["fix"]["if"]
    assert "@escalate fix" in condition and "author_association" in condition
    assert issue["permissions"] == {}
    assert issue["jobs"]["fix"]["permissions"] == {
        "contents": "write",
        "issues": "write",
        "pull-requests": "write",
    }
    ci = workflow(ROOT / ".github" / "workflows" / "escalate-on-ci-failure.yml")
    assert ci["on"]["workflow_run"]["workflows"] == ["CI"] and ci["on"]["workflow_run"]["types"] == [
        "completed"
    ]
    condition = ci["jobs"]["fix"]["if"]
    assert (
        "conclusion == 'failure'" in condition
        and "startsWith(github.event.workflow_run.head_branch, 'escalate/')" in condition
    )


# -- supply chain and token scope ---------------------------------------------------------------

PINNED = re.compile(r"^\s*-?\s*uses: (?P<action>[\w.-]+/[\w./-]+)@(?P<ref>\S+)(?P<comment>.*)$")
# The job each workflow needs, and the token permissions it may ask for (docs/github.md says why).
JOB_PERMISSIONS = {
    "ci.yml": {"lint": {"contents": "read"}, "test": {"contents": "read"}},
    "escalate.yml": {"fix": {"contents": "write", "issues": "write", "pull-requests": "write"}},
    "escalate-on-ci-failure.yml": {"fix": {"contents": "write", "pull-requests": "write"}},
    "escalate-nightly.yml": {"nightly": {"contents": "write", "pull-requests": "write", "issues": "read"}},
}


@pytest.mark.parametrize("path", [ROOT / "action.yml", *WORKFLOWS], ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_full_commit_sha_with_its_version(path):
    uses = [m for line in path.read_text().splitlines() if (m := PINNED.match(line))]
    assert uses or path.name == "ci.yml" or "uses: ./" in path.read_text()
    for m in uses:
        assert re.fullmatch(r"[0-9a-f]{40}", m["ref"]), f"{path.name}: {m['action']}@{m['ref']} is not a SHA"
        assert re.fullmatch(r" # v\d+(\.\d+)*", m["comment"]), f"{path.name}: {m['action']} needs `# vX.Y.Z`"
    # One version per action everywhere: a pin bumped in one file is bumped in all.
    sha_of: dict[str, set[str]] = {}
    for p in [ROOT / "action.yml", *WORKFLOWS]:
        for line in p.read_text().splitlines():
            if m := PINNED.match(line):
                sha_of.setdefault(m["action"].split("/")[1], set()).add(m["ref"])
    assert all(len(shas) == 1 for shas in sha_of.values()), sha_of


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflows_grant_nothing_by_default_and_each_job_only_what_it_needs(path):
    data = workflow(path)
    assert data["permissions"] == {}, f"{path.name}: the workflow level must grant nothing"
    granted = {name: job.get("permissions") for name, job in data["jobs"].items()}
    assert granted == JOB_PERMISSIONS[path.name]
    assert not any("workflows" in (p or {}) for p in granted.values())  # escalate never edits workflows


def zizmor(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    exe = shutil.which("zizmor") or str(Path(sys.executable).with_name("zizmor"))
    return subprocess.run(
        # The auditor persona: the strictest, it shows what the default one hides (broad permissions).
        [exe, "--offline", "--persona", "auditor", "--format", "json", "--no-progress", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.timeout(180)
def test_zizmor_finds_nothing_high_and_every_kept_finding_says_why(tmp_path):
    run = zizmor("--min-severity", "high", "action.yml", ".github/workflows/")
    assert run.returncode == 0 and json.loads(run.stdout) == [], run.stdout + run.stderr
    # The same audit does see what it is meant to: an unpinned action, a broad token, an unguarded
    # dangerous trigger (the findings the workflows had before they were fixed).
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: [issue_comment, workflow_run]\npermissions:\n  contents: write\njobs:\n  x:\n"
        "    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n"
    )
    found = {f["ident"] for f in json.loads(zizmor("--min-severity", "high", str(bad)).stdout)}
    assert {"unpinned-uses", "excessive-permissions", "dangerous-triggers"} <= found
    # Findings kept on purpose are ignored inline, each with its reason on the same line.
    for path in [ROOT / "action.yml", *WORKFLOWS]:
        for line in path.read_text().splitlines():
            if "zizmor: ignore[" in line:
                reason = line.split("]", 1)[1].strip()
                assert len(reason) > 20, f"{path.name}: `{line.strip()}` gives no reason"


def test_the_action_requires_the_sandbox_and_installs_it():
    inputs, steps = ACTION["inputs"], ACTION["runs"]["steps"]
    assert inputs["sandbox"]["default"] == "bwrap"
    names = [s.get("name", "") for s in steps]
    install = steps[names.index("Install the sandbox (bubblewrap)")]
    run = next(s for s in steps if s.get("id") == "escalate")
    assert (
        names.index("Install the sandbox (bubblewrap)")
        < names.index("Install the project")
        < steps.index(run)
    )
    assert run["env"]["ESCALATE_SANDBOX"] == "${{ inputs.sandbox }}"
    script = install["run"]
    assert "apt-get install -y -qq bubblewrap" in script
    assert "kernel.apparmor_restrict_unprivileged_userns=0" in script and "userns," in script


@pytest.mark.skipif(not Path("/usr/bin/bwrap").exists(), reason="needs bubblewrap")
def test_the_sandbox_step_passes_where_bubblewrap_works():
    import subprocess

    script = next(s for s in ACTION["runs"]["steps"] if s.get("name") == "Install the sandbox (bubblewrap)")[
        "run"
    ]
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("event", "head", "refused"),
    [("workflow_run", "someone/fork", True), ("workflow_run", "owner/repo", False), ("issues", "", False)],
)
def test_the_action_refuses_a_forks_code_before_it_installs_anything(tmp_path, event, head, refused):
    # The install step runs the checked-out code unsandboxed: the guard must come before it and the
    # checkout, and its script (run here with bash, as the runner would) must stop a fork's run.
    steps = ACTION["runs"]["steps"]
    names = [s.get("name") for s in steps]
    guard = names.index("Refuse another repository's code")
    assert guard < names.index("Check out the repository") and guard < names.index("Install the project")
    step = steps[guard]
    env = {
        "PATH": os.environ["PATH"],
        "EVENT_NAME": event,
        "HEAD_REPOSITORY": head,
        "REPOSITORY": "owner/repo",
    }
    assert set(step["env"]) == {"EVENT_NAME", "HEAD_REPOSITORY", "REPOSITORY"}
    done = subprocess.run(["bash", "-c", step["run"]], env=env, capture_output=True, text=True, timeout=30)
    assert (done.returncode != 0) == refused, done.stdout + done.stderr
    assert ("::error::" in done.stdout) == refused


# -- the project's install: sandboxed, into a venv apart from escalate's --------------------------------

ESCALATE_VENV = "${{ runner.temp }}/escalate-venv"
PROJECT_VENV = "${{ runner.temp }}/project-venv"


def test_escalate_and_the_project_get_venvs_of_their_own_and_the_install_is_sandboxed():
    steps = {s.get("name") or s.get("id"): s for s in ACTION["runs"]["steps"]}
    own = steps["Install escalate"]
    assert own["env"]["ESCALATE_VENV"] == ESCALATE_VENV and own["env"]["PROJECT_VENV"] == PROJECT_VENV
    assert '"$ESCALATE_VENV/bin/python" -m pip install' in own["run"] and 'venv "$PROJECT_VENV"' in own["run"]
    install = steps["Install the project"]
    assert install["env"]["VIRTUAL_ENV"] == PROJECT_VENV and install["env"]["ESCALATE_VENV"] == ESCALATE_VENV
    assert install["env"]["ESCALATE_SANDBOX"] == "${{ inputs.sandbox }}"
    assert '"$ESCALATE_VENV/bin/escalate" install' in install["run"] and "pip install" not in install["run"]
    run = steps["Run escalate"]
    assert run["env"]["VIRTUAL_ENV"] == PROJECT_VENV  # the tests run with what the install filled
    nightly = workflow(ROOT / ".github" / "workflows" / "escalate-nightly.yml")["jobs"]["nightly"]["steps"]
    for step in nightly:
        text = step.get("run", "")
        if "escalate" in text and "ESCALATE_VENV" in text and "install --command" in text:
            assert step["env"] == {
                "ESCALATE_SANDBOX": "bwrap",
                "ESCALATE_VENV": ESCALATE_VENV,
                "VIRTUAL_ENV": PROJECT_VENV,
            }
            break
    else:
        raise AssertionError("the nightly workflow does not install the project through `escalate install`")
    for step in nightly:  # pip runs only for escalate's own venv or through `escalate install`
        text = step.get("run", "").replace('"', "")
        assert (
            "pip install" not in text
            or "escalate install" in text
            or "ESCALATE_VENV/bin/python -m pip" in text
        )


@pytest.mark.skipif(
    not Path("/usr/bin/bwrap").exists() or not Path(sys.executable).with_name("escalate").exists(),
    reason="needs bubblewrap and the escalate script beside this interpreter",
)
def test_the_install_step_runs_the_command_in_the_projects_venv_in_the_sandbox(tmp_path):
    step = next(s for s in ACTION["runs"]["steps"] if s.get("name") == "Install the project")
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=checkout, check=True)
    venv = tmp_path / "project-venv"
    subprocess.run(
        [getattr(sys, "_base_executable", sys.executable), "-m", "venv", "--without-pip", venv], check=True
    )
    probe = "import os, sys; open('installed-by', 'w').write(sys.prefix + ' ' + str(os.getppid()))"
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path / "home"),
        "INSTALL_COMMAND": f'python -c "{probe}"',
        "ESCALATE_SANDBOX": "bwrap",
        "ESCALATE_VENV": str(Path(sys.executable).parent.parent),
        "VIRTUAL_ENV": str(venv),
    }
    done = subprocess.run(["bash", "-c", step["run"]], cwd=checkout, env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    prefix, parent = (checkout / "installed-by").read_text().split()
    assert Path(prefix) == venv.resolve()  # `python` is the project's
    assert int(parent) < 10  # a pid of the sandbox's own pid namespace

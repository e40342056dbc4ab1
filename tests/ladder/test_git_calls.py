"""How many git processes one fix costs: a ceiling that catches a change putting git back in a loop."""

from __future__ import annotations

from collections import Counter

import git
from fakemodel import FakeModel
from samplerepo import CALC_TARGET, FIX, ROLES_OFF, make_calc_repo, sample_config

from escalate.ladder.run import run_task
from escalate.llm.catalog import Catalog
from escalate.task import Task

# bench/results: 101 per fix before the config probe was cached and trees were hashed once per state.
# The config probes are counted apart: how many the cache saves depends on the clock (a config file
# changed less than gitconfig.RACY_NS ago is asked again), so a fast run makes more of them; that the
# cache answers is tested in tests/workspace/test_gitconfig.py.
MOST_GIT_COMMANDS = 24  # every git process but the config probes (23 on 2026-12-06)


def test_a_one_attempt_fix_runs_few_git_processes(tmp_path, monkeypatch):
    fake, root, config, task = _one_attempt_fix(tmp_path, "git-calls")
    commands: Counter[str] = Counter()
    _watch_git(monkeypatch, lambda sub: commands.update([sub]))
    outcome = run_task(task, root, config, provider=fake, catalog=Catalog.static())
    assert outcome.outcome == "fixed", outcome.explanation
    probes = commands["config"]
    assert sum(commands.values()) - probes <= MOST_GIT_COMMANDS, commands
    assert probes <= sum(commands.values()) - probes, commands  # never more than one per command
    assert commands["write-tree"] <= 4 and commands["diff-tree"] <= 2, commands


def test_the_base_state_and_the_judges_files_are_read_before_the_sdk_is_waited_for(tmp_path, monkeypatch):
    # run_task's catalogue is where a run first waits for the SDK's import (Catalog.load makes the shared
    # client); what does not need the SDK (the base state's tree hash for the circular check, the judge's
    # files from base) is done before it, in the time the import takes on its thread.
    fake, root, config, task = _one_attempt_fix(tmp_path, "git-order")
    events: list[str] = []
    _watch_git(monkeypatch, events.append)

    def catalog() -> Catalog:
        events.append("<catalog>")
        return Catalog.static()

    outcome = run_task(task, root, config, provider=fake, catalog=catalog)
    assert outcome.outcome == "fixed", outcome.explanation
    before, after = events[: events.index("<catalog>")], events[events.index("<catalog>") :]
    assert "write-tree" in before and "ls-tree" in before, events
    assert "ls-tree" not in after, events  # read once, from the base


def _one_attempt_fix(tmp_path, slug: str):
    """A model that fixes calc's add() in one attempt, the repo, its config (roles off) and the task."""
    fake = FakeModel()
    fake.enqueue("Fixing add().", FIX).enqueue("Changed add(). DONE")
    root = make_calc_repo(tmp_path)
    config = sample_config(root, {"roles": ROLES_OFF})
    task = Task(kind="test", title="make test_add pass", text="The test fails.", target_tests=[CALC_TARGET],
                labels=[], source="test", slug=slug)  # fmt: skip
    return fake, root, config, task


def _watch_git(monkeypatch, seen) -> None:
    """Tell ``seen`` each git subcommand escalate runs (past its -c/-C options), and run it as ever."""
    real = git.cmd.Git.execute

    def execute(self, command, *args, **kwargs):
        words = [str(w) for w in command[1:]]
        while words and words[0] in ("-c", "-C"):
            words = words[2:]
        seen(words[0] if words else "-")
        return real(self, command, *args, **kwargs)

    monkeypatch.setattr(git.cmd.Git, "execute", execute)

"""git's config is read once per change, not before every git command; a change is never missed."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from samplerepo import CALC_FILES, git, make_repo

from escalate.workspace import gitconfig
from escalate.workspace.hardening import safe_git
from escalate.workspace.worktree import Workspace

FILTER = '[filter "pwn"]\n\tclean = sh -c "env > {loot}; cat"\n\tsmudge = cat\n\trequired = true\n'


@pytest.fixture
def settled(monkeypatch):
    """Files made by the test count as settled (not racy): the clock reads one minute later."""
    gitconfig.clear_cache()
    monkeypatch.setattr(gitconfig, "_now_ns", lambda: time.time_ns() + 60 * 10**9)
    yield
    gitconfig.clear_cache()


def _past_ctime_tick(path: Path) -> None:
    # A rewrite inside the same kernel clock tick as the file's last change keeps its ctime;
    # wait (bounded) until the clock has moved on, as the racy rule assumes in real runs.
    deadline = time.time() + 2
    while time.time_ns() - os.stat(path).st_ctime_ns < 50_000_000 and time.time() < deadline:
        time.sleep(0.01)


def _probe(root: Path):
    import subprocess

    def probe() -> str:
        argv = ["git", "-C", str(root), "config", "-z", "--show-origin", "--get-regexp"]
        return subprocess.run(
            [*argv, r"^(filter\..*\.clean|include\.path)$"], capture_output=True, text=True
        ).stdout

    return probe


def test_a_second_ask_is_answered_from_the_cache(tmp_path, settled):
    root = make_repo(tmp_path, CALC_FILES)
    probes = gitconfig.probe_count()
    assert gitconfig.configured_keys(root, _probe(root)) == ()
    assert gitconfig.configured_keys(root, _probe(root)) == ()
    assert gitconfig.probe_count() == probes + 1


def test_a_filter_planted_between_two_asks_is_seen(tmp_path, settled):
    root = make_repo(tmp_path, CALC_FILES)
    assert gitconfig.configured_keys(root, _probe(root)) == ()
    with open(root / ".git" / "config", "a") as fh:
        fh.write(FILTER.format(loot=tmp_path / "loot"))
    assert gitconfig.configured_keys(root, _probe(root)) == ("filter.pwn.clean",)


def test_a_same_size_rewrite_with_the_old_mtime_is_seen(tmp_path, settled):
    # os.utime can put size and mtime back; the ctime it cannot.
    root = make_repo(tmp_path, CALC_FILES)
    config = root / ".git" / "config"
    with open(config, "a") as fh:
        fh.write('[filter "pwn"]\n\tsmudge = sh -c x\n')
    _past_ctime_tick(config)
    assert gitconfig.configured_keys(root, _probe(root)) == ()
    before = os.stat(config)
    _past_ctime_tick(config)
    config.write_text(config.read_text().replace("smudge = sh", "clean  = sh"))
    os.utime(config, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(config).st_size == before.st_size
    assert gitconfig.configured_keys(root, _probe(root)) == ("filter.pwn.clean",)


def test_a_recently_changed_file_is_not_cached(tmp_path, monkeypatch):
    # Racy: changed less than RACY_NS ago, a second change in the same clock tick could go unseen.
    gitconfig.clear_cache()
    root = make_repo(tmp_path, CALC_FILES)
    ctime = os.stat(root / ".git" / "config").st_ctime_ns
    monkeypatch.setattr(gitconfig, "_now_ns", lambda: ctime + gitconfig.RACY_NS // 2)
    probes = gitconfig.probe_count()
    gitconfig.configured_keys(root, _probe(root))
    gitconfig.configured_keys(root, _probe(root))
    assert gitconfig.probe_count() == probes + 2


def test_a_filter_in_an_included_file_is_seen(tmp_path, settled, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv("GIT_CONFIG_GLOBAL", raising=False)
    (home / ".gitconfig").write_text("[include]\n\tpath = extra.cfg\n")
    root = make_repo(tmp_path, CALC_FILES)
    assert gitconfig.configured_keys(root, _probe(root)) == ()
    assert str(home / "extra.cfg") in gitconfig._CACHE[next(iter(gitconfig._CACHE))].paths
    (home / "extra.cfg").write_text(FILTER.format(loot=tmp_path / "loot"))
    assert gitconfig.configured_keys(root, _probe(root)) == ("filter.pwn.clean",)


def test_a_config_given_by_environment_is_part_of_the_key(tmp_path, settled, monkeypatch):
    root = make_repo(tmp_path, CALC_FILES)
    assert gitconfig.configured_keys(root, _probe(root)) == ()
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "filter.env.clean")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", "sh -c x")
    assert gitconfig.configured_keys(root, _probe(root)) == ("filter.env.clean",)


def test_safe_git_overrides_a_filter_planted_after_it_was_cached(tmp_path, settled):
    import subprocess

    from escalate.workspace.hardening import minimal_env

    loot = tmp_path / "loot"
    root = make_repo(tmp_path, CALC_FILES)
    (root / ".gitattributes").write_text("* filter=pwn\n")
    subprocess.run(
        safe_git(root, "status", "--porcelain"), check=True, env=minimal_env(), capture_output=True
    )
    with open(root / ".git" / "config", "a") as fh:
        fh.write(FILTER.format(loot=loot))
    (root / "calc" / "ops.py").write_text("changed = True\n")
    subprocess.run(safe_git(root, "add", "-A"), check=True, env=minimal_env(), capture_output=True)
    assert not loot.exists()


def test_a_workspace_asks_git_once_and_still_neutralises_a_filter_planted_mid_run(tmp_path, settled):
    loot = tmp_path / "loot"
    root = make_repo(tmp_path, CALC_FILES)
    ws = Workspace.create(root, "cached")
    try:
        (ws.path / "calc" / "ops.py").write_text(CALC_FILES["calc/ops.py"].replace("a - b", "a + b", 1))
        probes = gitconfig.probe_count()
        for _ in range(3):
            ws.tree_hash()
        assert gitconfig.probe_count() - probes <= 1  # answered from the cache after the first
        # What a conftest could do through the worktree's .git file when tests run unsandboxed.
        with open(root / ".git" / "config", "a") as fh:
            fh.write(FILTER.format(loot=loot))
        with open(root / ".git" / "info" / "attributes", "w") as fh:
            fh.write("* filter=pwn\n")
        ws.tree_hash()
        diff = ws.diff()
        ws.commit("fix add")
    finally:
        ws.close(keep_branch=True)
    assert not loot.exists()
    assert "return a + b" in diff
    assert "return a + b" in git(root, "show", "escalate/cached:calc/ops.py")

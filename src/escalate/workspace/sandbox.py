"""The sandbox every command that runs repository code goes through (tests, ruff, the nightly scan).

On Linux with bubblewrap (``validate.sandbox: auto | bwrap``) a command runs in new pid, ipc,
uts, user, cgroup and (unless ``validate.network``) network namespaces with a fresh ``/proc``,
so no other process of the machine is visible; the environment is cleared and rebuilt from an
allow-list; the root filesystem is read-only; ``/tmp`` is a size-limited tmpfs; the user's git
directory and well-known credential files are hidden; and the tree under test is a copy made
inside the sandbox, in a bounded tmpfs at the worktree's path (so paths in reports read as usual),
without the ``.git`` link back to the user's repository. ``--die-with-parent`` and the pid
namespace end every descendant with the run. See docs/security.md for what this does and does not guarantee.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from escalate.errors import EscalateError
from escalate.workspace.toolpaths import covered, visible_binds

if TYPE_CHECKING:
    from escalate.config import ValidateConfig

MODES = ("auto", "bwrap", "none")
# Names that reach sandboxed code (besides validate.pass_env); everything else is dropped.
ENV_ALLOW = (
    "PATH", "LANG", "LANGUAGE", "TERM", "TZ", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "PYTHONHASHSEED",
    "PYTHONUTF8", "PYTHONIOENCODING", "VIRTUAL_ENV", "CI", "NO_COLOR", "FORCE_COLOR", "COLUMNS",
)  # fmt: skip
# PYTEST_*: the runner's own switches (PYTEST_ADDOPTS, PYTEST_DISABLE_PLUGIN_AUTOLOAD, ...) keep working.
ENV_ALLOW_PREFIXES = ("LC_", "PYTEST_")
SANDBOX_HOME = "/tmp/home"
# Credential stores under $HOME that test code has no business reading (hidden when they exist).
HOME_SECRETS = (
    ".ssh", ".gnupg", ".aws", ".azure", ".kube", ".docker", ".netrc", ".git-credentials", ".pypirc",
    ".config/gh", ".config/gcloud", ".config/git/credentials", ".cargo/credentials.toml", ".npmrc",
    ".gitconfig", ".config/git",
)  # fmt: skip
FIX_HINT = (
    "Install bubblewrap (`apt-get install bubblewrap`), allow unprivileged user namespaces "
    "(Ubuntu 24.04: `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`), "
    "or set `validate.sandbox: none` to run the repository's code without isolation."
)


class SandboxUnavailable(EscalateError):
    """The config (or the Action) asks for the sandbox and it cannot start here; the message names the fix."""


@dataclass(frozen=True)
class Isolation:
    """How one command that runs repository code is confined; built from ``ValidateConfig``."""

    sandbox: str = "none"  # the mode in force: "bwrap" or "none" (auto is resolved already)
    network: bool = False
    memory_limit_mb: int | None = 2048  # the whole process tree (cgroup) or each process (rlimit)
    max_processes: int = 256
    tmp_size_mb: int = 512
    file_size_limit_mb: int = 1024
    output_limit_kb: int = 8192  # per stream; head and tail kept
    pass_env: tuple[str, ...] = ()
    why_not: str = ""  # auto fell back to none: the reason, for the summary and the PR body

    @property
    def sandboxed(self) -> bool:
        return self.sandbox == "bwrap"


@dataclass(frozen=True)
class Probe:
    """Whether bubblewrap can start a sandbox here, and why not."""

    ok: bool
    reason: str = ""
    tmpfs_size: bool = False  # bwrap >= 0.8 knows --size for tmpfs


_PROBE: Probe | None = None
_SAID: set[str] = set()


def probe_bwrap(*, fresh: bool = False) -> Probe:
    """Start ``bwrap ... true`` once per process (cached): the only honest test that it works."""
    global _PROBE
    if _PROBE is not None and not fresh:
        return _PROBE
    exe = bwrap_exe()
    if sys.platform != "linux":
        _PROBE = Probe(False, f"bubblewrap needs Linux (this is {sys.platform})")
    elif exe is None:
        _PROBE = Probe(False, f"bubblewrap ({os.environ.get('ESCALATE_BWRAP') or 'bwrap'}) is not installed")
    else:
        argv = [exe, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "--proc", "/proc",
                "--dev", "/dev", "true"]  # fmt: skip
        try:
            env = {"PATH": "/usr/bin:/bin"}
            run = subprocess.run(argv, capture_output=True, text=True, timeout=20, env=env)
            help_text = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=20).stdout
        except (OSError, subprocess.SubprocessError) as exc:
            _PROBE = Probe(False, f"bwrap could not be started: {exc}")
        else:
            if run.returncode == 0:
                _PROBE = Probe(True, tmpfs_size="--size" in help_text)
            else:
                err = run.stderr.strip().splitlines()[-1:] or [f"exit code {run.returncode}"]
                _PROBE = Probe(False, f"bwrap cannot create namespaces here ({err[0]})")
    return _PROBE


def bwrap_exe() -> str | None:
    """The bubblewrap binary: ``$ESCALATE_BWRAP`` when set, else ``bwrap`` on PATH."""
    return shutil.which(os.environ.get("ESCALATE_BWRAP") or "bwrap")


def isolation_for(cfg: ValidateConfig) -> Isolation:
    """The Isolation that ``cfg`` asks for, ``auto`` resolved.

    ``bwrap`` that cannot start raises SandboxUnavailable; ``auto`` that cannot start falls back
    to ``none`` and says so once on stderr (and in ``why_not``, which the reports show).
    """
    mode = os.environ.get("ESCALATE_SANDBOX") or cfg.sandbox
    if mode not in MODES:
        raise SandboxUnavailable(f"validate.sandbox must be one of {', '.join(MODES)} (got {mode!r}).")
    common = dict(
        network=cfg.network,
        memory_limit_mb=cfg.memory_limit_mb,
        max_processes=cfg.max_processes,
        tmp_size_mb=cfg.tmp_size_mb,
        file_size_limit_mb=cfg.file_size_limit_mb,
        output_limit_kb=cfg.output_limit_kb,
        pass_env=tuple(cfg.pass_env),
    )
    if mode == "none":
        return Isolation("none", why_not="validate.sandbox: none (chosen in the config)", **common)
    probe = probe_bwrap()
    if probe.ok:
        return Isolation("bwrap", **common)
    if mode == "bwrap":
        raise SandboxUnavailable(f"validate.sandbox: bwrap was asked for, but {probe.reason}. {FIX_HINT}")
    why = f"{probe.reason}; validate.sandbox: auto fell back to none"
    _say_once(f"escalate: WARNING: the repository's tests run WITHOUT a sandbox: {why}. {FIX_HINT}")
    return Isolation("none", why_not=why, **common)


def _say_once(message: str) -> None:
    if message not in _SAID:
        _SAID.add(message)
        print(message, file=sys.stderr)


def sandbox_env(env: Mapping[str, str], iso: Isolation) -> dict[str, str]:
    """Only allow-listed names of env (plus ``validate.pass_env``); HOME and TMPDIR point into the sandbox."""
    keep = {
        k: v
        for k, v in env.items()
        if k in ENV_ALLOW or k in iso.pass_env or k.startswith(ENV_ALLOW_PREFIXES)
    }
    keep.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    keep.update(HOME=SANDBOX_HOME, TMPDIR="/tmp", PYTHONDONTWRITEBYTECODE="1")
    return keep


# -- the tree under test: copied inside the sandbox ----------------------------------------

# Where the worktree is shown read-only inside the sandbox while it is copied (in the sandbox's own /tmp).
TREE_SOURCE = "/tmp/.escalate-tree"
TREE_COPY_FAILED = 125  # the exit code when the copy could not be made (e.g. the tree outgrew its tmpfs)
# The sandbox's first process: copy the worktree into the fresh tmpfs at its own path (no .git), then
# become the command. The copy dies with the sandbox's mount namespace: nothing to clean up on the host.
COPY_THEN_EXEC = (
    'src=$1; shift; {copy} || { '
    f'echo "escalate: could not copy the tree under test into the sandbox" >&2; exit {TREE_COPY_FAILED}; }}; '
    'exec "$@"'
)  # fmt: skip
# Up to this many top-level entries are named to cp one by one, leaving .git out; a tree with more is
# copied whole and its .git removed after (one more process).
COPY_NAMED_MAX = 256
PAGE = 4096


def copy_script(tree: Path) -> str:
    """The shell line that copies ``tree`` (shown at ``$src``) into the current folder without its ``.git``.

    A copy that leaves ``.git`` out spares a ``rm`` process per command (``rm -rf ./.git`` after a
    whole copy); the names are the worktree's own, quoted, and the worktree does not change while a
    command runs.
    """
    try:
        names = sorted(os.listdir(tree))
    except OSError:
        names = [".git"]
    if ".git" not in names:
        copy = 'cp -RPp "$src"/. .'
    elif len(names) <= COPY_NAMED_MAX:
        kept = [shlex.quote(f"{TREE_SOURCE}/{name}") for name in names if name != ".git"]
        copy = f"cp -RPp -- {' '.join(kept)} ." if kept else "true"
    else:
        copy = 'cp -RPp "$src"/. . && rm -rf ./.git'
    return COPY_THEN_EXEC.replace("{copy}", copy, 1)


def tree_bytes(root: Path) -> int:
    """What a copy of root (without ``.git``) takes on a tmpfs: every entry rounded up to a page."""
    total, stack = 0, [os.fspath(root)]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.name == ".git" and os.path.dirname(entry.path) == os.fspath(root):
                    continue
                try:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                        total += PAGE
                    else:
                        total += -(-entry.stat(follow_symlinks=False).st_size // PAGE) * PAGE + PAGE
                except OSError:
                    continue
    return total


def git_dirs(root: Path) -> list[Path]:
    """The user's git directories a worktree's ``.git`` file leads to (its own and the common one)."""
    dot_git = Path(root) / ".git"
    if dot_git.is_dir():
        return [dot_git.resolve()]
    try:
        line = dot_git.read_text(errors="replace").strip()
    except OSError:
        return []
    if not line.startswith("gitdir:"):
        return []
    gitdir = (Path(root) / line.removeprefix("gitdir:").strip()).resolve()
    dirs = [gitdir]
    try:
        common = (gitdir / (gitdir / "commondir").read_text().strip()).resolve()
        dirs.insert(0, common)
    except OSError:
        pass
    return dirs


# -- the bwrap command line ----------------------------------------------------------------


def bwrap_argv(
    argv: Sequence[str],
    *,
    tree: Path,
    iso: Isolation,
    env: Mapping[str, str],
    size: int | None = None,
    writable: Sequence[Path] = (),
    readable: Sequence[Path] = (),
    in_place: bool = False,
    masked: Sequence[Path] = (),
) -> list[str]:
    """The bwrap command that runs argv in a copy of ``tree`` made inside the sandbox at tree's own path.

    The worktree is bound read-only at ``TREE_SOURCE`` (its ``.git`` masked), a tmpfs of ``size``
    bytes plus ``validate.tmp_size_mb`` goes over the worktree's path, and ``COPY_THEN_EXEC`` fills it
    before it runs argv: writes by test code land in the copy and never reach the worktree, and no
    ``.git`` file leads the code under test to the user's repository.

    ``in_place`` (the project's install, ``escalate.workspace.install``): the tree itself is bound
    writable instead, its git directories read-only (a build may read its version from git, never
    plant anything there). ``masked`` paths are hidden like the credential stores.
    """
    tree = Path(tree)
    if size is None:
        size = 0 if in_place else tree_bytes(tree)
    bw = bwrap_exe() or "bwrap"
    out = [bw, "--unshare-all", "--die-with-parent", "--new-session", "--clearenv"]
    if iso.network:
        out.append("--share-net")
    out += ["--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev"]
    if probe_bwrap().tmpfs_size:
        out += ["--size", str(iso.tmp_size_mb * 1024 * 1024)]
    out += ["--tmpfs", "/tmp", "--dir", SANDBOX_HOME]
    out += _run_dir(tree, iso)
    binds = visible_binds(argv, tree=tree)
    for src, dest in binds:
        out += ["--ro-bind", src, dest]
    bound = [Path(dest) for _, dest in binds]
    if in_place:
        out += ["--bind", str(tree), str(tree)]
        for path in writable:
            out += ["--bind", str(path), str(path)]
        for gitdir in git_dirs(tree):
            if gitdir.is_dir():
                out += ["--ro-bind", str(gitdir), str(gitdir)]
        shown = [*bound, tree, *writable]
        out += _hidden(tree, shown, git=False) + _masks(masked, shown)
        command = list(argv)
    else:
        out += _hidden(tree, bound) + _masks(masked, bound)
        out += ["--ro-bind", str(tree), TREE_SOURCE]
        dot_git = tree / ".git"
        if dot_git.is_dir() and not dot_git.is_symlink():  # a checkout's own git dir: shown empty
            out += _empty(f"{TREE_SOURCE}/.git")
        if probe_bwrap().tmpfs_size:
            out += ["--size", str(size + iso.tmp_size_mb * 1024 * 1024)]
        out += ["--tmpfs", str(tree)]
        for path in writable:
            out += ["--bind", str(path), str(path)]
        command = ["/bin/sh", "-c", copy_script(tree), "escalate-tree", TREE_SOURCE, *argv]
    for path in readable:
        out += ["--ro-bind", str(path), str(path)]
    for name, value in env.items():
        out += ["--setenv", name, value]
    return [*out, "--chdir", str(tree), "--", *command]


def _run_dir(tree: Path, iso: Isolation) -> list[str]:
    """An empty /run: agent and docker sockets, other users' runtime dirs (resolv.conf kept for network)."""
    run = Path("/run")
    if not run.is_dir() or Path(tree).resolve().is_relative_to(run):
        return []
    out = _empty("/run")
    resolv = Path("/etc/resolv.conf").resolve()
    if iso.network and resolv.is_relative_to(run) and resolv.exists():
        out += ["--ro-bind", str(resolv), str(resolv)]
    return out


def _hidden(tree: Path, bound: Sequence[Path], *, git: bool = True) -> list[str]:
    """Masks over the user's git directories (unless ``git`` is False) and credential files that the
    sandbox can see.

    Under a covered folder (/tmp, /run) a path is gone with the fresh tmpfs, unless a read-only
    bind of the interpreter's folders brought it back; then it is masked like any other.
    """

    def visible(path: Path) -> bool:
        return not covered(path) or any(path.is_relative_to(b) for b in bound)

    out: list[str] = []
    masked: list[Path] = []
    for gitdir in git_dirs(tree) if git else []:  # the common dir first: a worktree's own lies inside it
        if any(gitdir.is_relative_to(m) for m in masked):
            continue
        masked.append(gitdir)
        if gitdir.is_dir() and visible(gitdir):
            out += _empty(str(gitdir))
    home = Path(os.path.expanduser("~"))
    for rel in HOME_SECRETS:
        path = home / rel
        if path.is_symlink() or not path.exists() or not visible(path):
            continue
        out += _empty(str(path)) if path.is_dir() else ["--ro-bind", "/dev/null", str(path)]
    return out


def _masks(paths: Sequence[Path], bound: Sequence[Path]) -> list[str]:
    """Hide each of paths (a folder: an empty one over it; a file: /dev/null) where the sandbox shows it."""
    out: list[str] = []
    for path in paths:
        path = Path(os.path.abspath(path))
        if (
            not path.exists()
            or path.is_symlink()
            or (covered(path) and not any(path.is_relative_to(b) for b in bound))
        ):
            continue
        out += _empty(str(path)) if path.is_dir() else ["--ro-bind", "/dev/null", str(path)]
    return out


def _empty(path: str) -> list[str]:
    """An empty, read-only folder over path: what was there is neither readable nor writable."""
    return ["--tmpfs", path, "--remount-ro", path]

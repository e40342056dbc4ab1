"""Which command-running keys git's config defines for a repository, asked once per change.

``harden_git`` overrides every clean/smudge/process filter, textconv and diff/merge driver that
git's config defines, before every git command escalate runs: code under test may have written
one into ``.git/config`` since the last command. Asking git (``git config --get-regexp``) before
each command doubled the number of git processes per run; ``configured_keys`` asks once and
answers from its cache while no file that feeds git's config has changed.

The files (``ConfigFiles``): the worktree's ``.git`` file (it names the git directory), the git
directory's ``HEAD`` (``includeIf "onbranch:"``), ``commondir`` and ``config.worktree``, the
repository's ``config``, the global files (``$GIT_CONFIG_GLOBAL``, else ``~/.gitconfig`` and
``$XDG_CONFIG_HOME/git/config``), the system file (``$GIT_CONFIG_SYSTEM``, else the places git
is built to read it from), and every file an ``include.path``/``includeIf.*.path`` names.
The environment variables git reads config from (``GIT_*``, ``HOME``, ``XDG_CONFIG_HOME``) are
part of the key.

A file counts as unchanged when its (inode, size, mtime, ctime) are. ``ctime`` cannot be set
back by ``os.utime``, so a rewrite that restores size and mtime still shows. A file changed less
than ``RACY_NS`` before it is looked at is "racy" (a second change inside the same clock tick
would leave the same ctime), as git's own index treats such entries: the answer is then not
cached. The files are looked at before and after each probe; a change during the probe is not
cached either.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# Keys that pull in another file; the probe asks for them beside the drivers.
INCLUDE_KEYS = r"include\.path|includeif\..*\.path"
RACY_NS = 1_000_000_000  # a file changed less than 1 s ago may change again unseen
_ENV_PREFIXES = ("GIT_",)
_ENV_NAMES = ("HOME", "XDG_CONFIG_HOME", "PREFIX")
_SYSTEM_PLACES = ("/etc/gitconfig", "/usr/local/etc/gitconfig", "/opt/homebrew/etc/gitconfig")

Stamp = tuple[tuple[str, tuple[int, int, int, int] | None], ...]


@dataclass
class _Entry:
    paths: tuple[str, ...]
    stamp: Stamp
    keys: tuple[str, ...]


_CACHE: dict[tuple, _Entry] = {}
_stats = {"probes": 0, "hits": 0}  # for tests and the bench: how often git was asked


def probe_count() -> int:
    """How many times git's config was actually read in this process."""
    return _stats["probes"]


def clear_cache() -> None:
    _CACHE.clear()


def _now_ns() -> int:
    return time.time_ns()


def configured_keys(work_dir: Path, probe: Callable[[], str]) -> tuple[str, ...]:
    """The driver keys git's config defines for the repository at ``work_dir`` (its top level).

    ``probe`` runs ``git config -z --show-origin --get-regexp <drivers and includes>`` and returns
    its output ("" when nothing matched). The include keys are used here and left out of the answer.
    """
    work_dir = Path(os.path.abspath(work_dir))
    key = (str(work_dir), _env_key())
    entry = _CACHE.get(key)
    if entry is not None and _stamp(entry.paths) == entry.stamp:
        _stats["hits"] += 1
        return entry.keys
    _CACHE.pop(key, None)
    paths = config_files(work_dir)
    for _ in range(3):  # a new include names files to watch: look again with them
        before = _stamp(paths)
        found = _parse(probe())
        _stats["probes"] += 1
        keys = tuple(k for k, _, _ in found if not _is_include(k))
        more = _watched(found, work_dir)
        if more is None:
            return keys
        wanted = tuple(dict.fromkeys([*paths, *more]))
        if wanted == paths:
            if before is not None and _stamp(paths) == before:
                _CACHE[key] = _Entry(paths, before, keys)
            return keys
        paths = wanted
    return keys  # includes that keep changing: answered, never cached


def config_files(work_dir: Path) -> tuple[str, ...]:
    """Every file (existing or not) that git reads config from for this repository, includes aside."""
    env = os.environ
    files = [str(work_dir / ".git")]
    git_dir, common_dir = _git_dirs(work_dir)
    if git_dir is not None:
        files += [str(git_dir / name) for name in ("HEAD", "commondir", "config.worktree", "config")]
    if common_dir is not None:
        files += [str(common_dir / "config"), str(common_dir / "config.worktree")]
    home = env.get("HOME", "")
    if env.get("GIT_CONFIG_GLOBAL"):
        files.append(env["GIT_CONFIG_GLOBAL"])
    if home:
        files.append(os.path.join(home, ".gitconfig"))
        files.append(os.path.join(home, ".config", "git", "config"))
    if env.get("XDG_CONFIG_HOME"):
        files.append(os.path.join(env["XDG_CONFIG_HOME"], "git", "config"))
    if env.get("GIT_CONFIG_SYSTEM"):
        files.append(env["GIT_CONFIG_SYSTEM"])
    files += _system_files()
    if env.get("GIT_CONFIG"):
        files.append(env["GIT_CONFIG"])
    return tuple(dict.fromkeys(os.path.abspath(os.path.join(work_dir, f)) for f in files))


def _system_files() -> list[str]:
    """Where git may be built to read its system config: the usual places and ``<prefix>/etc``."""
    places = list(_SYSTEM_PLACES)
    exe = os.environ.get("GIT_PYTHON_GIT_EXECUTABLE") or shutil.which("git")
    for candidate in {exe, shutil.which("git")} - {None}:
        prefix = Path(os.path.realpath(str(candidate))).parent.parent
        places.append(str(prefix / "etc" / "gitconfig"))
    return places


def _git_dirs(work_dir: Path) -> tuple[Path | None, Path | None]:
    """The git directory and the common directory of work_dir, read as git reads them (no process)."""
    dot_git = work_dir / ".git"
    try:
        if dot_git.is_dir():
            git_dir = dot_git
        else:
            text = dot_git.read_text(errors="replace").strip()
            if not text.startswith("gitdir:"):
                return None, None
            git_dir = Path(os.path.join(work_dir, text.removeprefix("gitdir:").strip()))
        common = git_dir
        commondir = git_dir / "commondir"
        if commondir.is_file():
            common = Path(os.path.join(git_dir, commondir.read_text(errors="replace").strip()))
        return git_dir, common
    except OSError:
        return None, None


def _env_key() -> tuple[tuple[str, str], ...]:
    return tuple(
        sorted((k, v) for k, v in os.environ.items() if k.startswith(_ENV_PREFIXES) or k in _ENV_NAMES)
    )


def _stamp(paths: tuple[str, ...]) -> Stamp | None:
    """Each path's (inode, size, mtime, ctime), None for a missing one; None overall when a file is
    racy (changed less than RACY_NS ago) or cannot be looked at."""
    now = _now_ns()
    out = []
    for path in paths:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            out.append((path, None))
            continue
        except OSError:
            return None
        if now - st.st_ctime_ns < RACY_NS or now - st.st_mtime_ns < RACY_NS:
            return None
        out.append((path, (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)))
    return tuple(out)


def _parse(output: str) -> list[tuple[str, str, str]]:
    """(key, value, origin) for each entry of ``--show-origin -z`` output."""
    fields = output.split("\0")
    found = []
    for origin, entry in zip(fields[0::2], fields[1::2], strict=False):
        if entry:
            key, _, value = entry.partition("\n")
            found.append((key, value, origin))
    return found


def _is_include(key: str) -> bool:
    return key == "include.path" or (key.startswith("includeif.") and key.endswith(".path"))


def _watched(found: list[tuple[str, str, str]], work_dir: Path) -> list[str] | None:
    """The files the entries came from and the files their includes name; None when an include
    names a file this cannot place (``~user/...``): then nothing is cached."""
    files = []
    for key, value, origin in found:
        where = origin.removeprefix("file:") if origin.startswith("file:") else None
        if where is not None:
            files.append(os.path.abspath(os.path.join(work_dir, where)))
        if not _is_include(key):
            continue
        if value.startswith("~/"):
            files.append(os.path.join(os.environ.get("HOME", ""), value[2:]))
        elif value.startswith("~") or (where is None and not os.path.isabs(value)):
            return None
        else:  # relative: beside the including file
            files.append(os.path.abspath(os.path.join(work_dir, os.path.dirname(where or ""), value)))
    return files

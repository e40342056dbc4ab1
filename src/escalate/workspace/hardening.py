"""escalate's own process and its own git, hardened against the code it runs.

``undumpable`` clears the dumpable flag (``prctl(PR_SET_DUMPABLE, 0)``): other processes of the
same user can no longer read ``/proc/<pid>/environ``/``mem`` of escalate. ``harden_git`` makes
every git command escalate runs ignore what a repository (or code that wrote to its ``.git``)
could plant: no hooks, no fsmonitor, no clean/smudge/process filters or textconv and external
diff drivers, and an environment with every variable but a few blanked (no secrets).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from escalate.workspace.gitconfig import INCLUDE_KEYS, configured_keys

PR_SET_DUMPABLE = 4
# git's empty tree: `attr.tree` pointing at it (git >= 2.42) means no .gitattributes at all.
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
# What git needs to find its config and reach a remote (proxies, CA bundles); nothing else.
GIT_ENV_ALLOW = (
    "PATH", "HOME", "XDG_CONFIG_HOME", "LANG", "LANGUAGE", "TZ", "USER", "LOGNAME", "TMPDIR", "TERM",
    "SYSTEMROOT", "SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
    "http_proxy", "https_proxy", "no_proxy",
)  # fmt: skip
SAFE_CONFIG = (
    f"core.hooksPath={os.devnull}",
    "core.fsmonitor=false",
    f"attr.tree={EMPTY_TREE}",
    f"core.attributesFile={os.devnull}",
    "diff.external=",
    "protocol.ext.allow=never",
)
# Driver keys that name a command git would run; each defined one is overridden with "".
_DRIVER_KEYS = r"(filter|diff|merge)\..*\.(clean|smudge|process|textconv|command|driver)"
# The probe also asks for includes: the files they name feed the config too (gitconfig.ConfigFiles).
_PROBE_KEYS = rf"^({_DRIVER_KEYS}|{INCLUDE_KEYS})$"


def undumpable() -> bool:
    """Clear this process's dumpable flag on Linux; True when it is cleared."""
    if sys.platform != "linux":
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def git_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """Overrides that blank every variable of base (default os.environ) a git command does not need.

    GitPython starts each command from a copy of ``os.environ``; blanking (not removing) is
    what its ``update_environment`` can do. ``GIT_*`` names are left to git and to escalate's
    own per-call values (author, index file).
    """
    env = os.environ if base is None else base
    return {name: "" for name in env if name not in GIT_ENV_ALLOW and not name.startswith(("LC_", "GIT_"))}


def git_config_overrides(repo) -> list[str]:
    """``-c`` values for every git command: SAFE_CONFIG plus an empty command for each planted driver."""
    import git

    def probe() -> str:
        try:
            return repo.git.config(
                "-z", "--show-origin", "--get-regexp", _PROBE_KEYS, strip_newline_in_stdout=False
            )
        except git.GitCommandError:
            return ""  # exit code 1: no such key anywhere

    return _overrides(configured_keys(Path(repo.working_dir), probe))


def _overrides(keys) -> list[str]:
    overrides = list(SAFE_CONFIG)
    for key in keys:
        if re.fullmatch(_DRIVER_KEYS, key):
            overrides.append(f"{key}=")
            if key.startswith("filter."):
                overrides.append(f"{key.rpartition('.')[0]}.required=false")
    return overrides


def minimal_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """For a git run by subprocess: only the allow-listed variables of os.environ (and GIT_*), plus extra."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name in GIT_ENV_ALLOW or name.startswith(("LC_", "GIT_"))
    }
    return {**env, **(extra or {})}


def safe_git(repo_root, *args: str) -> list[str]:
    """argv for ``git -C repo_root <args>`` with the same overrides as ``harden_git`` (for subprocess)."""
    import subprocess

    argv = ["git", "-C", str(repo_root)]

    def probe() -> str:
        return subprocess.run(
            [*argv, "config", "-z", "--show-origin", "--get-regexp", _PROBE_KEYS],
            capture_output=True, text=True, env=minimal_env(), stdin=subprocess.DEVNULL, timeout=60,
        ).stdout  # fmt: skip

    overrides = _overrides(configured_keys(Path(repo_root), probe))
    return [*argv, *(arg for o in overrides for arg in ("-c", o)), *args]


def harden_git(repo) -> None:
    """Make every later command of ``repo.git`` run with the overrides above (re-checked each call:
    re-read when a config file changed, see ``escalate.workspace.gitconfig``)."""
    repo.git.update_environment(**git_env())
    repo.git.set_persistent_git_options(c=[])
    repo.git.set_persistent_git_options(c=git_config_overrides(repo))

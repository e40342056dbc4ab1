"""Worktree and branch lifecycle: the only module that runs git.

Each task works in its own git worktree on a new branch ``escalate/<slug>``. The
worktree lives in the system temp directory (``$TMPDIR/escalate-<slug>-XXXX``), not
inside the user's checkout: a directory under the checkout (even under ``.git/``)
would sit below the user's ``pyproject.toml``/``conftest.py``, so pytest and ruff run
in the worktree would pick up the user's *working* copies of those files and compute
node ids relative to the wrong root. The user's checkout (files, index, HEAD, stash)
is never written; only the branch ref and git's own ``worktrees/`` admin data change.

Worktrees are locked with the reason ``escalate pid=<pid> base=<sha>`` so that
``Workspace.cleanup_stale`` can tell leftovers of crashed runs from live ones.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import sys
import tempfile
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from escalate.errors import EscalateError
from escalate.workspace.hardening import harden_git
from escalate.workspace.protected import FileChange, ProtectedPaths, parse_raw_diff

BRANCH_PREFIX = "escalate/"
DIR_PREFIX = "escalate-"
LOG_DIR = ".escalate"
FALLBACK_AUTHOR = ("escalate", "escalate@localhost")
_LOCK_RE = re.compile(r"^escalate pid=(\d+) base=([0-9a-f]{40})$")

# Workspaces still open at interpreter exit are closed by the atexit hook below.
_OPEN: weakref.WeakSet[Workspace] = weakref.WeakSet()


# For escalate's own commits: `git commit` and `cherry-pick` otherwise start `git maintenance run --auto`
# (a process per commit, and a repack of the user's repository when its thresholds are met) while the
# user waits for the outcome. Only on these calls: the user's config is not touched.
NO_AUTO_MAINTENANCE = ("maintenance.auto=false", "gc.auto=0")


class WorkspaceError(EscalateError):
    """A git operation on the task's worktree failed; the message says what to check."""


# One path that differs from the base commit: status A (added), M (modified), D (deleted), new mode.
Change = FileChange


class ProtectedPathError(WorkspaceError):
    """A change set touches a protected path; nothing was committed."""


def _git_repo(repo_root: Path):
    import git  # heavy import, only when a workspace is actually used

    try:
        repo = git.Repo(repo_root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
        raise WorkspaceError(
            f"{repo_root} is not inside a git repository; run escalate from a git checkout (or `git init`)."
        ) from exc
    if repo.bare:
        raise WorkspaceError(
            f"{repo_root} is a bare repository; run escalate from a checkout with a working tree."
        )
    harden_git(repo)
    return repo


def _no_hooks(repo):
    # The user's hooks (post-checkout, pre-commit, ...) must not run in our worktree:
    # validation is escalate's job and hooks may be slow or interactive.
    return repo.git(c=f"core.hooksPath={os.devnull}")


def safe_slug(slug: str) -> str:
    """A branch-safe form of slug: lowercase [a-z0-9._-], no leading dot or dash, at most 60 chars."""
    cleaned = re.sub(r"[^a-z0-9._-]+", "-", slug.lower()).strip(".-")
    cleaned = re.sub(r"\.{2,}", ".", cleaned)[:60].rstrip(".-")
    if cleaned.endswith(".lock"):
        cleaned = cleaned[: -len(".lock")]
    return cleaned or "task"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def ignore_log_dir(repo_root: Path) -> Path:
    """Create ``<repo>/.escalate/`` holding a ``.gitignore`` of ``*``, so logs never show in git status.

    The ignore file ignores itself and everything beside it, so no tracked file of the
    user (``.gitignore`` included) needs changing.
    """
    log_dir = Path(repo_root) / LOG_DIR
    log_dir.mkdir(parents=True, exist_ok=True)
    guard = log_dir / ".gitignore"
    if not guard.exists():
        guard.write_text("# written by escalate: logs and run records stay out of git\n*\n")
    return log_dir


class Workspace:
    """A git worktree on branch ``escalate/<slug>`` made from ``base``; see the module docstring."""

    def __init__(self, repo, path: Path, branch: str, base_commit: str):
        self._repo = repo  # the user's repository (GitPython Repo)
        self.repo_root = Path(repo.working_tree_dir)
        self.path = path
        self.branch = branch
        self.base_commit = base_commit
        self.committed = False
        self.closed = False
        self._wt = None
        self.build_outputs: list[str] = []  # git-ignored files copied in from the checkout (buildout)
        # Checked on the final change set before every commit (set by the runner from its config).
        self.protected: ProtectedPaths | None = None
        self._index: Path | None = None
        # Answers that depend only on git objects (a commit, a tree): each asked of git once.
        self._known: dict[tuple, object] = {}

    # -- lifecycle -------------------------------------------------------------------------

    @classmethod
    def create(cls, repo_root: Path, slug: str, base: str = "HEAD") -> Workspace:
        """A new worktree on a new branch from ``base``'s commit; an existing branch gets a -2, -3 suffix."""
        import git

        repo = _git_repo(Path(repo_root))
        try:
            Workspace.cleanup_stale(Path(repo.working_tree_dir))  # leftovers of killed runs go first
        except (WorkspaceError, git.GitCommandError):
            pass  # a failed cleanup must not stop this run; the next one tries again
        try:
            base_commit = repo.commit(base).hexsha
        except (git.BadName, ValueError) as exc:
            raise WorkspaceError(
                f"cannot resolve base {base!r} in {repo.working_tree_dir}: make a first commit, "
                "or pass an existing branch, tag or commit."
            ) from exc
        name = safe_slug(slug)
        existing = {head.name for head in repo.heads}
        branch, n = f"{BRANCH_PREFIX}{name}", 1
        while branch in existing:
            n += 1
            branch = f"{BRANCH_PREFIX}{name}-{n}"
        path = Path(tempfile.mkdtemp(prefix=f"{DIR_PREFIX}{name}-")).resolve()
        reason = f"escalate pid={os.getpid()} base={base_commit}"
        try:
            _no_hooks(repo).worktree(
                "add", "--lock", "--reason", reason, "-b", branch, str(path), base_commit
            )
        except git.GitCommandError as exc:
            shutil.rmtree(path, ignore_errors=True)
            raise WorkspaceError(
                f"could not create a worktree for branch {branch}: {exc.stderr.strip()}\n"
                "Check that the repository is writable and `git worktree list` shows no broken entries "
                "(`git worktree prune` removes them)."
            ) from exc
        ws = cls(repo, path, branch, base_commit)
        _OPEN.add(ws)
        ws.copy_build_outputs()
        return ws

    def copy_build_outputs(self) -> list[str]:
        """Copy the checkout's git-ignored importable files (generated ``_version.py``, built
        extensions) into the worktree; see ``escalate.workspace.buildout``."""
        from escalate.workspace.buildout import copy_files, ignored_importables, python_packages

        if not self.build_outputs:
            packages = python_packages(self.repo_root)
            self.build_outputs = ignored_importables(self._repo, packages) if packages else []
        return copy_files(self.repo_root, self.path, self.build_outputs)

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc_info) -> None:
        # A branch that carries a commit is work worth keeping; an uncommitted one is not.
        self.close(keep_branch=self.committed)

    def close(self, keep_branch: bool = False) -> None:
        """Remove the worktree (and the branch unless keep_branch). Safe to call more than once."""
        if self.closed:
            return
        self.closed = True
        _OPEN.discard(self)
        try:
            _remove_worktree(self._repo, self.path, None if keep_branch else self.branch)
        finally:
            # GitPython keeps `git cat-file` helpers alive per Repo; a batch of tasks must not pile them up.
            if self._wt is not None:
                self._wt.close()
            self._repo.close()

    @staticmethod
    def cleanup_stale(repo_root: Path) -> list[Path]:
        """Remove escalate worktrees left behind by runs that died; returns their paths.

        A worktree counts as stale when its lock names a process that no longer runs,
        or its directory is gone. Its branch is deleted only when it still points at the
        base commit (a crashed run's commits are left for the user to inspect).
        """
        repo = _git_repo(Path(repo_root))
        removed = []
        entries = _list_worktrees(repo)
        for entry in entries:
            match = _LOCK_RE.match(entry.get("locked", ""))
            if not match:
                continue
            pid, base = int(match.group(1)), match.group(2)
            path = Path(entry["worktree"])
            ours_open = any(ws.path == path for ws in _OPEN)
            if path.exists() and _pid_alive(pid) and (pid != os.getpid() or ours_open):
                continue  # a live run (another process, or one of ours still open)
            branch = entry.get("branch", "").removeprefix("refs/heads/")
            drop = branch if branch.startswith(BRANCH_PREFIX) and entry.get("HEAD") == base else None
            _remove_worktree(repo, path, drop)
            removed.append(path)
        if any("prunable" in entry for entry in entries):  # git >= 2.31 marks entries whose folder is gone
            repo.git.worktree("prune")
        return removed

    # -- state -----------------------------------------------------------------------------

    @property
    def _git(self):
        import git

        if self._wt is None:
            self._wt = git.Repo(self.path)
        # Re-read each time: code that ran since may have planted a filter in a config git reads.
        harden_git(self._wt)
        return self._wt.git

    def _index_path(self) -> Path:
        if self._index is None:
            path = Path(self._git.rev_parse("--git-path", "index"))
            self._index = path if path.is_absolute() else self.path / path
        return self._index

    def _once(self, key: tuple, compute):
        """compute() the first time key is asked; key names git objects only (immutable)."""
        if key not in self._known:
            self._known[key] = compute()
        return self._known[key]

    def tree_hash(self) -> str:
        """The git tree id of the working state, untracked (not ignored) files included.

        Uses a temporary copy of the worktree's index, so the real index is untouched;
        equal content gives an equal hash, which drives circular-fix detection.
        """
        fd, tmp = tempfile.mkstemp(prefix="escalate-index-")
        os.close(fd)
        try:
            index = self._index_path()
            if index.exists():
                # The stat cache makes `add -A` rehash only changed files; copy2 keeps the index's
                # mtime so git's racy-entry check (same-second edits, same size) still works.
                shutil.copy2(index, tmp)
            else:
                os.unlink(tmp)
            env = {"GIT_INDEX_FILE": tmp}
            self._git.add("-A", env=env)
            return self._git.write_tree(env=env)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def changes(self, tree: str | None = None) -> list[Change]:
        """Every path that differs from the base commit (status A, M or D; new git mode), sorted.
        ``tree``: a ``tree_hash`` of the working state taken by the caller (saves hashing again)."""
        tree = tree or self.tree_hash()
        base = self.base_commit
        return list(
            self._once(
                ("changes", base, tree),
                lambda: parse_raw_diff(self._git.diff_tree("-r", "--no-renames", "--raw", "-z", base, tree)),
            )
        )

    def base_paths(self) -> list[str]:
        """Every file path of the base commit."""
        base = self.base_commit

        def ls_tree() -> list[str]:
            return [p for p in self._git.ls_tree("-r", "-z", "--name-only", base).split("\0") if p]

        return list(self._once(("paths", base), ls_tree))

    def read_base(self, rel: str) -> bytes | None:
        """A file's bytes at the base commit; None when it did not exist there."""
        import git

        base = self.base_commit

        def cat_file() -> bytes | None:
            try:
                data = self._git.cat_file(
                    "blob", f"{base}:{rel}", stdout_as_string=False, strip_newline_in_stdout=False
                )
                return bytes(data)
            except git.GitCommandError:
                return None

        return self._once(("blob", base, rel), cat_file)

    def read_file(self, rel: str) -> bytes | None:
        """A regular file's bytes in the worktree (None when absent, a symlink or not a file)."""
        path = self.path / rel
        if path.is_symlink() or not path.is_file() or not self._inside(path):
            return None
        return path.read_bytes()

    def _inside(self, path: Path) -> bool:
        """True when no directory on the way to path is a symlink (a test may have made one)."""
        expected = os.path.join(os.path.realpath(self.path), os.path.relpath(path.parent, self.path))
        return os.path.realpath(path.parent) == os.path.normpath(expected)

    def restore_from_base(self, paths: list[str]) -> None:
        """Put paths back as the base has them: rewritten when they existed there, deleted otherwise."""
        at_base = set(self.base_paths())
        for rel in paths:
            path = self.path / rel
            if os.path.lexists(path) and (path.is_symlink() or not path.is_dir()):
                if self._inside(path):
                    path.unlink()
            if rel in at_base:
                self._git(literal_pathspecs=True).checkout(self.base_commit, "--", rel)

    def protected_violations(self, tree: str | None = None) -> list[tuple[str, str]]:
        """The change set checked against ``protected``: (path, why) for each violation."""
        if self.protected is None:
            return []
        return self.protected.violations(self.changes(tree), self.read_file, self.read_base)

    def discard_protected(self, tree: str | None = None) -> list[tuple[str, str]]:
        """Put every protected path the change set touches back as the base has it; what was put back.
        ``tree``: the working state's ``tree_hash``, when the caller has it."""
        found = self.protected_violations(tree)
        if found:
            self.restore_from_base([path for path, _ in found])
        return found

    def changed_files(self, tree: str | None = None) -> list[str]:
        """Paths that differ from the base commit: modified, added (untracked too) and deleted."""
        return [c.path for c in self.changes(tree)]

    def files(self) -> list[str]:
        """Tracked and untracked files of the worktree, git's ignore rules applied (for the editor)."""
        out = self._git.ls_files("-co", "--exclude-standard", "-z")
        return sorted({p for p in out.split("\0") if p and (self.path / p).is_file()})

    def diff(self, tree: str | None = None) -> str:
        """A unified diff from the base commit to the working state, new and deleted files included."""
        base, tree = self.base_commit, tree or self.tree_hash()

        def diff() -> str:
            out = self._git.diff("--no-color", "--no-ext-diff", "--no-textconv", "--binary", base, tree)
            return out + "\n" if out else ""

        return self._once(("diff", base, tree), diff)

    def true_diff(self, tree: str | None = None) -> str:
        """The diff the reviewer reads: every file as text, whatever the repository's attributes say.

        ``--text`` shows files that ``.gitattributes`` marks ``-diff`` or ``binary``;
        ``--no-textconv``/``--no-ext-diff`` keep conversion drivers out; ``--no-renames``
        shows every line of a moved file.
        """
        base, tree = self.base_commit, tree or self.tree_hash()

        def diff() -> str:
            out = self._git(c="core.attributesFile=" + os.devnull).diff(
                "--no-color", "--text", "--no-ext-diff", "--no-textconv", "--no-renames", base, tree
            )
            return out + "\n" if out else ""

        return self._once(("true_diff", base, tree), diff)

    def restore_tree(self, tree: str) -> None:
        """Make the worktree exactly ``tree`` (a ``tree_hash``): files written since are gone."""
        self._git.read_tree("--reset", "-u", tree)
        self._git.clean("-ffdxq")
        self.copy_build_outputs()  # -x took them too

    def reset_to_base(self) -> None:
        """Throw away every change: hard reset to the base, remove untracked and ignored files."""
        self._git.reset("--hard", "-q", self.base_commit)
        # -x: the worktree started clean, so anything ignored in it now came from an attempt.
        self._git.clean("-ffdxq")
        self.copy_build_outputs()  # -x took them too
        self.committed = False

    def restore_except(self, keep: Iterable[str]) -> list[str]:
        """Undo every change except to the paths in keep (the model's edits): files that running
        tests or tools wrote go back to the base. Returns the paths restored. One ``git status``
        when nothing strayed (the index is the base's: escalate never stages before committing)."""
        keep = set(keep)
        out = self._git.status("--porcelain", "-z", "--untracked-files=all", "--no-renames")
        entries = [e for e in out.split("\0") if e]
        stray = [(e[:2], e[3:]) for e in entries if e[3:] not in keep]
        tracked = [path for code, path in stray if code != "??"]
        if tracked:
            self._git.checkout(self.base_commit, "--", *tracked)
        for code, path in stray:
            if code == "??":
                (self.path / path).unlink(missing_ok=True)
        return sorted(path for _, path in stray)

    @contextmanager
    def base_view(self, keep: Iterable[str] = ()) -> Iterator[Path]:
        """The worktree with every change but those to ``keep`` set aside: the base commit's files,
        for re-running tests on the base (or judging a new test on the unchanged code); the changed
        files come back (byte for byte) when the block ends."""
        keep = set(keep)
        changes = [c for c in self.changes() if c.path not in keep]
        saved: dict[str, bytes | None] = {}
        for c in changes:
            target = self.path / c.path
            saved[c.path] = target.read_bytes() if c.status != "D" and target.is_file() else None
        try:
            tracked = [c.path for c in changes if c.status != "A"]
            if tracked:
                self._git.checkout(self.base_commit, "--", *tracked)
            for c in changes:
                if c.status == "A":
                    (self.path / c.path).unlink(missing_ok=True)
            yield self.path
        finally:
            for rel, data in saved.items():
                target = self.path / rel
                if data is None:
                    target.unlink(missing_ok=True)
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(data)

    def commit(self, message: str, paths: Iterable[str] | None = None, tree: str | None = None) -> str:
        """Commit the changes to paths (default: every change) on the branch; returns the sha.

        With ``tree`` (a ``tree_hash`` taken earlier), the worktree is first put back to exactly that
        state when it differs: what validation judged is what is committed, not files a test run
        wrote since.
        The changes committed are checked against ``protected`` first (``ProtectedPathError``).
        The author is the repository's configured user, else ``escalate <escalate@localhost>``.
        """
        import git

        now = self.tree_hash()
        if tree is not None and now != tree:
            self.restore_tree(tree)
        tree = tree or now
        changed = self.changed_files(tree)
        wanted = set(paths) if paths is not None else set(changed)
        changed = [p for p in changed if p in wanted]
        violations = [(path, why) for path, why in self.protected_violations(tree) if path in wanted]
        if violations:
            raise ProtectedPathError(
                f"refused to commit on {self.branch}: the change touches protected paths: "
                + "; ".join(f"{path} ({why})" for path, why in violations)
            )
        if not changed:
            raise WorkspaceError(f"nothing to commit on {self.branch}: the worktree equals the base commit.")
        name, email = self._author()
        env = {
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
        }
        try:
            self._git.add("-A", "--", *changed)
            self._git(c=[f"core.hooksPath={os.devnull}", *NO_AUTO_MAINTENANCE]).commit(
                "-q", "--no-verify", "--no-gpg-sign", "-F", "-", istream=_message_stream(message), env=env
            )
        except git.GitCommandError as exc:
            raise WorkspaceError(f"git commit on {self.branch} failed: {exc.stderr.strip()}") from exc
        self.committed = True
        return _head_sha(self._wt)

    def read_base_text(self, rel: str) -> str | None:
        """A file's text at the base commit, or None when the base has no such file."""
        import git

        try:
            return self._git.show(f"{self.base_commit}:{rel}", strip_newline_in_stdout=False)
        except git.GitCommandError:
            return None

    def advance_base(self, message: str, paths: Iterable[str]) -> str:
        """Commit paths and make that commit the base (a reproduction test), the rest of the tree
        reset to it: diffs, resets, circular-fix states and the judge's files count from it now."""
        commit = self.commit(message, paths=paths)
        self.base_commit = commit
        self.reset_to_base()  # what a test run left behind is not part of the new base
        self.committed = False  # the fix itself is not committed yet
        return commit

    def cherry_pick(self, commit: str) -> bool:
        """Replay another branch's commit onto this branch; on a conflict, abort and return False.

        The nightly batch uses it to gather tonight's fixes on one branch (``batch.combined_pr``).
        """
        import git

        name, email = self._author()
        env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_NAME": name,
               "GIT_COMMITTER_EMAIL": email}  # fmt: skip
        try:
            self._git(c=[f"core.hooksPath={os.devnull}", *NO_AUTO_MAINTENANCE]).cherry_pick(
                "--no-gpg-sign", commit, env=env
            )
        except git.GitCommandError:
            try:
                self._git.cherry_pick("--abort")
            except git.GitCommandError:
                pass  # nothing in progress (the commit did not exist)
            return False
        self.committed = True
        return True

    def _author(self) -> tuple[str, str]:
        reader = self._repo.config_reader()
        name = reader.get_value("user", "name", "") or FALLBACK_AUTHOR[0]
        email = reader.get_value("user", "email", "") or FALLBACK_AUTHOR[1]
        return str(name), str(email)

    def __repr__(self) -> str:
        return f"Workspace(path={str(self.path)!r}, branch={self.branch!r}, base={self.base_commit[:10]})"


def _head_sha(repo) -> str:
    """HEAD's commit id read from the ref files as git writes them (no process)."""
    from git.refs.symbolic import SymbolicReference

    return SymbolicReference.dereference_recursive(repo, "HEAD")


def _message_stream(message: str):
    # `commit -F -` reads the message from stdin: no temp file, no argv length limit.
    fd, tmp = tempfile.mkstemp(prefix="escalate-msg-")
    with os.fdopen(fd, "w") as fh:
        fh.write(message if message.endswith("\n") else message + "\n")
    stream = open(tmp, "rb")  # noqa: SIM115 - GitPython reads it; unlinked right away (POSIX keeps it open)
    os.unlink(tmp)
    return stream


def _list_worktrees(repo) -> list[dict[str, str]]:
    entries, current = [], {}
    for line in repo.git.worktree("list", "--porcelain").splitlines():
        if not line:
            if current:
                entries.append(current)
            current = {}
            continue
        key, _, value = line.partition(" ")
        current[key] = value
    if current:
        entries.append(current)
    return entries


def _remove_worktree(repo, path: Path, branch: str | None) -> None:
    """Remove one worktree (locked or not), then delete branch (if given); never raises for leftovers."""
    import git

    try:
        repo.git.worktree("remove", "--force", "--force", str(path))  # twice: a locked one too
        removed = True
    except git.GitCommandError:
        removed = False  # already gone: closing must work on every exit path
    shutil.rmtree(path, ignore_errors=True)
    try:
        if not removed:
            repo.git.worktree("prune")
        if branch and branch in {head.name for head in repo.heads}:
            repo.git.branch("-D", branch)
    except git.GitCommandError as exc:
        raise WorkspaceError(f"could not clean up {path} / {branch}: {exc.stderr.strip()}") from exc


@atexit.register
def _close_open_workspaces() -> None:
    for ws in list(_OPEN):
        try:
            ws.close(keep_branch=ws.committed)
        except Exception as exc:  # noqa: BLE001 - best effort at interpreter exit, but said aloud
            print(
                f"escalate: could not remove the worktree {ws.path} at exit ({type(exc).__name__}: {exc}); "
                "the next escalate run cleans it up.",
                file=sys.stderr,
            )

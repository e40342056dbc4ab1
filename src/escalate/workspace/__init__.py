"""Where repository code lives and runs: the git worktree, subprocesses (sandboxed), and the repository
map.

``WorkingTree`` is the seam: what the ladder does with a task's tree (``worktree.Workspace`` is the
one implementation).
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol


class WorkingTree(Protocol):
    """One task's working tree: edited by the model, hashed, diffed, reset between tiers, committed."""

    path: Path  # where edits land and validation runs
    repo_root: Path  # the user's checkout (never edited)
    branch: str
    base_commit: str
    committed: bool

    def tree_hash(self) -> str:
        """The working state's identity: equal content, equal hash (circular-fix detection)."""
        ...

    def changes(self, tree: str | None = None) -> list:
        """Each path that differs from the base commit (``.path``, ``.status``). ``tree``, here and
        below: the working state's ``tree_hash`` when the caller has it (no second hashing)."""
        ...

    def changed_files(self, tree: str | None = None) -> list[str]:
        """Paths that differ from the base commit."""
        ...

    def files(self) -> list[str]:
        """Every file the model may list or search (git's ignore rules applied)."""
        ...

    def diff(self, tree: str | None = None) -> str:
        """A unified diff from the base commit to the working state."""
        ...

    def reset_to_base(self) -> None: ...

    def restore_tree(self, tree: str) -> None:
        """Make the working state exactly ``tree`` (a ``tree_hash``)."""
        ...

    def restore_except(self, keep: Iterable[str]) -> list[str]:
        """Put every changed path but ``keep`` (the model's edits) back to base; returns those paths."""
        ...

    def base_view(self, keep: Iterable[str] = ()) -> AbstractContextManager[Path]:
        """The tree with every change but those to ``keep`` set aside, for a ``with`` block."""
        ...

    def commit(self, message: str, paths: Iterable[str] | None = None, tree: str | None = None) -> str:
        """Commit ``paths`` (every change when None) on the branch; returns the commit's sha. With
        ``tree``, the working state is put back to it first when it differs (what was judged).
        A change to a protected path is refused (``ProtectedPathError``)."""
        ...

    def true_diff(self, tree: str | None = None) -> str:
        """The diff the reviewer reads: every file as text, the repository's attributes ignored."""
        ...

    def discard_protected(self, tree: str | None = None) -> list[tuple[str, str]]:
        """Put protected paths the change set touches back as the base has them; (path, why) each."""
        ...

    def close(self, keep_branch: bool = False) -> None:
        """Remove the tree (and the branch unless ``keep_branch``); safe to call twice."""
        ...

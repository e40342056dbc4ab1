"""What the user's checkout has that git does not track but the package needs to import.

A hatch-vcs or setuptools-scm ``_version.py`` and in-place built extensions (``*.so``)
are written at install time and git-ignored, so a fresh worktree lacks them and every
import of the package fails there. They are found by comparing the checkout's package
directories with the worktree's: the ignored, importable files inside them are copied
over (they stay ignored in the worktree, so they are never part of a patch or a tree hash).
"""

from __future__ import annotations

import shutil
from pathlib import Path

# Files an import can need; bytecode is rebuilt from source, so it is left behind.
IMPORTABLE_SUFFIXES = (".py", ".pyi", ".so", ".pyd", ".dylib")
# Top-level directories that hold a package's tests or docs, never the package itself.
NOT_PACKAGES = {"tests", "test", "testing", "docs", "doc", "examples", "build", "dist"}
MAX_COPY_BYTES = 200 * 1024 * 1024  # a pathological build folder must not fill the disk


def python_packages(root: Path) -> list[str]:
    """The top-level import packages of a project, as paths relative to root (src/ layout first)."""
    root = Path(root)
    found = []
    for base in (root / "src", root):
        if not base.is_dir():
            continue
        for child in sorted(base.iterdir()):
            if (
                child.is_dir()
                and not child.name.startswith((".", "_"))
                and child.name not in NOT_PACKAGES
                and child.name.isidentifier()
                and (child / "__init__.py").is_file()
            ):
                found.append(child.relative_to(root).as_posix())
    return found


def ignored_importables(repo, packages: list[str]) -> list[str]:
    """Git-ignored, importable files under the package dirs of the checkout ``repo`` (GitPython Repo)."""
    if not packages:
        return []
    out = repo.git.ls_files("-z", "--others", "--ignored", "--exclude-standard", "--", *packages)
    return sorted(
        p
        for p in out.split("\0")
        if p and p.endswith(IMPORTABLE_SUFFIXES) and "__pycache__/" not in p and ".egg-info/" not in p
    )


def copy_files(src_root: Path, dest_root: Path, paths: list[str]) -> list[str]:
    """Copy paths from src_root to dest_root (links not followed out of the tree); returns those copied."""
    copied, total = [], 0
    for rel in paths:
        src = Path(src_root) / rel
        if src.is_symlink() or not src.is_file():
            continue
        total += src.stat().st_size
        if total > MAX_COPY_BYTES:
            break
        dest = Path(dest_root) / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)
        copied.append(rel)
    return copied

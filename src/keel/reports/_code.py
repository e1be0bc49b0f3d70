"""What changed in the code between the two sides' commits: ``git diff --stat`` and notebooks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from keel.reports._notebook import NotebookDiff, diff_notebooks
from keel.reports._sides import git, git_bytes

#: Notebooks diffed cell by cell at most (a larger change lists the rest by name).
MAX_NOTEBOOKS = 10


@dataclass(frozen=True, slots=True)
class FileChange:
    path: str
    added: int | None  # None for binary files
    removed: int | None


@dataclass(frozen=True, slots=True)
class CodeDiff:
    base_commit: str
    head_commit: str
    files: list[FileChange] = field(default_factory=list)
    notebooks: list[NotebookDiff] = field(default_factory=list)

    @property
    def stat(self) -> str:
        """One line like ``3 files changed, 20 insertions(+), 4 deletions(-)``."""
        added = sum(f.added or 0 for f in self.files)
        removed = sum(f.removed or 0 for f in self.files)
        return (
            f"{len(self.files)} file(s) changed, {added} insertion(s)(+), {removed} deletion(s)(-)"
        )


def code_diff(base: str, head: str, repo: Path | None) -> CodeDiff | None:
    """The diff between two commits of the checkout at ``repo``; None when git cannot tell."""
    numstat = git(repo, "diff", "--numstat", "-z", "--no-renames", base, head, "--")
    if numstat is None:
        return None
    files = []
    for entry in filter(None, numstat.split("\0")):
        added, removed, path = entry.split("\t", 2)
        files.append(
            FileChange(
                path,
                int(added) if added.isdigit() else None,
                int(removed) if removed.isdigit() else None,
            )
        )
    notebooks = [
        diff_notebooks(_show(repo, base, f.path), _show(repo, head, f.path), path=f.path)
        for f in files
        if f.path.endswith(".ipynb")
    ][:MAX_NOTEBOOKS]
    return CodeDiff(base, head, files, notebooks)


def _show(repo: Path | None, commit: str, path: str) -> bytes | None:
    """The file's bytes at ``commit``; None when it did not exist there."""
    return git_bytes(repo, "show", f"{commit}:{path}")


__all__ = ["CodeDiff", "FileChange", "code_diff"]

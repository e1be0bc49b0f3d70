"""Notebook diffs people can read: cells' source and outputs, never the JSON around them.

Cells are aligned by their source (like nbdime), so an inserted cell shows as added rather
than as every later cell changed. Outputs are reduced to their text: stream text,
``text/plain`` results, errors as ``Name: value``; images and HTML become a one-line
placeholder so a re-run that only changes a PNG's bytes reads as "output changed".
Execution counts and metadata are ignored: they are the noise a JSON diff is full of.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from typing import Any

from keel.exceptions import InvalidArgumentError


@dataclass(frozen=True, slots=True)
class Cell:
    kind: str
    source: str
    outputs: str


@dataclass(frozen=True, slots=True)
class CellChange:
    """One cell added, removed or modified; ``source_diff``/``output_diff`` are unified diffs."""

    status: str  # added | removed | modified
    index: int  # the cell's position in the newer notebook (older one for removed)
    kind: str
    source_diff: str = ""
    output_diff: str = ""


@dataclass(frozen=True, slots=True)
class NotebookDiff:
    path: str
    changes: list[CellChange] = field(default_factory=list)
    error: str = ""  # why no cell diff could be made (a side is not valid notebook JSON)

    @property
    def summary(self) -> str:
        if self.error:
            return self.error
        counts = {s: sum(c.status == s for c in self.changes) for s in ("added", "removed")}
        modified = sum(c.status == "modified" for c in self.changes)
        return (
            f"{counts['added']} cell(s) added, {counts['removed']} removed, {modified} modified"
            if self.changes
            else "no change in cells or outputs"
        )


def read_cells(text: str | bytes | None, *, what: str) -> list[Cell]:
    """The cells of a notebook (nbformat 4; None is an absent notebook, no cells)."""
    if text is None:
        return []
    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidArgumentError(f"{what} is not a valid notebook: not JSON ({exc})") from exc
    cells = doc.get("cells") if isinstance(doc, dict) else None
    if not isinstance(cells, list):
        raise InvalidArgumentError(f"{what} is not a valid notebook: it has no 'cells' list")
    return [_cell(c) for c in cells if isinstance(c, dict)]


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


def _cell(raw: dict[str, Any]) -> Cell:
    outputs = [_output(o) for o in raw.get("outputs") or [] if isinstance(o, dict)]
    return Cell(str(raw.get("cell_type", "code")), _text(raw.get("source")), "".join(outputs))


def _output(out: dict[str, Any]) -> str:
    kind = out.get("output_type")
    if kind == "stream":
        return _text(out.get("text"))
    if kind == "error":
        return f"{out.get('ename', 'Error')}: {out.get('evalue', '')}\n"
    data = out.get("data") or {}
    if "text/plain" in data and not any(k.startswith("image/") for k in data):
        return _text(data["text/plain"]).rstrip("\n") + "\n"
    rich = sorted(k for k in data if k != "text/plain")
    size = sum(len(_text(data[k])) for k in rich)
    return f"[{', '.join(rich) or 'output'}: {size} characters]\n"


def diff_notebooks(
    before: str | bytes | None, after: str | bytes | None, *, path: str = "notebook.ipynb"
) -> NotebookDiff:
    """Cell-level changes from ``before`` to ``after``; invalid JSON yields ``error``."""
    try:
        old = read_cells(before, what=f"{path} (before)")
        new = read_cells(after, what=f"{path} (after)")
    except InvalidArgumentError as exc:
        return NotebookDiff(path, error=str(exc))
    matcher = difflib.SequenceMatcher(
        a=[c.source for c in old], b=[c.source for c in new], autojunk=False
    )
    changes: list[CellChange] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            changes.extend(
                _modified(old[i1 + k], new[j1 + k], j1 + k)
                for k in range(i2 - i1)
                if old[i1 + k].outputs != new[j1 + k].outputs
            )
            continue
        pairs = min(i2 - i1, j2 - j1) if tag == "replace" else 0
        changes.extend(_modified(old[i1 + k], new[j1 + k], j1 + k) for k in range(pairs))
        changes.extend(
            CellChange("removed", i, old[i].kind, _udiff(old[i].source, "", path))
            for i in range(i1 + pairs, i2)
        )
        changes.extend(
            CellChange("added", j, new[j].kind, _udiff("", new[j].source, path))
            for j in range(j1 + pairs, j2)
        )
    return NotebookDiff(path, sorted(changes, key=lambda c: c.index))


def _modified(old: Cell, new: Cell, index: int) -> CellChange:
    return CellChange(
        "modified",
        index,
        new.kind,
        _udiff(old.source, new.source, "source"),
        _udiff(old.outputs, new.outputs, "outputs"),
    )


def _udiff(a: str, b: str, label: str) -> str:
    if a == b:
        return ""
    lines = difflib.unified_diff(
        a.splitlines(), b.splitlines(), f"{label} (before)", f"{label} (after)", lineterm="", n=2
    )
    return "\n".join(list(lines)[2:])  # the two file-name lines say nothing here


__all__ = ["Cell", "CellChange", "NotebookDiff", "diff_notebooks", "read_cells"]

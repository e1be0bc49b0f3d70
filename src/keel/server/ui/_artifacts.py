"""Artifact previews (text, images, tables, HTML) and the sandboxed raw-file responses.

A raw artifact is served with ``Content-Security-Policy: sandbox`` (and no script source),
so an HTML report or an SVG that carries a script never runs it, and never in the keel
origin: the page shows HTML artifacts in an ``<iframe sandbox>`` pointing at that URL.
Only a short list of types is served inline; everything else downloads.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import posixpath
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.responses import StreamingResponse

from keel.store import ArtifactInfo
from keel.store.protocols import Blobs

TEXT_LIMIT = 256 << 10
TABLE_ROWS = 50
PARQUET_LIMIT = 512 << 20
RAW_CSP = (
    "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; "
    "font-src data:; media-src 'self'"
)
IMAGES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".bmp": "image/bmp",
    ".svg": "image/svg+xml",
}
HTML = {".html", ".htm"}
TEXT = {
    ".txt", ".log", ".md", ".json", ".yaml", ".yml", ".py", ".diff", ".patch", ".cfg",
    ".ini", ".toml", ".sh", ".sql", ".r", ".csv", ".tsv", ".xml", ".jsonl", ".mlmodel",
    ".rst",
}  # fmt: skip


@dataclass
class Preview:
    """What the artifact page shows for one file."""

    kind: str  # image | html | table | text | markdown | binary | too-big
    text: str = ""
    truncated: bool = False
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    note: str = ""


def suffix(path: str) -> str:
    name = posixpath.basename(path).lower()
    return name[name.rfind(".") :] if "." in name else ""


def _head(blobs: Blobs, sha: str, limit: int) -> tuple[bytes, bool]:
    out = bytearray()
    chunks = blobs.iter_chunks(sha, limit + 1)
    try:
        for chunk in chunks:
            out += chunk
            if len(out) > limit:
                break
    finally:
        chunks.close()  # type: ignore[attr-defined]
    return bytes(out[:limit]), len(out) > limit


def _looks_text(data: bytes) -> bool:
    if b"\x00" in data[:8192]:
        return False
    try:
        data[:8192].decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start > 8180  # a character cut at the end of the sample
    return True


def preview(blobs: Blobs, art: ArtifactInfo) -> Preview:
    ext = suffix(art.path)
    if ext in IMAGES:
        return Preview("image")
    if ext in HTML:
        return Preview("html")
    if ext == ".parquet":
        return _parquet(blobs, art)
    data, cut = _head(blobs, art.blob_sha, TEXT_LIMIT)
    if ext in (".csv", ".tsv"):
        return _csv(data, cut, "\t" if ext == ".tsv" else ",")
    if ext not in TEXT and not _looks_text(data):
        return Preview("binary")
    text = data.decode("utf-8", errors="replace")
    if ext == ".md":
        return Preview("markdown", text, cut)
    if ext == ".json" and not cut:
        with contextlib.suppress(ValueError):  # not valid JSON: shown as it is
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    return Preview("text", text, cut)


def _csv(data: bytes, cut: bool, delimiter: str) -> Preview:
    text = data.decode("utf-8", errors="replace")
    if cut:
        text = text[: text.rfind("\n") + 1]
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    if not rows:
        return Preview("text", "", cut)
    body = rows[1 : TABLE_ROWS + 1]
    more = cut or len(rows) > TABLE_ROWS + 1
    note = f"first {len(body)} rows" + (" (file continues)" if more else "")
    return Preview("table", columns=rows[0], rows=body, truncated=more, note=note)


def _parquet(blobs: Blobs, art: ArtifactInfo) -> Preview:
    return parquet_head(blobs, art.blob_sha, art.size, TABLE_ROWS, PARQUET_LIMIT)


def parquet_head(blobs: Blobs, sha: str, size: int, first: int, limit: int) -> Preview:
    """The first ``first`` rows of a Parquet blob (hash-checked as it is read), unless it is
    bigger than ``limit`` bytes."""
    if size > limit:
        return Preview("too-big", note=f"{size:,} bytes: download it to look inside")
    import pyarrow.parquet as pq

    with tempfile.TemporaryDirectory() as tmp:
        local = blobs.download(sha, Path(tmp) / "data.parquet")
        pf = pq.ParquetFile(local)
        batch = next(pf.iter_batches(batch_size=first), None)
        total = pf.metadata.num_rows
        schema = [f"{f.name}: {f.type}" for f in pf.schema_arrow]
    if batch is None:
        return Preview("table", columns=schema, note="no rows")
    cols = batch.to_pydict()
    rows = [[_cell(cols[name][i]) for name in cols] for i in range(batch.num_rows)]
    note = f"first {batch.num_rows} of {total} rows · " + ", ".join(schema)
    return Preview(
        "table", columns=list(cols), rows=rows, truncated=total > batch.num_rows, note=note
    )


def _cell(value: Any) -> Any:
    text = str(value)
    return text if len(text) <= 200 else text[:197] + "..."


def media_type(path: str) -> tuple[str, bool]:
    """(Content-Type, inline?) for a raw artifact; unknown types download."""
    ext = suffix(path)
    if ext in IMAGES:
        return IMAGES[ext], True
    if ext in HTML:
        return "text/html; charset=utf-8", True
    if ext in TEXT:
        return "text/plain; charset=utf-8", True
    return "application/octet-stream", False


def raw_response(blobs: Blobs, art: ArtifactInfo, *, download: bool) -> StreamingResponse:
    kind, inline = media_type(art.path)
    name = posixpath.basename(art.path).replace('"', "").replace("\\", "")[:200] or "artifact"
    disposition = "inline" if inline and not download else "attachment"
    chunks: Iterator[bytes] = blobs.iter_chunks(art.blob_sha)
    return StreamingResponse(
        chunks,
        media_type=kind,
        headers={
            "Content-Length": str(art.size),
            "Content-Disposition": f'{disposition}; filename="{_ascii(name)}"',
            "Content-Security-Policy": RAW_CSP,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, max-age=300",
            "Referrer-Policy": "no-referrer",
        },
    )


def _ascii(name: str) -> str:
    return name.encode("ascii", errors="replace").decode().replace("?", "_")


def tree(items: list[ArtifactInfo]) -> list[tuple[int, str, ArtifactInfo | None]]:
    """A flat, indented listing: (depth, label, file or None for a folder)."""
    out: list[tuple[int, str, ArtifactInfo | None]] = []
    seen: set[str] = set()
    for art in items:
        parts = art.path.split("/")
        for depth in range(len(parts) - 1):
            folder = "/".join(parts[: depth + 1])
            if folder not in seen:
                seen.add(folder)
                out.append((depth, parts[depth] + "/", None))
        out.append((len(parts) - 1, parts[-1], art))
    return out


__all__ = ["RAW_CSP", "Preview", "media_type", "preview", "raw_response", "suffix", "tree"]

"""Task sources besides a JSON file: a keel dataset version and a folder of texts or images.

``dataset:NAME`` or ``dataset:NAME@3`` gives one task per row of a table version (its
columns as the task's fields), or one per file of a files version. A folder gives one task
per text file (``text``: its content) or image (``image``: a ``data:`` URL the annotator
page shows, with ``width`` and ``height`` in pixels for box configs). Images are kept in
the task itself, so each is limited to :data:`MAX_IMAGE` bytes; larger ones belong on a web
server, imported as a JSON list of URLs. Every item carries where it came from
(``meta.source_ref``), in the shape :func:`keel.labeling.import_tasks` reads.
"""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel.exceptions import ConfigError, InvalidArgumentError, NotFoundError
from keel.labeling._sample import plain

if TYPE_CHECKING:
    from keel.store import Store

DATASET = "dataset:"
TEXTS = {".txt", ".md", ".text"}
IMAGES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
          ".webp": "image/webp"}  # fmt: skip
MAX_IMAGE = 2_000_000
MAX_TEXT_FILE = 1_000_000


def is_source(value: Any) -> bool:
    """Whether ``value`` names a dataset or a folder rather than a JSON file."""
    return isinstance(value, str | Path) and (
        str(value).startswith(DATASET) or Path(value).is_dir()
    )


def _size(data: bytes, name: str) -> tuple[int, int]:
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - pillow comes with the charts extra
        raise ConfigError(
            "reading image sizes needs Pillow: pip install pillow (or keel[charts])"
        ) from exc
    import io

    try:
        with Image.open(io.BytesIO(data)) as image:
            return int(image.width), int(image.height)
    except Exception as exc:  # Pillow raises several types for a broken file
        raise InvalidArgumentError(f"{name} is not a readable image: {exc}") from exc


def _file_item(path: Path, rel: str, origin: str) -> dict[str, Any] | None:
    suffix = path.suffix.lower()
    if suffix in TEXTS:
        if path.stat().st_size > MAX_TEXT_FILE:
            raise InvalidArgumentError(f"{rel} is over {MAX_TEXT_FILE:,} bytes: split it up")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidArgumentError(f"{rel} is not UTF-8 text: {exc}") from exc
        data: dict[str, Any] = {"text": text, "file": rel}
    elif suffix in IMAGES:
        raw = path.read_bytes()
        if len(raw) > MAX_IMAGE:
            raise InvalidArgumentError(
                f"{rel} is {len(raw):,} bytes, over the {MAX_IMAGE:,} an image task holds; "
                "serve large images over http(s) and import a JSON list of their URLs"
            )
        width, height = _size(raw, rel)
        url = f"data:{IMAGES[suffix]};base64,{base64.b64encode(raw).decode('ascii')}"
        data = {"image": url, "width": width, "height": height, "file": rel}
    else:
        return None
    return {"data": data, "meta": {"source_ref": f"{origin}/{rel}"}}


def folder_items(folder: str | Path, origin: str | None = None) -> list[dict[str, Any]]:
    """One item per text or image file under ``folder`` (sorted; other files left out)."""
    root = Path(folder)
    if not root.is_dir():
        raise NotFoundError(f"task source {str(folder)!r} does not exist or is not a folder")
    items = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        item = _file_item(path, path.relative_to(root).as_posix(), origin or f"folder:{root}")
        if item is not None:
            items.append(item)
    if not items:
        raise InvalidArgumentError(
            f"{str(folder)!r} holds no text ({', '.join(sorted(TEXTS))}) or image "
            f"({', '.join(sorted(IMAGES))}) files to label"
        )
    return items


def dataset_items(store: Store, project_id: int, ref: str) -> list[dict[str, Any]]:
    """One item per row of a table version, or per text/image file of a files version."""
    from keel.data import DatasetClient

    client = DatasetClient(store, store.projects.get_by_id(project_id))
    version = client.get(ref)
    origin = f"dataset:{version.ref}"
    if version.kind == "table":
        rows = client.load_arrow(version.ref).to_pylist()
        return [
            {"data": plain(row), "meta": {"source_ref": f"{origin}#row={i}"}}
            for i, row in enumerate(rows)
        ]
    with tempfile.TemporaryDirectory() as tmp:
        client.checkout(version.ref, tmp)
        return folder_items(tmp, origin)


def source_items(store: Store, project_id: int, source: str | Path) -> list[dict[str, Any]]:
    text = str(source)
    if text.startswith(DATASET):
        ref = text[len(DATASET) :]
        if not ref:
            raise InvalidArgumentError("name the dataset: dataset:NAME or dataset:NAME@VERSION")
        return dataset_items(store, project_id, ref)
    return folder_items(source)


__all__ = ["MAX_IMAGE", "dataset_items", "folder_items", "is_source", "source_items"]

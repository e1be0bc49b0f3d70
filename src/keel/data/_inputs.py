"""Table inputs of the data-science use cases: dataset references, files, frames, Arrow.

Each input comes back as an Arrow table with a lineage record, so a derived version (a
training set, synthetic data) can name exactly what it was made from.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel.exceptions import InvalidArgumentError

if TYPE_CHECKING:
    import pyarrow as pa

    from keel.data._client import DatasetClient


@dataclass(frozen=True, slots=True)
class Loaded:
    """An input table, where it came from (``lineage``) and how to name it in errors."""

    table: pa.Table
    lineage: dict[str, Any]
    label: str


def load_input(
    source: Any, datasets: DatasetClient | None, label: str, *, hashed: bool = True
) -> Loaded:
    """A source as an Arrow table with a lineage record (dataset version, file or in-memory).

    ``hashed=False`` skips the content hash of files and in-memory tables (reading only).
    """
    from keel.data._client import _as_table
    from keel.data._tables import read_table_file, table_format, table_hash

    if isinstance(source, Loaded):  # already read, with its own lineage (the prediction log)
        return source
    if isinstance(source, (str, Path)):
        path = Path(source).expanduser()
        fmt = table_format(path)
        if fmt is not None:
            table = read_table_file(path, fmt)
            lineage = {"type": fmt, "path": str(path.absolute())}
            if hashed:
                lineage["content_hash"] = table_hash(table)
            return Loaded(table, lineage, str(path))
        if datasets is None:
            raise InvalidArgumentError(
                f"{label} {str(source)!r} is neither a Parquet/CSV file nor resolvable without "
                "a dataset client; pass datasets=DatasetClient(...) to use dataset references"
            )
        version = datasets.get(str(source))
        ref: dict[str, Any] = {"dataset": version.ref, "version_id": version.id}
        ref["content_hash"] = version.content_hash
        return Loaded(datasets.load_arrow(version.ref), ref, version.ref)
    pd = sys.modules.get("pandas")
    if (
        pd is not None
        and isinstance(source, pd.DataFrame)
        and all(n is None for n in source.index.names)
    ):  # an unnamed index (after a filter or drop_duplicates) is row order, not data
        source = source.reset_index(drop=True)
    table = _as_table(source).table
    lineage = {"type": "in-memory"}
    if hashed:
        lineage["content_hash"] = table_hash(table)
    return Loaded(table, lineage, label)

"""Tabular sources (DataFrames, Arrow tables, Parquet, CSV) as Arrow, hashed and stored.

A table's content hash is taken over a canonical Arrow IPC stream (schema metadata dropped,
chunks combined, fixed batch size), so the same rows and types give the same hash whatever
the chunking, the pandas version or the file format they came from. The stored blob is a
zstd Parquet file that keeps the schema metadata, so :meth:`load` restores pandas details.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel.exceptions import InvalidArgumentError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from keel.store import BlobRef
    from keel.store.protocols import Blobs

TABLE_SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "tsv"}
TABLE_FILE = "data.parquet"
_IPC_BATCH = 1 << 16


def table_format(path: Path) -> str | None:
    """``"parquet"``, ``"csv"`` or ``"tsv"`` for a file keel profiles as a table, else None."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".gz", ".bz2", ".zst") and len(suffixes) > 1:
        suffixes = suffixes[:-1]  # data.csv.gz is a CSV
    return TABLE_SUFFIXES.get(suffixes[-1]) if suffixes and path.is_file() else None


def from_frame(frame: pd.DataFrame) -> pa.Table:
    import pyarrow as pa

    names = [str(c) for c in frame.columns]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InvalidArgumentError(
            f"DataFrame has duplicate column names {dupes}; rename them before logging"
        )
    try:
        return pa.Table.from_pandas(frame, preserve_index=None)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise InvalidArgumentError(
            f"cannot convert the DataFrame to Arrow: {exc}. Give each column one type "
            "(for example with df[col].astype(str))"
        ) from exc


def read_table_file(path: Path, fmt: str) -> pa.Table:
    """Read a Parquet, CSV or TSV file; a file that does not parse names itself."""
    import pyarrow as pa

    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return pq.read_table(path)
        from pyarrow import csv

        options = csv.ParseOptions(delimiter="\t" if fmt == "tsv" else ",")
        return csv.read_csv(path, parse_options=options)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidArgumentError(
            f"{str(path)!r} is not a readable {fmt.upper()} file: {exc}"
        ) from exc


def canonical(table: pa.Table) -> pa.Table:
    """The table without schema metadata and with one chunk per column."""
    return table.replace_schema_metadata(None).combine_chunks()


class _HashSink:
    """A write-only file object that feeds sha256 (pyarrow writes the IPC stream into it)."""

    closed = False

    def __init__(self) -> None:
        self.digest = hashlib.sha256()

    def write(self, data: Any) -> int:
        self.digest.update(data)
        return len(data)

    def flush(self) -> None:
        pass


def table_hash(table: pa.Table) -> str:
    """Content hash of a table's rows and types (independent of chunking and metadata)."""
    import pyarrow as pa

    table = canonical(table)
    sink = _HashSink()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=_IPC_BATCH)
    return sink.digest.hexdigest()


def store_table(table: pa.Table, blobs: Blobs) -> BlobRef:
    """Write the table as one zstd Parquet blob (streamed through a temporary file)."""
    import pyarrow.parquet as pq

    fd, tmp = tempfile.mkstemp(suffix=".parquet")
    os.close(fd)
    try:
        pq.write_table(table.combine_chunks(), tmp, compression="zstd")
        return blobs.put_file(tmp)
    finally:
        os.unlink(tmp)


def read_table_blob(blobs: Blobs, sha: str) -> pa.Table:
    """Read a stored table; the blob's hash is verified before any row is parsed."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    return pq.read_table(pa.BufferReader(blobs.read_bytes(sha)))

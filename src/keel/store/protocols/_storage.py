"""The UI's run statistics, ``keel sql``'s metadata tables, the database and the blob store.

Part of :mod:`keel.store.protocols` (import them from there)."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import os
    from collections.abc import Iterator
    from contextlib import AbstractContextManager
    from pathlib import Path
    from typing import IO

    import pyarrow as pa

    from keel.store.blobs import BlobRef
    from keel.store.metric_sampling import SampledSeries
    from keel.store.run_stats import Activity


class RunStats(Protocol):
    """Counts and sampled metric histories for the web UI's pages. SQL only: the pages
    are served where the database is."""

    def count(
        self, experiment_id: int, filter_string: str | None = None, *, cap: int = 0
    ) -> int: ...
    def by_experiment(self, experiment_ids: Sequence[int]) -> dict[int, Activity]: ...
    def by_project(self, project_ids: Sequence[int]) -> dict[int, Activity]: ...
    def sample_history(
        self, run_ids: Sequence[str], key: str, *, points: int = 500, exact: bool = True
    ) -> builtins.list[SampledSeries]: ...
    def latest_points(
        self, run_ids: Sequence[str], key: str
    ) -> builtins.list[tuple[str, int, int]]: ...


class MetadataTables(Protocol):
    """One project's rows of a metadata table as Arrow, for ``keel sql``. SQL only."""

    def read(self, project_id: int, name: str) -> pa.Table: ...


class Db(Protocol):
    """The metadata database a Store holds: ``keel.store.Database`` over SQL, or
    ``keel.store.remote.RemoteDatabase``, which refuses direct access and names the server.
    Only repositories use it; callers ask a repository."""

    uri: str
    dialect: str

    @property
    def safe_uri(self) -> str: ...
    def read(self) -> AbstractContextManager[Any]: ...
    def write(self) -> AbstractContextManager[Any]: ...
    def cursor(self, *, write: bool) -> AbstractContextManager[Any]: ...
    def dispose(self) -> None: ...


class Blobs(Protocol):
    """Content-addressed blobs: ``keel.store.BlobStore`` (a folder or fsspec URL) or
    ``keel.store.remote.RemoteBlobStore`` (the server's, over HTTP), side by side."""

    root_url: str
    root: str

    def path_of(self, sha: str) -> str: ...
    def exists(self, sha: str) -> bool: ...
    def size(self, sha: str) -> int: ...
    def put_file(self, path: str | os.PathLike[str]) -> BlobRef: ...
    def put_bytes(self, data: bytes) -> BlobRef: ...
    def put_stream(self, src: IO[bytes]) -> BlobRef: ...
    def read_bytes(self, sha: str) -> bytes: ...
    def iter_chunks(self, sha: str, chunk_size: int = ...) -> Iterator[bytes]: ...
    def download(self, sha: str, dest: str | os.PathLike[str]) -> Path: ...
    def verify(self, sha: str) -> None: ...
    def iter_all(self) -> Iterator[tuple[str, float]]: ...
    def delete(self, sha: str) -> None: ...
    def mtime(self, sha: str) -> float | None: ...
    def clean_tmp(self, older_than_s: float = 3600) -> int: ...

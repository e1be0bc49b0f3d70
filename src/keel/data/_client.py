"""The dataset client: register, read, compare and materialise dataset versions.

A source is a file or folder (stored file by file as blobs), or a table: a pandas DataFrame,
a pyarrow Table, a Parquet/CSV file or a :class:`~keel.data.SqlQuery` (stored as one
Parquet blob, with schema and profile). Identical content registered again returns the
newest version instead of adding one. pandas and pyarrow are imported only for tables.
"""

from __future__ import annotations

import builtins
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel.data._diff import DatasetDiff, DiffThresholds, diff_versions
from keel.data._files import (
    FolderStatus,
    ProgressFn,
    files_profile,
    folder_status,
    hash_stats,
    manifest_hash,
    require_files,
    scan,
)
from keel.data._hashstate import FileStat, HashState
from keel.data._quick import probe, remember
from keel.data._refs import DatasetRef, parse_ref
from keel.data._sql import SqlQuery
from keel.exceptions import InvalidArgumentError, NotFoundError
from keel.store import Dataset, DatasetFile, DatasetVersion, Project, Store
from keel.store.paths import safe_relpath
from keel.store.projects import ProjectByName

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

SMALL_FILE = 8 << 20  # read into memory to store; bigger files are streamed


@dataclass(frozen=True, slots=True)
class _Table:
    table: pa.Table
    source: dict[str, Any]


class DatasetClient(ProjectByName):
    """Dataset versions of one project. Cheap to create; not shared between threads.

    ``project`` is a project or its name, looked up on first use: reads need it to exist,
    and registering a version makes it, after the input is checked (a bad name or path
    leaves no empty project behind). ``hash_state`` replaces the machine-local hash cache
    under ``settings.cache_dir`` (tests pass one with a short racy window).
    """

    def __init__(
        self, store: Store, project: Project | str, *, hash_state: HashState | None = None
    ) -> None:
        super().__init__(store, project if isinstance(project, str) else project.name)
        if not isinstance(project, str):
            self._project = project  # already looked up by the caller
        self._hash_state = hash_state

    # -- registering -----------------------------------------------------------------------
    def log(
        self,
        name: str,
        source: Any,
        *,
        description: str = "",
        run_id: str | None = None,
        direction: str = "input",
        progress: ProgressFn | None = None,
    ) -> DatasetVersion:
        """Register ``source`` as the next version of dataset ``name`` (or return the newest
        version if its content is identical), and link it to ``run_id`` if given."""
        _check_name(name)
        if direction not in ("input", "output"):
            raise InvalidArgumentError(f"direction must be 'input' or 'output', not {direction!r}")
        if run_id is not None:
            self.store.runs.get_info(run_id)  # fail before any work on an unknown run
        if isinstance(source, (str, os.PathLike)):
            version = self._log_path(name, Path(source), description, run_id, progress)
        else:
            version = self._log_table(name, _as_table(source), description, run_id)
        if run_id is not None:
            self.store.runs.link_dataset(run_id, version.id, direction)
        return version

    def _log_path(
        self,
        name: str,
        path: Path,
        description: str,
        run_id: str | None,
        progress: ProgressFn | None,
    ) -> DatasetVersion:
        from keel.data._tables import read_table_file, table_format

        root = path.expanduser().absolute()
        if not root.exists():
            raise NotFoundError(f"path {str(path)!r} does not exist; check the spelling")
        fmt = table_format(root)
        if fmt is not None:
            table = _Table(read_table_file(root, fmt), {"type": fmt, "path": str(root)})
            return self._log_table(name, table, description, run_id)
        stats = scan(root)
        require_files(path, stats)
        for st in stats:
            safe_relpath(st.rel, what="dataset file path")
        with self._state() as state:
            result = hash_stats(
                stats, state, root=str(root) if root.is_dir() else None, progress=progress
            )
        content_hash = manifest_hash(result.hashes)
        dataset = self.store.datasets.get_or_create(self.project.id, name, description)
        newest = self._newest(dataset)
        if newest is not None and newest.content_hash == content_hash:
            return newest
        version, _ = self.store.datasets.add_version(
            dataset,
            content_hash=content_hash,
            kind="files",
            source={"type": "folder" if root.is_dir() else "file", "path": str(root)},
            schema=[],
            profile=files_profile(stats),
            num_rows=None,
            files=self._store_files(stats, result.hashes, progress),
            run_id=run_id,
        )
        return version

    def _store_files(
        self, stats: Sequence[FileStat], hashes: dict[str, str], progress: ProgressFn | None
    ) -> builtins.list[DatasetFile]:
        """Copy each file into the blob store (files already there are not read again)."""
        files = []
        for i, st in enumerate(stats, 1):
            files.append(DatasetFile(st.rel, self._put(st.path, st.size, hashes[st.rel]), st.size))
            if progress is not None and (i % 256 == 0 or i == len(stats)):
                progress("storing", i, len(stats))
        return files

    def _put(self, path: str, size: int, sha: str) -> str:
        """Store one file as a blob unless present; refuse a file that changed meanwhile."""
        blobs = self.store.blobs
        if blobs.exists(sha):
            return sha
        if size <= SMALL_FILE:
            with open(path, "rb") as f:
                stored = blobs.put_bytes(f.read()).sha
        else:
            stored = blobs.put_file(path).sha
        if stored != sha:
            raise InvalidArgumentError(
                f"file {path!r} changed while it was being registered; log the dataset again"
            )
        return sha

    def _log_table(
        self, name: str, table: _Table, description: str, run_id: str | None
    ) -> DatasetVersion:
        from keel.data._profile import profile_of, schema_of
        from keel.data._tables import TABLE_FILE, store_table, table_hash

        content_hash = table_hash(table.table)
        dataset = self.store.datasets.get_or_create(self.project.id, name, description)
        newest = self._newest(dataset)
        if newest is not None and newest.content_hash == content_hash:
            return newest
        blob = store_table(table.table, self.store.blobs)
        version, _ = self.store.datasets.add_version(
            dataset,
            content_hash=content_hash,
            kind="table",
            source=table.source,
            schema=schema_of(table.table.schema),
            profile=profile_of(table.table),
            num_rows=table.table.num_rows,
            files=[DatasetFile(TABLE_FILE, blob.sha, blob.size)],
            run_id=run_id,
        )
        return version

    def _log_derived(
        self, name: str, table: pa.Table, source: dict[str, Any], description: str = ""
    ) -> DatasetVersion:
        """Register a table keel derived (a training set, synthetic data) with its lineage."""
        _check_name(name)
        return self._log_table(name, _Table(table, source), description, None)

    def _log_blob(
        self, name: str, filename: str, data: bytes, source: dict[str, Any], profile: dict[str, Any]
    ) -> DatasetVersion:
        """Register one in-memory file keel made (a synthetic-data model) as a files version."""
        _check_name(name)
        blob = self.store.blobs.put_bytes(data)
        dataset = self.store.datasets.get_or_create(self.project.id, name, "")
        version, _ = self.store.datasets.add_version(
            dataset,
            content_hash=manifest_hash({filename: blob.sha}),
            kind="files",
            source=source,
            schema=[],
            profile=profile,
            num_rows=None,
            files=[DatasetFile(filename, blob.sha, len(data))],
        )
        return version

    # -- reading ---------------------------------------------------------------------------
    def get(self, name: str | DatasetRef, version: int | None = None) -> DatasetVersion:
        """A version by reference (``"name"``, ``"name@3"``) or by name and number."""
        ref = parse_ref(name) if version is None else DatasetRef(str(name), version)
        return self.store.datasets.get_version(self.existing_project().id, ref.name, ref.version)

    def versions(self, name: str) -> builtins.list[DatasetVersion]:
        """Every version of a dataset, oldest first."""
        return self.store.datasets.versions(self.existing_project().id, name)

    def list(self) -> builtins.list[tuple[Dataset, DatasetVersion | None]]:
        """Every dataset of the project with its newest version."""
        return self.store.datasets.list_with_latest(self.existing_project().id)

    def files(self, ref: str | DatasetRef) -> builtins.list[DatasetFile]:
        return self.store.datasets.files(self.get(ref).id)

    def runs(self, ref: str | DatasetRef) -> builtins.list[tuple[str, str]]:
        """(run id, "input"/"output") of every run that read or wrote this version."""
        return self.store.datasets.runs_of(self.get(ref).id)

    def load_arrow(self, ref: str | DatasetRef) -> pa.Table:
        """A table version as a pyarrow Table (its blob's hash verified first)."""
        from keel.data._tables import read_table_blob

        version = self.get(ref)
        if version.kind != "table":
            raise InvalidArgumentError(
                f"dataset {version.ref} is a set of files, not a table; use "
                f"checkout({version.ref!r}, dest) to get its files"
            )
        (data,) = self.store.datasets.files(version.id)
        return read_table_blob(self.store.blobs, data.blob_sha)

    def load(self, ref: str | DatasetRef) -> pd.DataFrame:
        """A table version as a pandas DataFrame."""
        return self.load_arrow(ref).to_pandas()

    def checkout(
        self,
        ref: str | DatasetRef,
        dest: str | os.PathLike[str],
        *,
        progress: ProgressFn | None = None,
    ) -> builtins.list[Path]:
        """Write a version's files under ``dest``; each blob is verified before it lands.

        Files of the version are overwritten; other files in ``dest`` are left alone.
        """
        version = self.get(ref)
        root = Path(dest).expanduser().absolute()
        if root.exists() and not root.is_dir():
            raise InvalidArgumentError(
                f"checkout destination {str(dest)!r} is a file; give a folder path"
            )
        files = self.store.datasets.files(version.id)
        written = []
        for i, f in enumerate(files, 1):
            target = root / safe_relpath(f.path, what="dataset file path")
            written.append(self.store.blobs.download(f.blob_sha, target))
            if progress is not None and (i % 64 == 0 or i == len(files)):
                progress("checking out", i, len(files))
        return written

    # -- comparing -------------------------------------------------------------------------
    def status(
        self,
        name: str | DatasetRef,
        path: str | os.PathLike[str],
        *,
        progress: ProgressFn | None = None,
    ) -> FolderStatus:
        """Compare a file or folder on disk with the newest version (or the one referenced).

        Only files whose stat data changed since they were last hashed are read again.
        """
        seen = probe(self.store.settings)  # before the database is read; see keel.data._quick
        version = self.get(name)
        root = Path(path).expanduser().absolute()
        if version.kind == "table":
            return self._table_status(version, root)
        stored = {f.path: f.blob_sha for f in self.store.datasets.files(version.id)}
        with self._state() as state:
            status = folder_status(root, state, version.ref, stored, version.content_hash, progress)
            if seen is not None:
                remember(
                    state, seen, self.project_name, str(name), version.ref,
                    version.content_hash, list(stored.items()),
                )  # fmt: skip
        return status

    def _table_status(self, version: DatasetVersion, path: Path) -> FolderStatus:
        from keel.data._tables import read_table_file, table_format, table_hash

        if not path.exists():
            raise NotFoundError(f"path {str(path)!r} does not exist; check the spelling")
        fmt = table_format(path)
        if fmt is None:
            raise InvalidArgumentError(
                f"dataset {version.ref} is a table; compare it with a Parquet or CSV file, "
                f"not {str(path)!r}"
            )
        now = table_hash(read_table_file(path, fmt))
        same = now == version.content_hash
        return FolderStatus(
            version.ref,
            str(path),
            modified=[] if same else [path.name],
            unchanged=1 if same else 0,
            hashed=1,
            content_hash=now,
        )

    def diff(
        self,
        a: str | DatasetRef,
        b: str | DatasetRef,
        *,
        thresholds: DiffThresholds | None = None,
    ) -> DatasetDiff:
        """Schema changes, statistics that moved beyond ``thresholds``, and file changes."""
        va, vb = self.get(a), self.get(b)
        files_a = files_b = []
        if va.kind == vb.kind == "files":
            files_a = self.store.datasets.files(va.id)
            files_b = self.store.datasets.files(vb.id)
        return diff_versions(va, vb, files_a, files_b, thresholds)

    # -- helpers ---------------------------------------------------------------------------
    def _newest(self, dataset: Dataset) -> DatasetVersion | None:
        try:
            return self.store.datasets.get_version(dataset.project_id, dataset.name)
        except NotFoundError:
            return None

    @contextmanager
    def _state(self) -> Iterator[HashState]:
        if self._hash_state is not None:
            yield self._hash_state
            return
        state = HashState(self.store.settings.cache_dir / "hashstate.db")
        try:
            yield state
        finally:
            state.close()


def _check_name(name: object) -> None:
    if isinstance(name, str) and "@" in name:
        raise InvalidArgumentError(
            f"dataset name {name!r} contains '@', which separates name and version in "
            "references like 'customers@3'; choose a name without it"
        )


def _as_table(source: Any) -> _Table:
    """A DataFrame, Series, Arrow table or batch, or SQL query as an Arrow table."""
    if isinstance(source, SqlQuery):
        from keel.data._sql import read_sql

        return _Table(read_sql(source), source.describe())
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(source, pd.Series):
        source = source.to_frame()
    if pd is not None and isinstance(source, pd.DataFrame):
        from keel.data._tables import from_frame

        return _Table(from_frame(source), {"type": "dataframe"})
    pa = sys.modules.get("pyarrow")
    if pa is not None and isinstance(source, pa.RecordBatch):
        source = pa.Table.from_batches([source])
    if pa is not None and isinstance(source, pa.Table):
        return _Table(source, {"type": "arrow"})
    raise InvalidArgumentError(
        f"cannot version an object of type {type(source).__qualname__!r}; pass a file or "
        "folder path, a pandas DataFrame, a pyarrow Table or keel.data.SqlQuery(url, query)"
    )

"""Incremental hashing: what is re-read, what is trusted, and the cases stat data lies about."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from keel.data import DatasetClient, HashState
from keel.data._files import hash_stats, scan
from keel.exceptions import BlobCorruptedError


def settle() -> None:
    """Let file timestamps fall out of the (test-sized, 20 ms) racy window."""
    time.sleep(0.05)


def test_unchanged_files_are_not_reread(datasets: DatasetClient, folder: Path) -> None:
    settle()
    datasets.log("imgs", folder)
    status = datasets.status("imgs", folder)
    assert not status.changed and status.unchanged == 3
    assert status.hashed == 0  # every hash came from the cache


def test_racily_clean_files_are_rehashed(tmp_path: Path, folder: Path) -> None:
    state = HashState(tmp_path / "s.db")  # the real 2 s window
    first = hash_stats(scan(folder), state, root=str(folder))
    again = hash_stats(scan(folder), state, root=str(folder))
    # Files written just now could change again within their timestamp tick: not trusted.
    assert (first.hashed, again.hashed) == (3, 3)
    assert first.hashes == again.hashes


def test_same_size_rewrite_with_restored_mtime_is_detected(
    datasets: DatasetClient, folder: Path
) -> None:
    settle()
    datasets.log("imgs", folder)
    target = folder / "a.txt"
    before = target.stat()
    target.write_text("ALPHA\n")  # same size
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))  # mtime put back
    after = target.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    status = datasets.status("imgs", folder)
    assert status.modified == ["a.txt"] and status.changed
    assert status.hashed == 1  # only the file whose ctime moved was read


def test_added_removed_and_modified_files(datasets: DatasetClient, folder: Path) -> None:
    datasets.log("imgs", folder)
    (folder / "b.txt").unlink()
    (folder / "cats" / "d.txt").write_text("delta\n")
    (folder / "cats" / "c.bin").write_bytes(b"other bytes")
    status = datasets.status("imgs", folder)
    assert status.added == ["cats/d.txt"]
    assert status.removed == ["b.txt"]
    assert status.modified == ["cats/c.bin"]
    assert status.unchanged == 1


def test_status_against_an_older_version(datasets: DatasetClient, folder: Path) -> None:
    datasets.log("imgs", folder)
    (folder / "a.txt").write_text("v2\n")
    datasets.log("imgs", folder)
    assert not datasets.status("imgs", folder).changed
    assert datasets.status("imgs@1", folder).modified == ["a.txt"]


def test_cache_prunes_deleted_files_and_survives_damage(tmp_path: Path, folder: Path) -> None:
    path = tmp_path / "state.db"
    state = HashState(path)
    hash_stats(scan(folder), state, root=str(folder))
    (folder / "b.txt").unlink()
    hash_stats(scan(folder), state, root=str(folder))
    assert sorted(Path(p).name for p in state.under(str(folder))) == ["a.txt", "c.bin"]
    state.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.write_bytes(b"this is not a sqlite database" * 100)
    damaged = HashState(path)
    result = hash_stats(scan(folder), damaged, root=str(folder))
    assert result.hashed == 2 and len(result.hashes) == 2  # rebuilt, not crashed


def test_ignored_folders_and_symlinked_dirs(datasets: DatasetClient, folder: Path) -> None:
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD").write_text("ref\n")
    (folder / "loop").symlink_to(folder, target_is_directory=True)
    v = datasets.log("imgs", folder)
    assert [f.path for f in datasets.files(v.ref)] == ["a.txt", "b.txt", "cats/c.bin"]


def test_checkout_writes_verified_files(
    datasets: DatasetClient, folder: Path, tmp_path: Path
) -> None:
    v = datasets.log("imgs", folder)
    out = tmp_path / "out"
    written = datasets.checkout("imgs@1", out)
    assert sorted(p.relative_to(out).as_posix() for p in written) == [
        "a.txt",
        "b.txt",
        "cats/c.bin",
    ]
    assert (out / "cats" / "c.bin").read_bytes() == bytes(range(256))
    assert not datasets.status(v.ref, out).changed


def test_checkout_refuses_a_corrupted_blob(
    datasets: DatasetClient, folder: Path, tmp_path: Path
) -> None:
    datasets.log("imgs", folder)
    sha = next(f.blob_sha for f in datasets.files("imgs") if f.path == "a.txt")
    blob = Path(datasets.store.blobs.path_of(sha))
    blob.write_bytes(b"tampered")
    with pytest.raises(BlobCorruptedError, match=sha):
        datasets.checkout("imgs", tmp_path / "out")
    assert not (tmp_path / "out" / "a.txt").exists()  # bad bytes never land

"""Blob store: dedupe, verification on read, and crash safety of writes."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from keel.config import Settings
from keel.exceptions import BlobCorruptedError, NotFoundError
from keel.store import BlobStore, Store, collect_garbage, open_store


def test_put_dedupes_and_reads_back(tmp_path: Path) -> None:
    blobs = BlobStore(str(tmp_path / "blobs"))
    a = blobs.put_bytes(b"hello")
    b = blobs.put_bytes(b"hello")
    src = tmp_path / "f.txt"
    src.write_bytes(b"hello")
    c = blobs.put_file(src)
    assert a == b == c
    assert blobs.read_bytes(a.sha) == b"hello"
    assert Path(blobs.path_of(a.sha)).parent.name == a.sha[:2]
    out = blobs.download(a.sha, tmp_path / "out" / "copy.txt")
    assert out.read_bytes() == b"hello"


def test_corrupted_blob_is_detected_and_named(tmp_path: Path) -> None:
    blobs = BlobStore(str(tmp_path / "blobs"))
    ref = blobs.put_bytes(b"x" * 5000)
    Path(blobs.path_of(ref.sha)).write_bytes(b"x" * 4999 + b"y")
    with pytest.raises(BlobCorruptedError, match=ref.sha):
        blobs.read_bytes(ref.sha)
    dest = tmp_path / "dl.bin"
    with pytest.raises(BlobCorruptedError):
        blobs.download(ref.sha, dest)
    assert not dest.exists()  # bad bytes never land at the destination


def test_missing_blob_is_not_found(tmp_path: Path) -> None:
    blobs = BlobStore(str(tmp_path / "blobs"))
    with pytest.raises(NotFoundError, match="0" * 64):
        blobs.read_bytes("0" * 64)


_WRITER = """
import sys, time
from keel.store import BlobStore

class Slow:
    def __init__(self):
        self.n = 0
    def read(self, size):
        self.n += 1
        if self.n == 3:
            print("writing", flush=True)
        if self.n > 2000:
            return b""
        time.sleep(0.01)
        return b"z" * (1 << 20)

BlobStore(sys.argv[1]).put_stream(Slow())
"""


def test_sigkill_mid_write_leaves_no_visible_blob(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(root)], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"writing"
    time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    blobs = BlobStore(str(root))
    assert list(blobs.iter_all()) == []  # nothing half-written is visible
    leftovers = list((root / "tmp").iterdir())
    assert leftovers  # the partial write sits in tmp/ only
    ref = blobs.put_bytes(b"retry works")
    assert blobs.read_bytes(ref.sha) == b"retry works"
    assert blobs.clean_tmp(older_than_s=0) == len(leftovers)


def test_gc_removes_only_unreferenced_blobs(sqlite_store: Store, tmp_path: Path) -> None:
    s = sqlite_store
    project = s.projects.get_or_create("default")
    run = s.runs.create(s.experiments.create(project.id, "e").id)
    kept = s.blobs.put_bytes(b"kept")
    s.artifacts.add(run.id, [("a.txt", kept)])
    orphan = s.blobs.put_bytes(b"orphan")
    young = collect_garbage(s.db, s.blobs, grace_s=3600)
    assert young.deleted == []  # within the grace period a writer may still record it
    report = collect_garbage(s.db, s.blobs, grace_s=0)
    assert report.deleted == [orphan.sha]
    assert s.blobs.exists(kept.sha) and not s.blobs.exists(orphan.sha)


def _age(blobs: BlobStore, sha: str, seconds: float) -> None:
    old = time.time() - seconds
    os.utime(blobs.path_of(sha), (old, old))


def test_storing_content_again_protects_an_old_orphan_from_gc(sqlite_store: Store) -> None:
    s = sqlite_store
    old = s.blobs.put_bytes(b"content seen before")
    _age(s.blobs, old.sha, 7200)  # an unreferenced blob past gc's grace period
    again = s.blobs.put_bytes(b"content seen before")  # a writer about to reference it
    assert again == old
    assert collect_garbage(s.db, s.blobs, grace_s=3600).deleted == []
    _age(s.blobs, old.sha, 7200)
    s.blobs.put_stream(io.BytesIO(b"content seen before"))  # the streamed upload path too
    assert collect_garbage(s.db, s.blobs, grace_s=3600).deleted == []
    assert s.blobs.read_bytes(old.sha) == b"content seen before"


def test_gc_spares_a_blob_refreshed_after_its_scan(sqlite_store: Store) -> None:
    s = sqlite_store
    ref = s.blobs.put_bytes(b"raced")
    _age(s.blobs, ref.sha, 7200)
    listed = list(s.blobs.iter_all())  # what gc saw when it listed the store: old

    class Racing(BlobStore):
        def iter_all(self):  # type: ignore[no-untyped-def]
            yield from listed
            self.put_bytes(b"raced")  # an upload lands between the listing and the delete

    racing = Racing(s.blobs.root_url)
    assert collect_garbage(s.db, racing, grace_s=3600).deleted == []
    assert s.blobs.exists(ref.sha)


def test_gc_removes_the_part_file_of_a_killed_writer_at_once(tmp_path: Path) -> None:
    store = open_store(Settings.for_home(tmp_path / "home"))
    root = store.blobs.root
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, root], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"writing"
    time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    parts = list(Path(root, "tmp").iterdir())
    assert parts and all(p.stat().st_size > 0 for p in parts)
    foreign = Path(root, "tmp", "otherhost.1.abc.part")
    foreign.write_bytes(b"a writer on another machine")
    mine = Path(store.blobs._tmp_name())  # this live process's write in flight
    mine.write_bytes(b"in flight")
    report = collect_garbage(store.db, store.blobs)  # the default 1-hour grace
    assert report.partial_removed == len(parts)
    assert not any(p.exists() for p in parts)
    assert foreign.exists() and mine.exists()  # not judged: another host; alive
    store.close()

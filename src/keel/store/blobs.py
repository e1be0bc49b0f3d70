"""Content-addressed blob storage over fsspec.

A blob lives at ``<root>/ab/abcdef...`` named by the sha256 of its bytes (Metaflow's layout).
Writes stream into ``<root>/tmp/`` while hashing, then move into place: readers never see
a partial blob, and a blob already present is not written again, only made young again
(its modification time is refreshed), so garbage collection's grace period covers a writer
about to reference it. Reads verify the hash:
a blob whose bytes changed on disk raises :class:`~keel.exceptions.BlobCorruptedError`
naming it, and never hands back the bad bytes (``read_bytes``, ``download``) or ends the
stream with that error (``iter_chunks``). Thread- and process-safe: concurrent writers of
the same content race harmlessly to the same name.

A partial write is named ``tmp/<host>.<pid>.<random>.part``: a writer that fails removes
it; one that was killed leaves it, and :meth:`BlobStore.clean_tmp` removes it at once when
that process is gone from this host (by age otherwise).
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from keel.exceptions import BlobCorruptedError, InvalidArgumentError, NotFoundError, StoreError

CHUNK = 1 << 20


def _sha256(data: bytes = b"") -> Any:
    """A SHA-256 hasher; hashlib (OpenSSL) loads on the first blob read or write, not with
    the store, so commands that only list things do not pay for it."""
    import hashlib

    return hashlib.sha256(data)


_SHA = re.compile(r"^[0-9a-f]{64}$")
_HOST = re.sub(r"[^A-Za-z0-9-]", "-", platform.node())[:64] or "host"


def _local_path(root: str) -> str | None:
    """The absolute folder of a local root (a path or ``file://`` URL), else ``None``."""
    if root.startswith("file://"):
        root = root[len("file://") :]
    elif "://" in root or "::" in root:
        return None
    return os.path.abspath(os.path.expanduser(root)).replace(os.sep, "/").rstrip("/") or "/"


@dataclass(frozen=True, slots=True)
class BlobRef:
    sha: str
    size: int


def download_chunks(chunks: Iterator[bytes], dest: str | os.PathLike[str]) -> Path:
    """Write verified ``chunks`` to ``dest`` under a temporary name, then rename: a blob
    that fails its hash check never appears at ``dest``."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.part")
    try:
        with open(tmp, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def corrupted(sha: str, where: str) -> BlobCorruptedError:
    return BlobCorruptedError(
        f"blob {sha} at {where} does not match its hash: the file was changed "
        "or damaged on disk. Restore it from a backup or log the artifact again."
    )


class BlobStore:
    """Blobs under one fsspec URL (a local folder by default)."""

    def __init__(self, root: str) -> None:
        self.root_url = root
        local = _local_path(root)
        self._local = local is not None
        self._fs: Any = None
        if local is not None:  # no fsspec import until a method needs it
            self.root = local
            Path(self.root, "tmp").mkdir(parents=True, exist_ok=True)
        else:
            self.root = self._open_fs()[1].rstrip("/")

    def _open_fs(self) -> tuple[Any, str]:
        import fsspec

        fs, path = fsspec.core.url_to_fs(self.root_url)
        self._fs = fs
        return fs, path

    @property
    def fs(self) -> Any:
        """The fsspec filesystem (imported on first use: a local store rarely needs it)."""
        return self._fs if self._fs is not None else self._open_fs()[0]

    # -- naming ----------------------------------------------------------------------------
    def path_of(self, sha: str) -> str:
        if not _SHA.match(sha):
            raise InvalidArgumentError(f"{sha!r} is not a sha256 hex digest")
        return f"{self.root}/{sha[:2]}/{sha}"

    def exists(self, sha: str) -> bool:
        if self._local:
            return os.path.exists(self.path_of(sha))
        return bool(self.fs.exists(self.path_of(sha)))

    # -- writing ---------------------------------------------------------------------------
    def put_file(self, path: str | os.PathLike[str]) -> BlobRef:
        with open(path, "rb") as src:
            return self.put_stream(src)

    def put_bytes(self, data: bytes) -> BlobRef:
        sha = _sha256(data).hexdigest()
        if self._local and self._refresh(sha):
            return BlobRef(sha, len(data))
        tmp = self._tmp_name()
        with self.fs.open(tmp, "wb") as out:
            out.write(data)
        self._publish(tmp, sha)
        return BlobRef(sha, len(data))

    def put_stream(self, src: IO[bytes]) -> BlobRef:
        """Copy a stream in, hashing as it goes; memory use is one chunk."""
        tmp = self._tmp_name()
        digest = _sha256()
        size = 0
        try:
            with self.fs.open(tmp, "wb") as out:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                if self._local:
                    out.flush()
                    os.fsync(out.fileno())
        except BaseException:
            self._discard(tmp)
            raise
        sha = digest.hexdigest()
        if self._local and self._refresh(sha):
            self._discard(tmp)
        else:
            self._publish(tmp, sha)
        return BlobRef(sha, size)

    def _refresh(self, sha: str) -> bool:
        """Make a present local blob young again (gc's grace period then protects the
        writer about to reference it); ``False`` when it is not there. An object store
        cannot touch an object, so there the write publishes again (same bytes, new age)."""
        try:
            os.utime(self.path_of(sha))
        except FileNotFoundError:
            return False
        return True

    def _tmp_name(self) -> str:
        return f"{self.root}/tmp/{_HOST}.{os.getpid()}.{uuid.uuid4().hex}.part"

    def _publish(self, tmp: str, sha: str) -> None:
        final = self.path_of(sha)
        try:
            if self._local:
                Path(final).parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, final)  # atomic on one filesystem
            else:
                self.fs.mv(tmp, final)
        except OSError as exc:
            self._discard(tmp)
            raise StoreError(f"could not store blob {sha}: {exc}") from exc

    def _discard(self, tmp: str) -> None:
        with contextlib.suppress(OSError, FileNotFoundError):
            self.fs.rm(tmp)

    # -- reading ---------------------------------------------------------------------------
    def read_bytes(self, sha: str) -> bytes:
        data = self._open_read(sha).read()
        if _sha256(data).hexdigest() != sha:
            raise self._corrupted(sha)
        return bytes(data)

    def iter_chunks(self, sha: str, chunk_size: int = CHUNK) -> Iterator[bytes]:
        """Stream a blob; raises BlobCorruptedError at the end if the bytes do not match."""
        digest = _sha256()
        with self._open_read(sha) as f:
            while chunk := f.read(chunk_size):
                digest.update(chunk)
                yield chunk
        if digest.hexdigest() != sha:
            raise self._corrupted(sha)

    def download(self, sha: str, dest: str | os.PathLike[str]) -> Path:
        """Copy a blob to ``dest`` (verified before it appears there)."""
        return download_chunks(self.iter_chunks(sha), dest)

    def verify(self, sha: str) -> None:
        for _ in self.iter_chunks(sha):
            pass

    def size(self, sha: str) -> int:
        return int(self.fs.size(self.path_of(sha)))

    def _open_read(self, sha: str) -> Any:
        try:
            return self.fs.open(self.path_of(sha), "rb")
        except FileNotFoundError as exc:
            raise NotFoundError(
                f"blob {sha} is missing from {self.root_url}; it was deleted or never written"
            ) from exc

    def _corrupted(self, sha: str) -> BlobCorruptedError:
        return corrupted(sha, self.path_of(sha))

    # -- maintenance -----------------------------------------------------------------------
    def iter_all(self) -> Iterator[tuple[str, float]]:
        """Every stored blob as ``(sha, mtime)``."""
        if self._local:
            root = Path(self.root)
            if not root.exists():
                return
            for prefix in os.scandir(root):
                if len(prefix.name) != 2 or not prefix.is_dir():
                    continue
                for entry in os.scandir(prefix.path):
                    if _SHA.match(entry.name):
                        yield entry.name, entry.stat().st_mtime
            return
        for path, info in self.fs.find(self.root, detail=True).items():
            name = path.rsplit("/", 1)[-1]
            if _SHA.match(name):
                yield name, _mtime_of(info)

    def delete(self, sha: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(self.path_of(sha))

    def mtime(self, sha: str) -> float | None:
        """When a blob was last written or refreshed; ``None`` when it is gone."""
        try:
            if self._local:
                return os.stat(self.path_of(sha)).st_mtime
            return _mtime_of(self.fs.info(self.path_of(sha)))
        except FileNotFoundError:
            return None

    def clean_tmp(self, older_than_s: float = 3600) -> int:
        """Remove partial writes left by killed processes: at once when the writer was a
        process of this host that is gone, else when older than ``older_than_s``."""
        tmp = f"{self.root}/tmp"
        if not self.fs.exists(tmp):
            return 0
        cutoff = time.time() - older_than_s
        removed = 0
        for path, info in self.fs.find(tmp, detail=True).items():
            if _mtime_of(info) < cutoff or _writer_gone(path.rsplit("/", 1)[-1]):
                self._discard(path)
                removed += 1
        return removed


def _mtime_of(info: dict[str, Any]) -> float:
    mtime = info.get("mtime") or info.get("LastModified") or 0
    return float(mtime.timestamp() if hasattr(mtime, "timestamp") else mtime)


def _writer_gone(name: str) -> bool:
    """Whether a ``<host>.<pid>.<random>.part`` file was written by a process of this host
    that no longer exists (a name in another form, or from another host, is not judged)."""
    host, _, rest = name.partition(".")
    pid_text = rest.partition(".")[0]
    if host != _HOST or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, owned by someone else
        return False
    return False

"""Blobs over HTTP: uploads stream to ``PUT /api/v1/blobs``, downloads are verified."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from keel.exceptions import ConfigError, InvalidArgumentError
from keel.store.blobs import _SHA, CHUNK, BlobRef, corrupted, download_chunks
from keel.store.remote._http import V1, Http


class RemoteBlobStore:
    """The server's blob store, seen through its API: the :class:`~keel.store.protocols.Blobs`
    protocol beside the local :class:`~keel.store.blobs.BlobStore`, inheriting nothing."""

    def __init__(self, http: Http) -> None:
        self._http = http
        self.root_url = f"{http.base_url}/api/v1/blobs"
        self.root = self.root_url

    def path_of(self, sha: str) -> str:
        if not _SHA.match(sha):
            raise InvalidArgumentError(f"{sha!r} is not a sha256 hex digest")
        return f"{V1}/blobs/{sha}"

    def exists(self, sha: str) -> bool:
        return self._http.head(self.path_of(sha)) is not None

    def size(self, sha: str) -> int:
        headers = self._http.head(self.path_of(sha))
        if headers is None:
            from keel.exceptions import NotFoundError

            raise NotFoundError(f"blob {sha} is not on the server")
        return int(headers.get("content-length", 0))

    def put_file(self, path: str | os.PathLike[str]) -> BlobRef:
        with open(path, "rb") as src:
            return self.put_stream(src)

    def put_bytes(self, data: bytes) -> BlobRef:
        return self.put_stream(io.BytesIO(data))

    def put_stream(self, src: IO[bytes]) -> BlobRef:
        answer = self._http.upload(f"{V1}/blobs", src)
        self._http.remember(answer["sha"], answer["receipt"])
        return BlobRef(answer["sha"], int(answer["size"]))

    def read_bytes(self, sha: str) -> bytes:
        return b"".join(self.iter_chunks(sha))

    def iter_chunks(self, sha: str, chunk_size: int = CHUNK) -> Iterator[bytes]:
        digest = hashlib.sha256()
        with self._http.stream(self.path_of(sha)) as resp:
            for chunk in resp.iter_bytes(chunk_size):
                digest.update(chunk)
                yield chunk
        if digest.hexdigest() != sha:
            raise corrupted(sha, self.path_of(sha))

    def download(self, sha: str, dest: str | os.PathLike[str]) -> Path:
        """Stream to ``dest`` through :meth:`iter_chunks` (verified before it appears)."""
        return download_chunks(self.iter_chunks(sha), dest)

    def verify(self, sha: str) -> None:
        for _ in self.iter_chunks(sha):
            pass

    def iter_all(self) -> Iterator[tuple[str, float]]:
        raise self._server_side("listing every blob")

    def delete(self, sha: str) -> None:
        raise self._server_side("deleting blobs")

    def mtime(self, sha: str) -> float | None:
        raise self._server_side("reading a blob's age (for garbage collection)")

    def clean_tmp(self, older_than_s: float = 3600) -> int:
        raise self._server_side("cleaning partial uploads")

    @staticmethod
    def _server_side(what: str) -> ConfigError:
        return ConfigError(
            f"{what} happens on the server, not through KEEL_SERVER_URL; run `keel gc` "
            "where the server runs"
        )


__all__ = ["RemoteBlobStore"]

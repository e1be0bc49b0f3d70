"""Model version sources: which files a ``source`` URI names, packed into one blob.

Only URIs that point inside this project are accepted, and only keel's own schemes: a
version can never make the server read a path, a host or another project's run.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
import tempfile
import urllib.parse
from collections.abc import Iterator

from keel.exceptions import InvalidArgumentError, NotFoundError
from keel.server.mlflow._artifacts import target
from keel.server.mlflow._context import Ctx
from keel.store import ArtifactInfo, ModelVersion
from keel.store.paths import safe_relpath


def source_files(ctx: Ctx, source: str) -> tuple[list[ArtifactInfo], str | None, str | None]:
    """(files, logged model id, run id) of a version's source.

    A source inside this project (``models:/<id>``, ``runs:/<run>/<path>``, an
    ``mlflow-artifacts:/`` path of a run or logged model here) gives its files, which the
    version keeps. Any other well-formed URI (empty, a remote store, a run keel does not
    know here) is kept as a reference only, as MLflow keeps every source: the server never
    reads it. A run of another project is such a reference too, so nothing tells it apart
    from an unknown id. Local paths and relative references (``..``) are refused.
    """
    if not source:
        return [], None, None
    check_source(source)
    check_uri(source, "model version source")
    store = ctx.st.store
    if source.startswith("models:/"):
        model_id = safe_relpath(source.removeprefix("models:/"), what="model version source")
        model = store.logged_models.get(model_id)
        if ctx.st.project_of_experiment(model.experiment_id) != ctx.project_id:
            raise NotFoundError(f"logged model {model_id!r} does not exist in this project")
        return store.logged_models.list_files(model.id), model.id, model.source_run_id
    if source.startswith("runs:/"):
        rest = safe_relpath(source.removeprefix("runs:/"), what="model version source")
        run_id, _, path = rest.partition("/")
        if ctx.known_run(run_id) is None:
            return [], None, None
        return store.artifacts.list(run_id, path or None), None, run_id
    if source.startswith("mlflow-artifacts:/") and not source.startswith("mlflow-artifacts://"):
        try:
            tgt = target(ctx, source.removeprefix("mlflow-artifacts:/").strip("/"))
        except (NotFoundError, InvalidArgumentError):  # not a run or model here: a reference
            return [], None, None
        return tgt.list(tgt.rest or None), tgt.model_id, tgt.run_id
    return [], None, None


_LOCAL = re.compile(r"^(/|\\|file:|[A-Za-z]:[\\/])")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")


def check_source(source: str) -> None:
    """MLflow's checks of a version source, in its words: no local path (keel's runs keep
    no local folder to be inside of), no relative references, no escapes to hide them."""
    if _LOCAL.match(source) or not _SCHEME.match(source):
        raise InvalidArgumentError(
            f"Invalid model version source: '{source}'. To use a local path as a model version "
            "source, the run_id request parameter has to be specified and the local path has "
            "to be contained within the artifact directory of the run specified by the run_id."
        )
    decoded = source
    while (unquoted := urllib.parse.unquote_plus(decoded)) != decoded:
        decoded = unquoted
    parts = decoded.split("/")
    if any(ord(c) < 32 for c in decoded) or ".." in parts or "\\" in decoded:
        raise InvalidArgumentError(
            f"Invalid model version source: '{source}'. If supplying a source as an http, "
            "https, local file path, ftp, objectstore, or mlflow-artifacts uri, an absolute "
            "path must be provided without relative path references present. Please provide "
            "an absolute path."
        )


def check_uri(uri: str, what: str) -> None:
    """URI fields never carry query, fragment, parameter or escape tricks."""
    bad = sorted({c for c in uri if c in ";#?\\%" or ord(c) < 32})
    if bad:
        raise InvalidArgumentError(
            f"{what} {uri[:200]!r} contains {''.join(bad)!r}; give a plain URI of this project"
        )


class _ChunkReader(io.RawIOBase):
    """A read-only file over a blob's chunks, so tarfile streams it."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = b""

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buf) < size:
            nxt = next(self._chunks, None)
            if nxt is None:
                break
            self._buf += nxt
        cut = len(self._buf) if size < 0 else size
        out, self._buf = self._buf[:cut], self._buf[cut:]
        return out


def pack(ctx: Ctx, files: list[ArtifactInfo]) -> tuple[str, int, str]:
    """Tar ``files`` into one blob, streamed; returns (blob sha, size, manifest sha)."""
    blobs = ctx.st.store.blobs
    manifest = json.dumps([[f.path, f.blob_sha] for f in files]).encode()
    with tempfile.SpooledTemporaryFile(max_size=8 << 20) as spool:
        with tarfile.open(fileobj=spool, mode="w") as tar:
            for f in files:
                info = tarfile.TarInfo(f.path)
                info.size = f.size
                tar.addfile(info, _ChunkReader(blobs.iter_chunks(f.blob_sha)))
        spool.seek(0)
        ref = blobs.put_stream(spool)
    return ref.sha, ref.size, hashlib.sha256(manifest).hexdigest()


def artifact_uri(ctx: Ctx, v: ModelVersion) -> str:
    """Where the mlflow client downloads a version's files from (a source kept only as a
    reference is given back as it is, as MLflow does)."""
    source = str(v.lineage.get("mlflow_source", ""))
    if "mlflow_source" in v.lineage and not v.lineage.get("mlflow_packed", True):
        return source
    copy_of = v.lineage.get("mlflow_copy_of")
    if copy_of:  # a copy reads the files of the version it copies
        return artifact_uri(ctx, ctx.st.store.registry.get_version_by_id(int(copy_of)))
    model_id = v.lineage.get("mlflow_model_id")
    if source.startswith("mlflow-artifacts:/"):
        return source
    if model_id:
        model = ctx.st.store.logged_models.get(str(model_id))
        return f"mlflow-artifacts:/{ctx.exp_str(model.experiment_id)}/models/{model.id}/artifacts"
    if source.startswith("runs:/") and v.run_id:
        info = ctx.st.store.runs.get_info(v.run_id)
        path = source.removeprefix("runs:/").partition("/")[2]
        eid = ctx.exp_str(info.experiment_id)
        return f"mlflow-artifacts:/{eid}/{info.id}/artifacts/{path}".rstrip("/")
    raise NotFoundError(
        f"model {v.name!r} version {v.version} was not registered through the MLflow API; "
        "load it with keel.models.load"
    )


__all__ = ["artifact_uri", "check_source", "check_uri", "pack", "source_files"]

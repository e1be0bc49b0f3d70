"""keel over a real S3-compatible object store: moto's server, reached through s3fs.

The blob-store contract (dedupe, verified reads, partial writes, listing, gc) runs on a
bucket; then two ``keel server`` processes share one bucket and one PostgreSQL database,
the official mlflow client uploads through one and downloads through the other, and
``keel gc`` removes only what nothing references.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from keel.config import Settings
from keel.exceptions import BlobCorruptedError, NotFoundError
from keel.store import BlobStore, collect_garbage, open_store

moto_server = pytest.importorskip("moto.server", reason="needs the dev extra moto[server]")
pytest.importorskip("s3fs", reason="needs the dev extra s3fs")
sys.path.insert(0, str(Path(__file__).parents[1] / "server"))
from server_helpers import free_port, server_process  # type: ignore[import-not-found]  # noqa: E402

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on a loopback port, for this module."""
    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_env(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The usual AWS variables pointing at moto, and a fresh bucket."""
    env = {**CREDENTIALS, "AWS_ENDPOINT_URL": s3_endpoint}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    import boto3

    bucket = f"keel-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=bucket)
    env["KEEL_ARTIFACTS_URI"] = f"s3://{bucket}/team/artifacts"
    return env


@pytest.fixture
def s3_blobs(s3_env: dict[str, str]) -> BlobStore:
    return BlobStore(s3_env["KEEL_ARTIFACTS_URI"])


def test_blob_contract_on_s3(s3_blobs: BlobStore, tmp_path: Path) -> None:
    blobs = s3_blobs
    a = blobs.put_bytes(b"hello")
    assert blobs.put_stream(io.BytesIO(b"hello")) == a
    big = os.urandom(3 << 20)  # several chunks, streamed
    ref = blobs.put_stream(io.BytesIO(big))
    assert (ref.size, blobs.size(ref.sha)) == (len(big), len(big))
    assert blobs.read_bytes(a.sha) == b"hello"
    assert b"".join(blobs.iter_chunks(ref.sha)) == big
    assert blobs.download(ref.sha, tmp_path / "big.bin").read_bytes() == big
    assert blobs.exists(a.sha) and not blobs.exists("0" * 64)
    assert {sha for sha, _ in blobs.iter_all()} == {a.sha, ref.sha}
    assert not blobs.fs.exists(f"{blobs.root}/tmp") or not blobs.fs.ls(f"{blobs.root}/tmp")
    with pytest.raises(NotFoundError, match="0" * 64):
        blobs.read_bytes("0" * 64)
    blobs.fs.pipe(blobs.path_of(a.sha), b"jello")  # damaged in the bucket
    with pytest.raises(BlobCorruptedError, match=a.sha):
        blobs.read_bytes(a.sha)
    blobs.delete(ref.sha)
    assert not blobs.exists(ref.sha)


def test_partial_writes_and_gc_on_s3(s3_blobs: BlobStore, settings: Settings) -> None:
    blobs = s3_blobs
    orphan = blobs.put_bytes(b"orphan")
    blobs.fs.pipe(f"{blobs.root}/tmp/otherhost.1.abc.part", b"half")
    blobs.fs.pipe(f"{blobs.root}/tmp/{blobs._tmp_name().rsplit('/', 1)[-1]}", b"mine")
    store = open_store(settings)  # metadata anywhere; the bytes are in the bucket
    try:
        first = collect_garbage(store.db, blobs, grace_s=3600)
        assert first.deleted == [] and first.partial_removed == 0  # all young, all alive
        before = blobs.mtime(orphan.sha)
        time.sleep(1.1)  # S3 keeps whole seconds
        blobs.put_bytes(b"orphan")  # stored again: an object store cannot touch, so rewrite
        after = blobs.mtime(orphan.sha)
        assert before is not None and after is not None and after > before
        report = collect_garbage(store.db, blobs, grace_s=0)
        assert report.deleted == [orphan.sha] and report.partial_removed == 2
    finally:
        store.close()


def _keel(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
    full.update(env)
    return subprocess.run(
        [sys.executable, "-m", "keel.cli", *args],
        env=full,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_two_servers_share_one_bucket_through_the_mlflow_client(
    s3_env: dict[str, str], pg_database: str, tmp_path: Path
) -> None:
    mlflow = pytest.importorskip("mlflow")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    env = {**s3_env, "KEEL_DB_URI": pg_database}
    payload = tmp_path / "weights.bin"
    payload.write_bytes(os.urandom(2 << 20))
    with (
        server_process(tmp_path / "a", env=env) as url_a,
        server_process(tmp_path / "b", env=env) as url_b,
    ):
        a, b = mlflow.MlflowClient(url_a), mlflow.MlflowClient(url_b)
        exp = a.create_experiment("shared")
        run = a.create_run(exp).info.run_id
        a.log_artifact(run, str(payload), artifact_path="model")
        a.log_text(run, "hello", "notes/n.txt")
        got = b.download_artifacts(run, "model/weights.bin", str(tmp_path / "dl"))
        assert Path(got).read_bytes() == payload.read_bytes()
        assert [f.path for f in b.list_artifacts(run)] == ["model", "notes"]
        blobs = BlobStore(s3_env["KEEL_ARTIFACTS_URI"])
        assert blobs.exists(hashlib.sha256(payload.read_bytes()).hexdigest())  # in the bucket
        orphan = blobs.put_bytes(b"nobody refers to me")
        done = _keel({**env, "KEEL_HOME": str(tmp_path / "gc")}, "gc", "--grace-hours", "0")
        assert done.returncode == 0, done.stderr
        assert "Deleted 1 " in done.stdout
        assert not blobs.exists(orphan.sha)
        again = b.download_artifacts(run, "model/weights.bin", str(tmp_path / "dl2"))
        assert Path(again).read_bytes() == payload.read_bytes()  # what is referenced stays

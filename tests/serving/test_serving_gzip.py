"""Compressed request bodies (``Content-Encoding: gzip``/``deflate``) with the size limit
applied after decompression: a small zip bomb is a 413 (issue 21)."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Callable, Iterator

import httpx
import pandas as pd
import pytest
from serving_helpers import spec, split_body

from keel.serving import InMemorySource, ServerHandle

LIMIT = 16 * 2**20  # the default server.max_body_mb


@pytest.fixture
def server(serve: Callable[..., ServerHandle], source: InMemorySource) -> Iterator[httpx.Client]:
    handle = serve(spec({"model": "churn@champion"}), source)
    with httpx.Client(base_url=handle.url, timeout=30) as client:
        yield client


def _v2(frame: pd.DataFrame) -> bytes:
    rows = frame.head(4)
    tensor = {"name": "x", "shape": list(rows.shape), "datatype": "FP64"}
    return json.dumps({"inputs": [{**tensor, "data": rows.to_numpy().ravel().tolist()}]}).encode()


def _post(client: httpx.Client, path: str, body: bytes, encoding: str) -> httpx.Response:
    headers = {"Content-Type": "application/json", "Content-Encoding": encoding}
    return client.post(path, content=body, headers=headers)


def test_gzip_and_deflate_bodies_answer_as_plain_ones(
    server: httpx.Client, frame: pd.DataFrame
) -> None:
    plain = _v2(frame)
    expected = server.post("/v2/models/churn/infer", content=plain).json()["outputs"]
    for encoding, packed in (("gzip", gzip.compress(plain)), ("deflate", zlib.compress(plain))):
        answer = _post(server, "/v2/models/churn/infer", packed, encoding)
        assert answer.status_code == 200, answer.text
        assert answer.json()["outputs"] == expected
    split = json.dumps(split_body(frame.head(2))).encode()
    answer = _post(server, "/invocations", gzip.compress(split), "gzip")
    assert answer.status_code == 200 and len(answer.json()["predictions"]) == 2
    # two gzip members one after the other are one body (as gzip -c a b makes)
    half = len(plain) // 2
    members = gzip.compress(plain[:half]) + gzip.compress(plain[half:])
    assert _post(server, "/v2/models/churn/infer", members, "gzip").status_code == 200


def test_a_zip_bomb_is_413_and_the_server_carries_on(
    server: httpx.Client, frame: pd.DataFrame
) -> None:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b" " * 2**20
    bomb = b"".join(packer.compress(block) for _ in range(LIMIT // 2**20 + 8)) + packer.flush()
    assert len(bomb) < 100_000  # ~40 KB on the wire, 24 MiB once inflated
    answer = _post(server, "/v2/models/churn/infer", bomb, "gzip")
    assert answer.status_code == 413
    assert "once decompressed" in answer.json()["error"]
    assert server.post("/v2/models/churn/infer", content=_v2(frame)).status_code == 200


@pytest.mark.parametrize(
    ("body", "encoding", "status", "says"),
    [
        (b"not gzip at all", "gzip", 400, "damaged"),
        (gzip.compress(b'{"inputs": []}', mtime=0)[:-12], "gzip", 400, "truncated"),
        (b"{}", "br", 415, "content encoding 'br' is not accepted"),
    ],
    ids=["not-gzip", "truncated-gzip", "brotli"],  # stable ids: xdist workers must agree
)
def test_bad_compressed_bodies_are_refused_by_name(
    server: httpx.Client, body: bytes, encoding: str, status: int, says: str
) -> None:
    answer = _post(server, "/v2/models/churn/infer", body, encoding)
    assert answer.status_code == status
    assert says in answer.json()["error"]

"""Resource control: concurrency and queue limits (429), timeouts (504), batching, GPU."""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx
import numpy as np
import pandas as pd
import pytest
from serving_helpers import Constant, spec, split_body, wait_for

from keel.config import Settings
from keel.exceptions import InvalidArgumentError, ResourceUnavailableError
from keel.serving import InMemorySource, ServerHandle, build_app, load_spec


def test_full_queue_answers_429_with_retry_after(
    serve: Callable[..., ServerHandle], frame: pd.DataFrame
) -> None:
    src = InMemorySource()
    src.add("churn", 1, Constant(1.0, delay_s=0.3), schema=frame.head())
    handle = serve(
        spec(
            {"model": "churn/1"},
            resources={"concurrency": 1, "queue": 1},
            batching={"max_batch_size": 1},
        ),
        src,
    )
    codes: list[httpx.Response] = []

    def call() -> None:
        with httpx.Client(base_url=handle.url, timeout=10) as c:
            codes.append(c.post("/invocations", json=split_body(frame.head(1))))

    threads = [threading.Thread(target=call) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r.status_code for r in codes)
    assert statuses == [200, 200, 429, 429, 429], statuses
    refused = next(r for r in codes if r.status_code == 429)
    assert int(refused.headers["retry-after"]) >= 1
    assert "1 requests in flight, 1 queued" in refused.json()["message"]
    with httpx.Client(base_url=handle.url) as c:  # and it keeps serving
        assert c.post("/invocations", json=split_body(frame.head(1))).status_code == 200
        assert 'reason="overloaded"' in c.get("/metrics").text


def test_slow_model_times_out_with_504(
    serve: Callable[..., ServerHandle], frame: pd.DataFrame
) -> None:
    src = InMemorySource()
    src.add("churn", 1, Constant(1.0, delay_s=0.5), schema=frame.head())
    handle = serve(spec({"model": "churn/1"}, resources={"timeout_ms": 100}), src)
    with httpx.Client(base_url=handle.url) as c:
        r = c.post("/invocations", json=split_body(frame.head(1)))
        assert r.status_code == 504
        assert "did not answer within 100 ms" in r.json()["message"]


def test_concurrent_requests_share_predict_calls(
    serve: Callable[..., ServerHandle], frame: pd.DataFrame
) -> None:
    model = Constant(1.0, delay_s=0.02)
    src = InMemorySource()
    src.add("churn", 1, model, schema=frame.head())
    handle = serve(spec({"model": "churn/1"}, batching={"max_batch_size": 16}), src)
    results: list[int] = []

    def call() -> None:
        with httpx.Client(base_url=handle.url) as c:
            for _ in range(5):
                results.append(c.post("/invocations", json=split_body(frame.head(1))).status_code)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 40
    warm = model.calls[1:]  # the first call is the warm-up row
    assert sum(warm) == 40
    assert len(warm) < 30 and max(warm) > 1, warm  # requests were batched together


def test_gpu_request_is_refused_without_a_gpu(settings: Settings, source: InMemorySource) -> None:
    gpu = spec({"model": "churn@champion"}, resources={"gpu": 1})
    with pytest.raises(
        ResourceUnavailableError, match=r"asks for 1 GPU\(s\) but this machine has 0"
    ):
        build_app(load_spec(gpu), settings, source=source)


def test_memory_limit_is_enforced_at_load(
    serve: Callable[..., ServerHandle], frame: pd.DataFrame, settings: Settings
) -> None:
    class Big:
        def __init__(self) -> None:
            self.weights = np.ones(8 * 2**20)  # 64 MiB, every page written

        def predict(self, df: pd.DataFrame) -> list[float]:
            return [0.0] * len(df)

    class LazySource(InMemorySource):
        """Builds the model when it is loaded (as a registry load does)."""

        kept: list[Big] = []

        def load(self, name: str, version: str):  # type: ignore[no-untyped-def]
            self.kept.append(Big())
            self.add(name, version, self.kept[-1], schema=frame.head())
            return super().load(name, version)

    src = LazySource()
    src.add("big", 1, Constant(0.0), schema=frame.head())
    limited = {
        "name": "test",
        "endpoints": [
            {"name": "big", "versions": [{"model": "big/1"}], "resources": {"memory": "16Mi"}}
        ],
    }
    with pytest.raises(ResourceUnavailableError, match="over the memory limit 16Mi"):
        serve(limited, src)
    roomy = {
        "name": "test",
        "endpoints": [
            {"name": "big", "versions": [{"model": "big/1"}], "resources": {"memory": "1Gi"}}
        ],
    }
    handle = serve(roomy, src)
    with httpx.Client(base_url=handle.url) as c:
        text = c.get("/metrics").text
        assert (
            'keel_model_memory_limit_bytes{endpoint="big",model="big",version="1"} 1.073741824e+09'
            in text
        )
        wait_for(lambda: c.get("/v2/health/ready").status_code == 200)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"name": "Bad_Name", "endpoints": []}, "lower-case letters"),
        ({"name": "x", "endpoints": [{"name": "a", "versions": [{"model": "a/0"}]}]}, "version"),
        (
            {"name": "x", "endpoints": [{"name": "a", "versions": [{"model": "a", "wieght": 1}]}]},
            "wieght: unknown key",
        ),
        (
            {
                "name": "x",
                "endpoints": [{"name": "a", "versions": [{"model": "a", "shadow": True}]}],
            },
            "only shadow versions",
        ),
        (
            {
                "name": "x",
                "endpoints": [
                    {"name": "a", "versions": [{"model": "a"}], "resources": {"memory": "lots"}}
                ],
            },
            "not a size",
        ),
    ],
)
def test_bad_specs_name_the_key(bad: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        load_spec(bad)

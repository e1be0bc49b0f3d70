"""Traffic split, sticky routing, shadows, alias moves and new revisions, while serving."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pandas as pd
from serving_helpers import Constant, parquet_rows, spec, split_body, wait_for

from keel.config import Settings
from keel.serving import InMemorySource, ServerHandle


def test_weighted_split_and_sticky_key(
    serve: Callable[..., ServerHandle], source: InMemorySource, frame: pd.DataFrame
) -> None:
    handle = serve(
        spec(
            {"model": "churn/2", "weight": 75}, {"model": "churn/3", "weight": 25}, route_key="f0"
        ),
        source,
    )
    body = split_body(frame.head(1))
    with httpx.Client(base_url=handle.url) as c:
        seen = Counter(
            c.post("/invocations", json=body, headers={"x-keel-route-key": f"user-{i}"}).json()[
                "predictions"
            ][0]
            for i in range(400)
        )
        assert set(seen) == {2.0, 3.0}
        assert 0.65 < seen[2.0] / 400 < 0.85, seen
        sticky = {
            c.post("/invocations", json=body, headers={"x-keel-route-key": "user-42"}).json()[
                "predictions"
            ][0]
            for _ in range(20)
        }
        assert len(sticky) == 1
        by_column = {c.post("/invocations", json=body).json()["predictions"][0] for _ in range(20)}
        assert len(by_column) == 1  # route_key f0 has the same value in every request
        meta = c.get("/v2/models/churn").json()["parameters"]
        assert meta["traffic"] == {"2": 0.75, "3": 0.25}


def test_shadow_answers_are_logged_never_returned(
    serve: Callable[..., ServerHandle],
    source: InMemorySource,
    frame: pd.DataFrame,
    settings: Settings,
) -> None:
    handle = serve(spec({"model": "churn/2"}, {"model": "churn/3", "shadow": True}), source)
    with httpx.Client(base_url=handle.url) as c:
        answers = {
            c.post("/invocations", json=split_body(frame.head(2))).json()["predictions"][0]
            for _ in range(10)
        }
        assert answers == {2.0}
        wait_for(lambda: 'outcome="ok",version="3"} 10.0' in c.get("/metrics").text)
        direct = c.post(
            "/v2/models/churn/versions/3/infer",
            json={
                "inputs": [{"name": "x", "shape": [1, 20], "datatype": "FP64", "data": [0.0] * 20}]
            },
        )
        assert direct.json()["outputs"][0]["data"] == [3.0]  # a shadow is still addressable
    handle.stop()
    from keel.monitoring import run_sql
    from keel.store import open_store

    store = open_store(settings)
    table = run_sql(
        store,
        store.projects.get_or_create("default").id,
        "SELECT version, shadow, count(*) AS n, "
        "min(outputs.predictions) AS p FROM predictions GROUP BY ALL ORDER BY version, shadow DESC",
    )
    assert table.to_pylist() == [
        {"version": "2", "shadow": False, "n": 20, "p": 2.0},
        {"version": "3", "shadow": True, "n": 20, "p": 3.0},
        {"version": "3", "shadow": False, "n": 1, "p": 3.0},
    ]
    store.close()


def test_alias_move_is_picked_up_without_dropping_requests(
    serve: Callable[..., ServerHandle], source: InMemorySource, frame: pd.DataFrame
) -> None:
    slow = Constant(4.0, delay_s=0.01)
    source.add("churn", 4, slow, schema=frame.head())
    handle = serve(spec({"model": "churn@challenger"}, poll_s=0.1), source)
    body = split_body(frame.head(1))
    answers: list[tuple[int, float]] = []
    stop = threading.Event()

    def hammer() -> None:
        with httpx.Client(base_url=handle.url) as c:
            while not stop.is_set():
                r = c.post("/invocations", json=body)
                answers.append((r.status_code, r.json()["predictions"][0] if r.is_success else 0))

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    wait_for(lambda: len(answers) > 20)
    source.set_alias("churn", "challenger", 4)
    wait_for(lambda: any(v == 4.0 for _, v in answers[-5:]), timeout_s=10)
    n = len(answers)
    wait_for(lambda: len(answers) > n + 20)
    stop.set()
    for t in threads:
        t.join()
    assert {code for code, _ in answers} == {200}, Counter(code for code, _ in answers)
    values = [v for _, v in answers]
    switch = values.index(4.0)
    assert set(values[:switch]) == {2.0}
    assert set(values[switch + 8 :]) == {4.0}  # a few answered by the old slot while it drained
    with httpx.Client(base_url=handle.url) as c:
        models = c.get("/models").json()["models"]
        assert [(m["version"], m["ref"]) for m in models] == [("4", "churn@challenger")]


def test_new_revision_applied_while_serving(
    settings: Settings, registered: str, frame: pd.DataFrame, tmp_path: Path
) -> None:
    from keel.serving import build_app, start_in_thread
    from keel.serving._deploy import apply_spec, get_spec
    from keel.store import open_store

    store = open_store(settings)
    first = spec({"model": "churn@champion"}, poll_s=0.1)
    apply_spec(store, "default", first)
    app = build_app(get_spec(store, "default", "test"), settings, follow_store=True)
    handle = start_in_thread(app)
    try:
        with httpx.Client(base_url=handle.url) as c:
            assert c.post("/invocations", json=split_body(frame.head(1))).status_code == 200
            second = spec({"model": "churn@champion"}, poll_s=0.1, resources={"timeout_ms": 1234})
            second["endpoints"].append({"name": "churn-b", "versions": [{"model": "churn/1"}]})
            dep, changed = apply_spec(store, "default", second, note="add churn-b")
            assert changed and dep.revision == 2
            wait_for(lambda: c.get("/v2/models/churn-b/ready").status_code == 200)
            r = c.post("/invocations?model=churn-b", json=split_body(frame.head(2)))
            assert r.status_code == 200 and len(r.json()["predictions"]) == 2
    finally:
        handle.stop()
        store.close()
    assert parquet_rows(settings.home / "artifacts" / "predictions") == 3


def test_declared_transforms_run_around_the_model(
    serve: Callable[..., ServerHandle], source: InMemorySource, frame: pd.DataFrame
) -> None:
    handle = serve(
        spec(
            {"model": "churn@champion"},
            transforms={"pre": ["serving_helpers:add_ratio"], "post": ["serving_helpers:to_label"]},
        ),
        source,
    )
    raw = frame.head(2).drop(columns=["f19"]).assign(raw_a=[1.0, 3.0], raw_b=[2.0, 4.0])
    with httpx.Client(base_url=handle.url) as c:
        r = c.post("/models/churn/predict", json=raw.to_dict("records"))
        assert r.status_code == 200, r.text
        preds = r.json()["predictions"]
        assert [p["f19"] for p in preds] == [0.5, 0.75]
        assert {p["label"] for p in preds} <= {"yes", "no"}
        missing = c.post(
            "/models/churn/predict", json=raw.drop(columns=["raw_b"]).to_dict("records")
        )
        assert missing.status_code == 400 and "'raw_b'" in missing.json()["error"]
        meta = c.get("/v2/models/churn").json()
        assert "raw_a" in [i["name"] for i in meta["inputs"]]


def test_transform_path_that_does_not_import_is_refused(
    settings: Settings, source: InMemorySource
) -> None:
    import pytest

    from keel.exceptions import InvalidArgumentError
    from keel.serving import build_app, load_spec, start_in_thread

    bad = spec({"model": "churn@champion"}, transforms={"pre": ["no_such_module:prepare"]})
    with pytest.raises(InvalidArgumentError, match="module 'no_such_module' does not import"):
        start_in_thread(build_app(load_spec(bad), settings, source=source), timeout_s=20)
    with pytest.raises(InvalidArgumentError, match="not an import path"):
        from keel.serving._transforms import resolve_callable

        resolve_callable("os.system; rm -rf /")

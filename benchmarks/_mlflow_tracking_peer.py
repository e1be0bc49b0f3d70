"""MLflow side of ``bench_tracking.py``: run by the mlflow venv's interpreter, prints JSON.

Usage: ``<venv>/bin/python _mlflow_tracking_peer.py '<json config>'``. The config names a
temporary folder and the sizes; the result is one JSON object on the last stdout line.

The data generators at the top (no mlflow import) are shared with ``bench_tracking.py`` so
both systems store exactly the same points and runs.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from typing import Any

BASE_TS = 1_700_000_000_000
BATCH_KEYS = ("loss", "val_loss", "acc", "val_acc", "lr", "auc", "f1", "precision", "recall", "mse")
SEARCH_FILTER = "metrics.auc > 0.5"
SEARCH_ORDER = "metrics.auc DESC"


def single_points(n: int) -> list[tuple[str, float, int, int]]:
    """(key, value, step, timestamp) for the one-call-at-a-time test: one key, n steps."""
    return [("loss", 1.0 / (i + 1), i, BASE_TS + i) for i in range(n)]


def batch_points(n: int) -> list[tuple[str, float, int, int]]:
    """``n`` distinct points over 10 keys (step = i // 10), deterministic values."""
    rng = random.Random(7)
    k = len(BATCH_KEYS)
    return [(BATCH_KEYS[i % k], rng.random(), i // k, BASE_TS + i // k) for i in range(n)]


def search_runs_data(
    n: int,
) -> list[tuple[str, dict[str, str], dict[str, float], dict[str, str]]]:
    """(name, params, metrics, tags) of ``n`` runs: 5 params, 5 metrics, 3 tags each."""
    rng = random.Random(42)
    out = []
    for i in range(n):
        params = {
            "model": rng.choice(("rf", "gbm", "lr", "svm")),
            "max_depth": str(rng.randint(2, 12)),
            "n_estimators": str(rng.choice((50, 100, 200, 400))),
            "lr": f"{rng.uniform(0.001, 0.3):.4f}",
            "seed": str(i),
        }
        metrics = {
            "auc": rng.random(),
            "acc": rng.random(),
            "loss": rng.uniform(0.0, 2.0),
            "f1": rng.random(),
            "rmse": rng.uniform(0.0, 10.0),
        }
        tags = {
            "team": rng.choice(("fraud", "churn", "ads")),
            "stage": rng.choice(("dev", "staging", "prod")),
            "owner": f"user{i % 17}",
        }
        out.append((f"run-{i:05d}", params, metrics, tags))
    return out


# -- MLflow measurements (mlflow imported lazily: this file is also imported by keel's side) --


def _measure_log_metric(client: Any, exp_id: str, n: int, warmup: int) -> dict[str, Any]:
    run_id = client.create_run(exp_id, run_name="log-metric").info.run_id
    for i in range(warmup):
        client.log_metric(run_id, "warmup", float(i), step=i, synchronous=True)
    per_call = []
    start = time.perf_counter()
    for key, value, step, ts in single_points(n):
        t0 = time.perf_counter()
        client.log_metric(run_id, key, value, timestamp=ts, step=step, synchronous=True)
        per_call.append(time.perf_counter() - t0)
    total = time.perf_counter() - start
    stored = len(client.get_metric_history(run_id, "loss"))
    return {"total_s": total, "per_call_s": _percentiles(per_call), "stored": stored}


def _measure_log_batch(client: Any, exp_id: str, n: int, chunk: int) -> dict[str, Any]:
    from mlflow.entities import Metric

    run_id = client.create_run(exp_id, run_name="log-batch").info.run_id
    metrics = [Metric(k, v, ts, s) for k, v, s, ts in batch_points(n)]
    start = time.perf_counter()
    for i in range(0, n, chunk):
        client.log_batch(run_id, metrics=metrics[i : i + chunk], synchronous=True)
    total = time.perf_counter() - start
    stored = len(client.get_metric_history(run_id, BATCH_KEYS[0]))
    return {"total_s": total, "calls": -(-n // chunk), "stored_first_key": stored}


def _create_search_runs(client: Any, exp_id: str, n: int, api_runs: int) -> dict[str, Any]:
    """The first ``api_runs`` runs through the client API (timed), the rest cloned in SQL."""
    from mlflow.entities import Metric, Param

    data = search_runs_data(n)
    api_runs = max(1, min(api_runs, n))
    ids = []
    start = time.perf_counter()
    for name, params, metrics, tags in data[:api_runs]:
        run = client.create_run(exp_id, run_name=name, tags=tags, start_time=BASE_TS)
        client.log_batch(
            run.info.run_id,
            metrics=[Metric(k, v, BASE_TS, 0) for k, v in metrics.items()],
            params=[Param(k, v) for k, v in params.items()],
            synchronous=True,
        )
        ids.append(run.info.run_id)
    api_s = time.perf_counter() - start
    start = time.perf_counter()
    _clone_runs(client, ids[0], data[api_runs:])
    bulk_s = time.perf_counter() - start
    return {
        "api_runs": api_runs,
        "api_s": api_s,
        "api_ms_per_run": api_s / api_runs * 1000,
        "bulk_runs": n - api_runs,
        "bulk_s": bulk_s,
    }


def _clone_runs(client: Any, template_id: str, data: list[Any]) -> None:
    """Insert runs shaped exactly like ``template_id`` (same columns and system tags)."""
    import uuid

    from mlflow.store.tracking.dbmodels.models import (
        SqlLatestMetric,
        SqlMetric,
        SqlParam,
        SqlRun,
        SqlTag,
    )
    from sqlalchemy import insert, select

    if not data:
        return
    runs, tags_t = SqlRun.__table__, SqlTag.__table__
    engine = client._tracking_client.store.engine
    with engine.begin() as conn:
        tmpl = dict(
            conn.execute(select(runs).where(runs.c.run_uuid == template_id)).mappings().one()
        )
        tmpl_tags = dict(
            conn.execute(
                select(tags_t.c.key, tags_t.c.value).where(tags_t.c.run_uuid == template_id)
            ).all()
        )
        rows: dict[str, list[dict[str, Any]]] = {"runs": [], "params": [], "tags": [], "m": []}
        for name, params, metrics, tags in data:
            rid = uuid.uuid4().hex
            rows["runs"].append(
                {
                    **tmpl,
                    "run_uuid": rid,
                    "name": name,
                    "artifact_uri": tmpl["artifact_uri"].replace(template_id, rid),
                }
            )
            all_tags = {**tmpl_tags, **tags, "mlflow.runName": name}
            rows["tags"] += [{"run_uuid": rid, "key": k, "value": v} for k, v in all_tags.items()]
            rows["params"] += [{"run_uuid": rid, "key": k, "value": v} for k, v in params.items()]
            rows["m"] += [
                {
                    "run_uuid": rid,
                    "key": k,
                    "value": v,
                    "timestamp": BASE_TS,
                    "step": 0,
                    "is_nan": False,
                }
                for k, v in metrics.items()
            ]
        conn.execute(insert(runs), rows["runs"])
        conn.execute(insert(tags_t), rows["tags"])
        conn.execute(insert(SqlParam.__table__), rows["params"])
        conn.execute(insert(SqlMetric.__table__), rows["m"])
        conn.execute(insert(SqlLatestMetric.__table__), rows["m"])


def _measure_search(client: Any, exp_id: str, repeats: int) -> dict[str, Any]:
    def once() -> Any:
        return client.search_runs(
            [exp_id], filter_string=SEARCH_FILTER, order_by=[SEARCH_ORDER], max_results=1000
        )

    once()  # warm-up: first query compiles statements and fills the page cache
    times = []
    page = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        page = once()
        times.append(time.perf_counter() - t0)
    assert page is not None
    return {
        "median_s": statistics.median(times),
        "all_s": times,
        "returned": len(page),
        "first_names": [r.info.run_name for r in page[:10]],
        "last_auc": page[-1].data.metrics["auc"] if len(page) else None,
    }


def _percentiles(xs: list[float]) -> dict[str, float]:
    s = sorted(xs)
    return {
        "p50": s[len(s) // 2],
        "p99": s[min(len(s) - 1, int(len(s) * 0.99))],
        "max": s[-1],
    }


def _experiment(client: Any, name: str, folder: str) -> str:
    found = client.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    return str(client.create_experiment(name, artifact_location=f"{folder}/mlartifacts"))


def main(cfg: dict[str, Any]) -> dict[str, Any]:
    """Run the measurements named in ``cfg["phases"]`` against ``<tmp>/mlflow.db``."""
    t0 = time.perf_counter()
    import mlflow
    from mlflow import MlflowClient

    import_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    client = MlflowClient(tracking_uri=f"sqlite:///{cfg['tmp']}/mlflow.db")
    exp_id = _experiment(client, "bench", cfg["tmp"])
    setup_s = time.perf_counter() - t0
    out: dict[str, Any] = {"version": mlflow.__version__, "import_s": import_s, "setup_s": setup_s}
    phases = cfg["phases"]
    if "log_metric" in phases:
        out["log_metric"] = _measure_log_metric(client, exp_id, cfg["n_metric"], cfg["warmup"])
    if "log_batch" in phases:
        out["log_batch"] = _measure_log_batch(client, exp_id, cfg["n_points"], cfg["chunk"])
    if "search" in phases:
        search_exp = _experiment(client, "search", cfg["tmp"])
        out["create"] = _create_search_runs(client, search_exp, cfg["n_runs"], cfg["api_runs"])
        out["search"] = _measure_search(client, search_exp, cfg["repeats"])
    return out


if __name__ == "__main__":
    result = main(json.loads(sys.argv[1]))
    sys.stdout.write("\n" + json.dumps(result) + "\n")

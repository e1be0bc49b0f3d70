"""Metrics, cohort gaps, CBPE, resource budgets and the retraining trigger, in isolation."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest

from keel.monitoring import (
    MonitoringClient,
    ResourceBudget,
    alert_probe,
    budget_from_spec,
    classification_metrics,
    cohort_report,
    estimate_classification,
    regression_metrics,
)
from keel.monitoring._resources import ResourceUsage, check_budget, parse_prometheus, process_usage
from keel.monitoring._trigger import parse_alert_ref
from keel.store.alerts import NewAlert


def test_classification_metrics_match_scikit_learn() -> None:
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

    rng = np.random.default_rng(0)
    t, p = rng.integers(0, 2, 500), rng.integers(0, 2, 500)
    ours = classification_metrics([str(x) for x in t], [str(x) for x in p], "1")
    assert ours["accuracy"] == pytest.approx(accuracy_score(t, p))
    assert ours["precision"] == pytest.approx(precision_score(t, p))
    assert ours["recall"] == pytest.approx(recall_score(t, p))
    assert ours["f1"] == pytest.approx(f1_score(t, p))
    t3, p3 = rng.integers(0, 3, 500), rng.integers(0, 3, 500)
    multi = classification_metrics([str(x) for x in t3], [str(x) for x in p3], None)
    assert multi["f1"] == pytest.approx(f1_score(t3, p3, average="macro"))
    assert classification_metrics([None], ["1"])["accuracy"] is None  # no labels: no score


def test_regression_metrics_and_degenerate_inputs() -> None:
    t = np.array([1.0, 2.0, 3.0, np.nan])
    out = regression_metrics(t, np.array([1.5, 2.0, 2.0, 9.0]))
    assert out["mae"] == pytest.approx(0.5) and out["rmse"] == pytest.approx(np.sqrt(1.25 / 3))
    assert regression_metrics(np.array([2.0, 2.0]), np.array([2.0, 2.0]))["r2"] is None  # not NaN


def test_cohort_with_an_accuracy_drop_is_flagged_and_gaps_measured() -> None:
    rng = np.random.default_rng(1)
    n = 4000
    group = rng.choice(["a", "b", "c"], n)
    truth = rng.integers(0, 2, n)
    pred = np.where(rng.random(n) < 0.9, truth, 1 - truth)
    bad = (group == "c") & (rng.random(n) < 0.35)
    pred[bad] = 1 - truth[bad]
    age = rng.normal(40, 10, n)
    report = cohort_report(
        [str(x) for x in truth],
        [str(x) for x in pred],
        {"group": group, "age": age},
        sets=[["group"], ["group", "age"]],
    )
    flagged = [c.name for c in report.flagged if c.columns == ("group",)]
    assert flagged == ["group=c"]
    gap = next(g for g in report.gaps if g.columns == ("group",))
    by = {c.values[0]: c for c in report.cohorts if c.columns == ("group",)}
    tprs = [by[k].tpr for k in "abc"]
    assert gap.equalized_odds_difference == pytest.approx(
        max(max(tprs) - min(tprs), max(by[k].fpr for k in "abc") - min(by[k].fpr for k in "abc"))  # type: ignore[type-var]
    )
    assert any(c.values[1].startswith("[") for c in report.cohorts if c.columns == ("group", "age"))


def test_small_cohorts_are_not_flagged_on_noise() -> None:
    rng = np.random.default_rng(2)
    truth = rng.integers(0, 2, 1000)
    pred = truth.copy()
    group = np.array(["big"] * 990 + ["tiny"] * 10)
    pred[-10:-5] = 1 - truth[-10:-5]  # 50% wrong, but only 10 rows
    report = cohort_report([str(x) for x in truth], [str(x) for x in pred], {"g": group})
    assert report.flagged == []


def test_cbpe_on_calibrated_scores_tracks_realized_accuracy() -> None:
    rng = np.random.default_rng(3)
    for a, b in [(2, 2), (5, 1), (0.5, 0.5)]:
        p = rng.beta(a, b, 20_000)
        y = rng.random(len(p)) < p
        pred = p > 0.5
        est = estimate_classification(pred, p)
        real = classification_metrics([str(int(v)) for v in y], [str(int(v)) for v in pred], "1")
        assert est["accuracy"] == pytest.approx(real["accuracy"], abs=4 * (est["accuracy_se"] or 0))
        assert est["f1"] == pytest.approx(real["f1"], abs=0.02)


def test_budget_from_spec_and_checks() -> None:
    spec = {
        "endpoints": [
            {
                "name": "a",
                "resources": {"memory": "512Mi", "cpu": 1, "timeout_ms": 800, "workers": 2},
            },
            {"name": "b", "resources": {"memory": "1Gi", "timeout_ms": 2000}},
        ]
    }
    budget = budget_from_spec(spec, latency_p95_ms=100.0)
    assert budget.memory_bytes == 2 * 512 * 2**20 + 2**30 and budget.cpu == 2.0
    assert (budget.latency_p99_ms, budget.latency_p95_ms) == (800.0, 100.0)
    usage = ResourceUsage(10, {"p95": 150.0, "p99": 200.0}, memory_bytes=3e9, cpu=0.5)
    names = {f.name for f in check_budget(usage, budget)}
    assert names == {"latency_p95_ms", "memory_bytes"}
    assert ResourceBudget.from_dict({"memory_bytes": "2Gi"}).memory_bytes == 2 * 2**30


@pytest.fixture
def metrics_server() -> Iterator[str]:
    """A real Prometheus endpoint (prometheus_client's process collector) on localhost."""
    from prometheus_client import CollectorRegistry, Gauge, ProcessCollector, generate_latest

    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    Gauge("keel_model_memory_bytes", "m", ["model"], registry=registry).labels("churn").set(5e6)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = generate_latest(registry)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/metrics"
    server.shutdown()
    server.server_close()


def test_memory_and_cpu_from_a_real_metrics_endpoint(metrics_server: str) -> None:
    import psutil

    usage = process_usage(metrics_server, interval_s=0.3)
    rss = psutil.Process().memory_info().rss
    assert usage["memory_bytes"] == pytest.approx(rss, rel=0.3)
    assert usage["model_memory_bytes"] == 5e6
    assert usage["cpu"] is not None and 0 <= usage["cpu"] < 4
    assert parse_prometheus('x{a="1"} 2\nx{a="2"} 3\n# c\ny NaN\n') == {"x": 5.0}


def test_alert_trigger_probe_for_the_scheduler(mon: MonitoringClient) -> None:
    assert parse_alert_ref("churn/drift") == ("churn", "drift")
    assert parse_alert_ref("churn-drift") == ("churn", "drift")
    assert parse_alert_ref("my-model-prediction-drift") == ("my-model", "prediction_drift")
    assert parse_alert_ref("churn") == ("churn", None)
    assert alert_probe(mon.store, mon.project_id, "churn/drift") is None
    first, _ = mon.store.alerts.record(
        mon.project_id, NewAlert("drift", "warning", "k1", "t", deployment="churn")
    )
    token = alert_probe(mon.store, mon.project_id, "churn-drift")
    assert token == str(first.id)
    mon.store.alerts.record(
        mon.project_id, NewAlert("drift", "warning", "k1", "t", deployment="churn")
    )
    assert alert_probe(mon.store, mon.project_id, "churn/drift") == token  # a repeat: no new run
    mon.store.alerts.record(
        mon.project_id, NewAlert("resource", "warning", "k2", "t", deployment="churn")
    )
    assert alert_probe(mon.store, mon.project_id, "churn/drift") == token
    assert alert_probe(mon.store, mon.project_id, "churn") != token


def test_the_scheduler_finds_the_probe() -> None:
    pytest.importorskip("croniter")
    from keel.pipelines._schedule import probe_for

    assert probe_for("alert") is alert_probe

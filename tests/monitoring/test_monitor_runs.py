"""Monitor runs over windows of a real prediction log: alerts raised, deduplicated, resolved."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from monitoring_helpers import HOUR, NOW, Traffic

from keel.exceptions import ConflictError, InvalidArgumentError
from keel.monitoring import MonitoringClient, Window


def _configure(mon: MonitoringClient, **extra: object) -> None:
    mon.configure(
        "churn",
        reference="model:churn/1",
        window="1h",
        performance={"prediction": "predictions", "score": "proba", "floor": 0.6, "baseline": 0.83},
        cohorts={"columns": [["city"]], "max_gap": 0.15},
        resources={"latency_p99_ms": 50.0},
        **extra,  # type: ignore[arg-type]
    )


def _kinds(run: object) -> dict[str, str]:
    return {a.kind: e for a, e in run.alerts}  # type: ignore[attr-defined]


def test_clean_window_raises_nothing(mon: MonitoringClient, send: Callable[..., Traffic]) -> None:
    _configure(mon)
    t = send(2000)
    mon.record_feedback("churn", {"request_id": t.ids, "label": t.labels})
    (run,) = mon.run("churn", end_ms=NOW)
    assert run.rows == 2000 and run.alerts == [] and run.notes == []
    assert run.drift is not None and not run.drift.drifted
    assert run.performance is not None and run.performance.n_labelled == 2000
    assert run.performance.metrics["accuracy"] == pytest.approx(0.83, abs=0.03)


def test_shifted_window_alerts_once_then_dedupes_then_resolves(
    mon: MonitoringClient, send: Callable[..., Traffic]
) -> None:
    _configure(mon)
    bad = send(
        3000, age_shift=15, cities=("oslo", "rome", "lima", "cairo"), flip_city="rome", latency=40.0
    )
    mon.record_feedback("churn", {"request_id": bad.ids, "label": bad.labels})
    (first,) = mon.run("churn", end_ms=NOW)
    json.dumps(first.to_dict(), allow_nan=False)  # what `keel monitor run --json` prints
    kinds = _kinds(first)
    assert {"schema", "drift", "cohort", "resource"} <= set(kinds)
    assert set(kinds.values()) == {"opened"}
    drift = next(a for a, _ in first.alerts if a.kind == "drift")
    assert drift.evidence["columns"][0]["column"] == "age" and drift.evidence["n_current"] == 3000
    cohort = next(a for a, _ in first.alerts if a.kind == "cohort")
    assert cohort.evidence["cohort"] == "city=rome" and cohort.evidence["accuracy"] < 0.2
    unseen = next(a for a, _ in first.alerts if a.kind == "schema" and "city" in a.dedup_key)
    assert "cairo" in unseen.message

    (again,) = mon.run("churn", end_ms=NOW)
    assert set(_kinds(again).values()) == {"repeated"}
    assert len(mon.alerts(state="live")) == len(first.alerts)

    good = send(2000, start=NOW, seed=7)  # the next hour is healthy again
    mon.record_feedback("churn", {"request_id": good.ids, "label": good.labels})
    (healed,) = mon.run("churn", end_ms=NOW + HOUR)
    assert healed.alerts == []
    assert {a.kind for a in healed.resolved} >= {"drift", "schema", "cohort", "resource"}
    assert mon.alerts(state="live") == []


def test_performance_floor_relative_drop_and_cbpe(
    mon: MonitoringClient, send: Callable[..., Traffic]
) -> None:
    _configure(mon)
    t = send(3000, seed=3)
    (before_labels,) = mon.run("churn", end_ms=NOW)
    assert before_labels.performance is not None
    estimated = before_labels.performance.estimated["accuracy"]
    assert estimated is not None and "performance" not in _kinds(before_labels)
    assert any("labelled predictions" in n for n in before_labels.notes)
    wrong = np.where(np.arange(len(t.labels)) % 3 == 0, 1 - t.pred, t.labels)  # a third flipped
    mon.record_feedback("churn", {"request_id": t.ids, "label": wrong})
    (after,) = mon.run("churn", end_ms=NOW)
    realized = after.performance.metrics["accuracy"]  # type: ignore[union-attr]
    alert = next(a for a, _ in after.alerts if a.kind == "performance")
    assert realized < 0.6 and alert.severity == "critical" and "floor" in alert.title


def test_cbpe_estimate_matches_labels_that_arrive_later(
    mon: MonitoringClient, send: Callable[..., Traffic]
) -> None:
    """Calibrated scores: the estimate made before labels is within noise of the truth."""
    _configure(mon)
    for k, shift in enumerate((-6.0, 0.0, 6.0)):  # three different mixes, one window each
        start = NOW - (k + 1) * HOUR
        t = send(4000, seed=11 + k, start=start, age_shift=shift)
        (est,) = mon.run("churn", end_ms=start + HOUR, deliver=False)
        mon.record_feedback("churn", {"request_id": t.ids, "label": t.labels})
        (real,) = mon.run("churn", end_ms=start + HOUR, deliver=False)
        e, r = est.performance.estimated, real.performance.metrics  # type: ignore[union-attr]
        se = e["accuracy_se"]
        assert se is not None and abs(e["accuracy"] - r["accuracy"]) < 4 * se + 0.01
        assert e["f1"] == pytest.approx(r["f1"], abs=0.05)


def test_calibrate_sets_baseline_and_calibration(mon: MonitoringClient) -> None:
    _configure(mon)
    rng = np.random.default_rng(5)
    scores = rng.random(4000)
    y = (rng.random(4000) < scores**2).astype(int)  # over-confident scores
    monitor = mon.calibrate("churn", y, (scores > 0.5).astype(int), scores)
    perf = monitor.config["performance"]
    assert perf["baseline"] == pytest.approx(np.mean(y == (scores > 0.5)), abs=1e-9)
    cal = perf["calibration"]
    assert cal["rates"] == sorted(cal["rates"])  # monotone
    assert cal["rates"][-1] == pytest.approx(0.9, abs=0.1) and cal["rates"][0] < 0.05


def test_empty_window_and_no_reference_are_clear(
    mon: MonitoringClient, send: Callable[..., Traffic]
) -> None:
    _configure(mon)
    (empty,) = mon.run("churn", end_ms=NOW - 10 * HOUR)
    assert empty.rows == 0 and empty.alerts == [] and empty.drift is None
    assert "no predictions in this window" in empty.notes[0]
    json.dumps(empty.to_dict(), allow_nan=False)
    mon.configure("fresh", window="1h")
    send(50, deployment="fresh")
    (bare,) = mon.run("fresh", end_ms=NOW)
    assert bare.rows == 50 and "no reference profile" in bare.notes[0]


def test_single_row_window_reports_schema_from_the_first_row(
    mon: MonitoringClient, send: Callable[..., Traffic]
) -> None:
    _configure(mon)
    send(1, age_shift=500, cities=("atlantis",))
    (run,) = mon.run("churn", end_ms=NOW)
    assert run.rows == 1 and run.drift is not None
    assert all(f.status == "insufficient_data" for f in run.drift.features)
    issues = {(a.kind, a.evidence.get("column")) for a, _ in run.alerts}
    assert ("schema", "age") in issues and ("schema", "city") in issues
    assert not any(a.kind == "drift" for a, _ in run.alerts)


def test_windows_split_and_memory_bounded(
    mon: MonitoringClient, send: Callable[..., Traffic]
) -> None:
    _configure(mon)
    send(6000, start=NOW - 6 * HOUR, span=6 * HOUR)
    runs = mon.run("churn", "6h", end_ms=NOW, every="1h", deliver=False)
    assert [r.window.end_ms - r.window.start_ms for r in runs] == [HOUR] * 6
    assert sum(r.rows for r in runs) == 6000


def test_report_writes_html_and_json(
    mon: MonitoringClient, send: Callable[..., Traffic], tmp_path: Path
) -> None:
    import xml.etree.ElementTree as ET

    _configure(mon)
    send(1500, start=NOW - 3 * HOUR, span=HOUR, seed=21)
    t = send(1500, start=NOW - HOUR, span=HOUR, seed=22, age_shift=12)
    mon.record_feedback("churn", {"request_id": t.ids, "label": t.labels})
    mon.run("churn", end_ms=NOW)
    files = mon.report("churn", window="3h", every="1h", end_ms=NOW, out_dir=tmp_path)
    html = files.html.read_text()
    data = json.loads(files.json.read_text())
    assert [w["rows"] for w in data["windows"]] == [1500, 0, 1500]
    assert data["windows"][2]["drift"]["age"]["status"] == "drift"
    assert data["windows"][0]["drift"]["age"]["status"] == "ok"
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    for svg in html.split("<svg")[1:]:
        ET.fromstring("<svg" + svg.split("</svg>")[0] + "</svg>")  # every chart is well-formed
    assert "Drift per feature over time" in html and "<td>city=rome</td>" in html  # cohort table


def test_run_needs_a_monitor_and_alert_states_are_guarded(mon: MonitoringClient) -> None:
    with pytest.raises(Exception, match="keel monitor set nope"):
        mon.run("nope")
    with pytest.raises(InvalidArgumentError, match="not a duration"):
        Window.ending("yesterday")
    _configure(mon)
    from keel.store.alerts import NewAlert

    alert, _ = mon.store.alerts.record(mon.project_id, NewAlert("drift", "warning", "k", "t"))
    mon.resolve(alert.id)
    with pytest.raises(ConflictError):
        mon.acknowledge(alert.id)


def test_reference_from_a_model_versions_training_data(mon: MonitoringClient) -> None:
    """A model version's reference is its lineage dataset, limited to the model's inputs."""
    import pandas as pd

    from keel.data import DatasetClient
    from keel.store import NewVersion

    frame = pd.DataFrame({"age": np.arange(100.0), "city": ["a", "b"] * 50, "label": [0, 1] * 50})
    version = DatasetClient(mon.store, mon.project).log("customers", frame)
    mon.store.registry.create_version(
        mon.project_id,
        "churn",
        NewVersion(
            blob_sha="a" * 64,
            size=1,
            manifest_sha="b" * 64,
            flavor="sklearn",
            serve_flavor="sklearn",
            task="classification",
            signature={"inputs": [{"name": "age"}, {"name": "city"}]},
            datasets=[(version.dataset_name, version.version)],
        ),
    )
    info = mon.reference_from_model("churn")
    assert (info.subject, info.num_rows, info.source) == (
        "model:churn/1",
        100,
        "dataset:customers@1",
    )
    assert set(mon.reference("model:churn/1").columns) == {"age", "city"}  # no label column


def test_run_due_catches_up_on_complete_windows_once(
    mon: MonitoringClient, send: Callable[..., Traffic]
) -> None:
    _configure(mon)
    send(300, start=NOW - 3 * HOUR, span=3 * HOUR)
    mon.store.monitors.mark_run(mon.store.monitors.get(mon.project_id, "churn").id, NOW - 3 * HOUR)
    runs = mon.run_due(now_ms=NOW + 60_000)  # one minute into the next hour
    assert [r.window.start_ms for r in runs] == [NOW - 3 * HOUR, NOW - 2 * HOUR, NOW - HOUR]
    assert sum(r.rows for r in runs) == 300
    assert mon.run_due(now_ms=NOW + 120_000) == []  # nothing new is complete


def test_update_changes_only_the_settings_given(mon: MonitoringClient) -> None:
    """``keel monitor set`` merges option by option through this one use case."""
    from keel.exceptions import NotFoundError

    mon.update("churn", reference="model:churn/1", alpha=0.01, metric="accuracy", floor=0.8)
    mon.update("churn", floor=0.7, memory="2Gi", window="6h")
    monitor = mon.monitor("churn")
    assert monitor.reference == "model:churn/1" and monitor.window == "6h"
    assert monitor.config["drift"]["alpha"] == 0.01
    assert monitor.config["performance"]["metric"] == "accuracy"
    assert monitor.config["performance"]["floor"] == 0.7
    assert monitor.config["resources"]["memory_bytes"] == 2 * 2**30
    with pytest.raises(InvalidArgumentError, match=r"unknown monitor setting\(s\) \['alhpa'\]"):
        mon.update("churn", alhpa=0.1)
    mon.delete_monitor("churn")
    with pytest.raises(NotFoundError):
        mon.monitor("churn")

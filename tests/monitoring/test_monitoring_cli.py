"""The monitoring commands as a user runs them (real ``keel`` processes)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from monitoring_helpers import NOW, Traffic, features

from keel.monitoring import MonitoringClient


def keel(home: Path, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KEEL_HOME": str(home), "COLUMNS": "200"}
    proc = subprocess.run(
        [sys.executable, "-m", "keel.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == code, proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr
    return proc


def test_monitoring_from_the_command_line(
    mon: MonitoringClient, send: Callable[..., Traffic], keel_home: Path, tmp_path: Path
) -> None:
    import numpy as np

    train = tmp_path / "train.parquet"
    pq.write_table(pa.table(features(np.random.default_rng(0), 3000)), train)
    keel(keel_home, "monitor", "reference", "model:churn/2", "--file", str(train))
    keel(
        keel_home,
        "monitor",
        "set",
        "churn",
        "--reference",
        "model:churn/2",
        "--window",
        "1h",
        "--prediction",
        "predictions",
        "--score",
        "proba",
        "--floor",
        "0.99",
        "--cohorts",
        "city",
    )
    listed = json.loads(keel(keel_home, "monitor", "list", "--json").stdout)
    assert listed[0]["config"]["performance"]["floor"] == 0.99
    assert listed[0]["config"]["cohorts"]["columns"] == [["city"]]

    t = send(1500, age_shift=20)
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "request_id,label\n"
        + "".join(f"{i},{y}\n" for i, y in zip(t.ids, t.labels, strict=True))
        + "ghost,1\n"
    )
    fed = json.loads(keel(keel_home, "feedback", "import", "churn", str(labels), "--json").stdout)
    assert (fed["stored"], fed["unknown_ids"]) == (1500, ["ghost"])

    mon.add_notifier("ops-log", "log", {})
    iso = dt.datetime.fromtimestamp(NOW / 1000, dt.UTC).isoformat()
    out = keel(keel_home, "monitor", "run", "churn", "--end", iso, "--fail-on", "critical", code=1)
    assert "Drift" in out.stdout and "Alerts raised" in out.stdout
    alerts = json.loads(keel(keel_home, "alerts", "list", "--json").stdout)
    assert {"drift", "performance"} <= {a["kind"] for a in alerts}
    first = alerts[0]["id"]
    keel(keel_home, "alerts", "ack", str(first), "-m", "on it")
    acked = mon.alert(first)
    assert acked.state.value == "acknowledged" and acked.note == "on it"
    assert mon.store.alerts.deliveries(first)[0].status == "sent"  # through the log notifier

    report = keel(
        keel_home,
        "monitor",
        "report",
        "churn",
        "--window",
        "2h",
        "--every",
        "1h",
        "--end",
        iso,
        "--out",
        str(tmp_path / "r"),
    )
    assert (
        "Report written" in report.stdout and (tmp_path / "r" / "churn-monitoring.html").is_file()
    )

    csv = keel(keel_home, "sql", "SELECT count(*) AS n FROM predictions", "--format", "csv").stdout
    assert csv.splitlines() == ['"n"', "1500"] or csv.splitlines() == ["n", "1500"]

    current = tmp_path / "current.parquet"
    pq.write_table(pa.table(features(np.random.default_rng(1), 2000, age_shift=10)), current)
    drift = json.loads(
        keel(keel_home, "monitor", "drift", str(train), str(current), "--json").stdout
    )
    assert drift["drifted_columns"] == ["age"]
    assert drift["worst"] == "warning" and drift["failed"] is False
    keel(keel_home, "monitor", "drift", str(train), str(current), "--fail-on", "error")
    proc = keel(
        keel_home, "monitor", "drift", str(train), str(current), "--fail-on", "warning", code=1
    )
    assert "a finding reached warning" in proc.stderr
    pq.write_table(pa.table(features(np.random.default_rng(2), 500)).drop(["age"]), current)
    proc = keel(
        keel_home, "monitor", "drift", str(train), str(current), "--fail-on", "error", code=1
    )
    assert "a finding reached error (error)" in proc.stderr


def test_clear_errors(keel_home: Path) -> None:
    proc = keel(keel_home, "monitor", "run", "nothing", code=3)
    assert "keel monitor set nothing" in proc.stderr
    proc = keel(keel_home, "sql", "DROP TABLE alerts", code=2)
    assert "only reads" in proc.stderr
    proc = keel(keel_home, "alerts", "resolve", "42", code=3)
    assert "alert 42 does not exist" in proc.stderr

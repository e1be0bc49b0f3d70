"""The prediction log: nothing lost on a graceful shutdown, a bounded buffer, SQL over it."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
from serving_helpers import keel_env, parquet_rows, split_body, wait_for

from keel.config import Settings
from keel.serving import PredictionLog
from keel.serving._schema import Rows
from keel.store.predlog import LogRecord


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_keel_serve_two_workers_log_every_request_and_flush_on_sigterm(
    settings: Settings, registered: str, frame: pd.DataFrame
) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "keel.cli",
            "serve",
            registered,
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        env=keel_env(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _ready(url), timeout_s=60, every_s=0.2)
        with httpx.Client(base_url=url) as c:
            for i in range(30):
                r = c.post("/invocations", json=split_body(frame.iloc[i : i + 2]))
                assert r.status_code == 200, r.text
            labels = c.post(
                "/v2/models/churn/infer",
                json={
                    "inputs": [
                        {
                            "name": "x",
                            "shape": [1, 20],
                            "datatype": "FP64",
                            "data": frame.iloc[0].tolist(),
                        }
                    ]
                },
            ).json()
            assert labels["model_version"] == "1"
    finally:
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=60)[0].decode()
    assert proc.returncode == 0, out
    assert parquet_rows(settings.home / "artifacts" / "predictions") == 61  # 30 x 2 + 1
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "keel.cli",
            "predictions",
            "sql",
            "--json",
            "SELECT p.model, p.version, count(*) AS n, any_value(m.flavor) AS flavor, "
            "count(DISTINCT request_id) AS requests FROM predictions p "
            "JOIN model_versions m ON m.name = p.model AND m.version = p.version GROUP BY ALL",
        ],
        env=keel_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 0, cli.stderr
    rows = json.loads(cli.stdout)
    assert rows == [
        {"model": "churn", "version": "1", "n": 61, "flavor": rows[0]["flavor"], "requests": 31}
    ]


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/v2/health/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _record(i: int, n: int = 10, ts_ms: int | None = None) -> LogRecord:
    return LogRecord(
        "dep",
        "ep",
        "m",
        "1",
        f"r{i}",
        int(time.time() * 1000) if ts_ms is None else ts_ms,
        1.0,
        False,
        Rows(n, matrix=np.full((n, 2), float(i))),
        ["a", "b"],
        {"predictions": np.arange(n, dtype=float)},
    )


def test_full_buffer_drops_and_counts_instead_of_blocking(settings: Settings) -> None:
    log = PredictionLog(settings.artifacts_uri, buffer_rows=100)
    start = time.perf_counter()
    accepted = [log.log(_record(i)) for i in range(15)]
    assert time.perf_counter() - start < 5  # a blocking log would wait for a writer here
    assert accepted == [True] * 10 + [False] * 5
    assert log.dropped_rows == 50
    log.close()
    assert log.written_rows == 100
    assert parquet_rows(settings.home / "artifacts" / "predictions") == 100


def test_records_are_filed_under_their_utc_day(settings: Settings) -> None:
    midnight = 1_764_720_000_000  # 2025-12-03T00:00:00Z in ms
    log = PredictionLog(settings.artifacts_uri)
    for i, ts in enumerate([midnight - 1, midnight, midnight + 86_399_999, -1]):
        log.log(_record(i, n=1, ts_ms=ts))
    log.close()
    folder = settings.home / "artifacts" / "predictions" / "deployment=dep"
    days = {p.parent.name: parquet_rows(p.parent) for p in folder.glob("date=*/*.parquet")}
    assert days == {"date=2025-12-02": 1, "date=2025-12-03": 2, "date=1969-12-31": 1}


def test_sql_over_log_and_export(settings: Settings, tmp_path: object) -> None:
    from pathlib import Path

    from keel.monitoring import run_sql
    from keel.store import open_store

    log = PredictionLog(settings.artifacts_uri)
    for i in range(3):
        log.log(_record(i, n=2))
    log.close()
    store = open_store(settings)
    project_id = store.projects.get_or_create("default").id
    table = run_sql(
        store,
        project_id,
        "SELECT deployment, request_id, row, inputs.a AS a, "
        "outputs.predictions AS p FROM predictions ORDER BY request_id, row",
    )
    assert table.to_pylist()[:3] == [
        {"deployment": "dep", "request_id": "r0", "row": 0, "a": 0.0, "p": 0.0},
        {"deployment": "dep", "request_id": "r0", "row": 1, "a": 0.0, "p": 1.0},
        {"deployment": "dep", "request_id": "r1", "row": 0, "a": 1.0, "p": 0.0},
    ]
    other = open_store(Settings.for_home(Path(str(tmp_path)) / "other"))
    empty = run_sql(
        other, other.projects.get_or_create("default").id, "SELECT count(*) AS n FROM predictions"
    )
    assert empty.to_pylist() == [{"n": 0}]
    other.close()
    import pytest

    from keel.exceptions import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match=r"(?s)query failed.*Tables: .*predictions"):
        run_sql(store, project_id, "SELECT nope FROM predictions")
    with pytest.raises(InvalidArgumentError, match="only reads"):
        run_sql(store, project_id, "COPY predictions TO '/tmp/x.csv'")
    with pytest.raises(InvalidArgumentError, match="query failed"):  # the sandbox holds
        run_sql(store, project_id, "SELECT * FROM read_csv('/etc/passwd')")
    store.close()


def test_predictions_sql_cli_is_the_keel_sql_console(settings: Settings, tmp_path: Path) -> None:
    log = PredictionLog(settings.artifacts_uri)
    for i in range(3):
        log.log(_record(i, n=2))
    log.close()
    env = keel_env(settings)
    query = "SELECT request_id, inputs.a AS a, outputs FROM predictions ORDER BY request_id, row"
    out = tmp_path / "out.csv"
    cli = [sys.executable, "-m", "keel.cli", "predictions", "sql"]
    proc = subprocess.run([*cli, query, "-o", str(out)], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert out.read_text().splitlines()[0].replace('"', "") == "request_id,a,outputs.predictions"
    proc = subprocess.run(
        [*cli, "SELECT * FROM read_csv('/etc/passwd')"], env=env, capture_output=True, text=True
    )
    assert proc.returncode != 0 and "query failed" in proc.stderr, proc.stderr

"""Server benchmark (issue 3, "Performance"): the official mlflow client against
``mlflow server`` and against ``keel server``, side by side in one run.

    python benchmarks/bench_server.py [--quick] [--json]

Both servers run as subprocesses with one worker over a fresh SQLite database. The same
client script (this file, run by the mlflow peer virtualenv's interpreter with
``--client URL``) drives each server with ``MlflowClient``:

1. 5,000 single ``log_metric`` calls into one run (target >= 2x);
2. 50 ``log_batch`` calls of 1,000 metrics each (target >= 3x);
3. ``search_runs`` over 2,000 runs (5 params, 5 metrics, 3 tags each), all 2,000 ordered by
   ``metrics.auc DESC``, median of 3 (target >= 5x). The runs are created through the API
   first, from 8 client threads; that is not timed. The same search is also timed as one
   raw HTTP request (the server's share, without the client's protobuf parsing).

A full run takes about 4 minutes on 2 cores, most of it on the MLflow side.

The client is identical for both, so the ratio measures the servers (plus the constant
cost of the client itself, which makes the ratio smaller, never larger).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SIZES = {
    "full": {"n_metric": 5000, "n_batches": 50, "batch": 1000, "n_runs": 2000, "repeats": 3},
    "quick": {"n_metric": 500, "n_batches": 5, "batch": 1000, "n_runs": 200, "repeats": 3},
}
TARGETS = {"log_metric": 2.0, "log_batch": 3.0, "search_runs": 5.0}
QUIET = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
}


# -- client side (runs inside the mlflow virtualenv; imports no keel) ----------------------


def _seed_runs(client: Any, exp_id: str, n: int) -> None:
    """``n`` runs with 5 params, 5 metrics and 3 tags each; 8 client threads (not timed)."""
    from concurrent.futures import ThreadPoolExecutor

    from mlflow.entities import Metric, Param, RunTag

    def one(i: int) -> None:
        rng = random.Random(i)
        run_id = client.create_run(exp_id, run_name=f"run-{i}").info.run_id
        params = {
            "model": rng.choice(("rf", "gbm", "lr")),
            "depth": str(rng.randint(2, 12)),
            "n_estimators": str(rng.choice((50, 100, 200))),
            "lr": f"{rng.random():.4f}",
            "seed": str(i),
        }
        metrics = {
            "auc": rng.random(),
            "acc": rng.random(),
            "loss": rng.random() * 2,
            "f1": rng.random(),
            "rmse": rng.random() * 10,
        }
        tags = {"team": rng.choice(("fraud", "ads")), "stage": "dev", "owner": f"u{i % 7}"}
        client.log_batch(
            run_id,
            metrics=[Metric(k, v, 1_700_000_000_000, 0) for k, v in metrics.items()],
            params=[Param(k, v) for k, v in params.items()],
            tags=[RunTag(k, v) for k, v in tags.items()],
        )

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(n)))


def client_main(url: str, sizes: dict[str, int]) -> dict[str, Any]:
    """Drive one server with the official client; returns timings in seconds."""
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    client = MlflowClient(url)
    exp_id = client.create_experiment(f"bench-{time.time_ns()}")
    run_id = client.create_run(exp_id).info.run_id
    for i in range(20):  # warm connections and caches on both sides
        client.log_metric(run_id, "warmup", float(i), step=i)
    start = time.perf_counter()
    for i in range(sizes["n_metric"]):
        client.log_metric(run_id, "loss", 1.0 / (i + 1), step=i, timestamp=1_700_000_000_000 + i)
    t_metric = time.perf_counter() - start

    batch_run = client.create_run(exp_id).info.run_id
    keys = [f"k{j}" for j in range(10)]
    batches = [
        [
            Metric(keys[j % 10], random.random(), 1_700_000_000_000, b * 100 + j // 10)
            for j in range(sizes["batch"])
        ]
        for b in range(sizes["n_batches"])
    ]
    start = time.perf_counter()
    for metrics in batches:
        client.log_batch(batch_run, metrics=metrics)
    t_batch = time.perf_counter() - start

    search_exp = client.create_experiment(f"search-{time.time_ns()}")
    seed_start = time.perf_counter()
    _seed_runs(client, search_exp, sizes["n_runs"])
    t_seed = time.perf_counter() - seed_start
    times, found = [], 0
    for _ in range(sizes["repeats"]):
        start = time.perf_counter()
        runs = client.search_runs(
            [search_exp], "", order_by=["metrics.auc DESC"], max_results=sizes["n_runs"]
        )
        times.append(time.perf_counter() - start)
        found = len(runs)
    assert found == sizes["n_runs"], f"search found {found} runs, expected {sizes['n_runs']}"
    return {
        "log_metric": t_metric,
        "log_batch": t_batch,
        "search_runs": statistics.median(times),
        "search_http": _raw_search(url, search_exp, sizes),
        "seed_s": t_seed,
    }


def _raw_search(url: str, exp_id: str, sizes: dict[str, int]) -> float:
    """The same search as one plain HTTP request: the server's share, without the client's
    protobuf parsing (which costs the same for both servers)."""
    import requests

    body = {
        "experiment_ids": [exp_id],
        "order_by": ["metrics.auc DESC"],
        "max_results": sizes["n_runs"],
    }
    times = []
    with requests.Session() as session:
        for _ in range(sizes["repeats"]):
            start = time.perf_counter()
            resp = session.post(f"{url}/api/2.0/mlflow/runs/search", json=body, timeout=600)
            resp.raise_for_status()
            _ = resp.content
            times.append(time.perf_counter() - start)
    return statistics.median(times)


# -- orchestration (keel's interpreter) ----------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, proc: subprocess.Popen[bytes], what: str, timeout_s: float = 120) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{what} did not answer {url} within {timeout_s:.0f} s")


def _start_mlflow(py: Path, tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    cmd = [
        str(py.parent / "mlflow"),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--backend-store-uri",
        f"sqlite:///{tmp / 'mlflow.db'}",
        "--artifacts-destination",
        str(tmp / "mlartifacts"),
    ]
    env = {**os.environ, **QUIET}
    log = open(tmp / "mlflow-server.log", "wb")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(
        cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    _wait(f"{url}/health", proc, "mlflow server")
    return proc, url


def _start_keel(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
    env["KEEL_HOME"] = str(tmp / "keel-home")
    cmd = [
        sys.executable,
        "-m",
        "keel.cli",
        "server",
        "--port",
        str(port),
        "--workers",
        "1",
        "--log-level",
        "warning",
    ]
    log = open(tmp / "keel-server.log", "wb")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(
        cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    _wait(f"{url}/api/v1/health", proc, "keel server")
    return proc, url


def _stop(proc: subprocess.Popen[bytes]) -> None:
    import signal

    try:
        os.killpg(proc.pid, signal.SIGTERM)  # the server and any workers it spawned
        proc.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=20)


def _drive(py: Path, url: str, sizes: dict[str, int]) -> dict[str, Any]:
    out = subprocess.run(
        [str(py), str(Path(__file__).resolve()), "--client", url, "--sizes", json.dumps(sizes)],
        env={**os.environ, **QUIET},
        capture_output=True,
        text=True,
        timeout=1200,
    )
    if out.returncode != 0:
        raise RuntimeError(f"client against {url} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--sizes", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        print(json.dumps(client_main(args.client, json.loads(args.sizes))))
        return

    sys.path.insert(0, str(HERE))
    import _peers

    sizes = SIZES["quick" if args.quick else "full"]
    py = _peers.peer_python("mlflow", ["mlflow==3.*"])
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="keel-bench-server-") as tmp_name:
        tmp = Path(tmp_name)
        for name, start in (
            ("mlflow", lambda: _start_mlflow(py, tmp / "ml")),
            ("keel", lambda: _start_keel(tmp / "keel")),
        ):
            (tmp / name[:2] if name == "mlflow" else tmp / "keel").mkdir(exist_ok=True)
            proc, url = start()
            try:
                results[name] = _drive(py, url, sizes)
            finally:
                _stop(proc)
    _report(results, sizes, as_json=args.json)


def _report(results: dict[str, dict[str, Any]], sizes: dict[str, int], *, as_json: bool) -> None:
    sys.path.insert(0, str(HERE))
    from _peers import ratio_line

    if as_json:
        print(json.dumps({"sizes": sizes, "results": results, "targets": TARGETS}, indent=2))
        return
    labels = {
        "log_metric": f"{sizes['n_metric']:,} single log_metric calls",
        "log_batch": f"{sizes['n_batches']} log_batch calls of {sizes['batch']:,} metrics",
        "search_runs": f"search_runs over {sizes['n_runs']:,} runs (median)",
    }
    for key, label in labels.items():
        print(
            ratio_line(label, results["keel"][key], results["mlflow"][key], "mlflow", TARGETS[key])
        )
    k_http, m_http = results["keel"]["search_http"], results["mlflow"]["search_http"]
    print(
        f"(not a target) the same search as raw HTTP, server share only: keel "
        f"{k_http * 1000:.0f} ms, mlflow {m_http * 1000:.0f} ms ({m_http / k_http:.1f}x)"
    )
    # What the official client itself spends on the answer (JSON -> protobuf -> entities) is
    # the same for both servers; it bounds the ratio whatever the server does.
    client_s = results["mlflow"]["search_runs"] - m_http
    if client_s > 0:
        print(
            f"(not a target) the mlflow client's own work on the {sizes['n_runs']:,}-run answer: ~"
            f"{client_s * 1000:.0f} ms, so even a server that answered in 0 ms could reach "
            f"at most {results['mlflow']['search_runs'] / client_s:.1f}x end to end"
        )
    print(
        f"(not compared) creating {sizes['n_runs']:,} runs through the API (8 threads): keel "
        f"{results['keel']['seed_s']:.1f} s, mlflow {results['mlflow']['seed_s']:.1f} s"
    )


if __name__ == "__main__":
    main()

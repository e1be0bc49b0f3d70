"""Serving benchmark (issue 6, "Performance"): keel serve vs mlflow models serve vs a bare
Starlette endpoint, batch prediction vs the bare model, and streaming on local Redis.

    python benchmarks/bench_serving.py [--quick] [--json] [--skip-mlflow] [--skip-stream]

Online: a scikit-learn scaler + logistic regression on 20 features, logged with an input
example in each system (keel: registered + promoted to champion, which gives it its ONNX
twin; mlflow: ``mlflow.sklearn.log_model`` in the peer virtualenv). Each server runs as a
subprocess with one worker under the same uvicorn settings (httptools, TCP_NODELAY), pinned
to CPU 0; the load generator (``wrk``, from Debian) runs pinned to CPU 1 and posts the same
single-row ``dataframe_split`` body. The bare endpoint parses the JSON and returns a
constant (the ceiling for any server).

All servers run at once and are measured in turns, ``rounds`` times per concurrency level
(a warm-up run, then a measured one, the order rotated each round), so a load spike from
another process hits one round of every server, not one server: the ratios reported are
medians of ratios within a round. Each turn also reads the server process's CPU time
(user + system, all threads) per answered request, which load on the machine hardly moves:
on a shared machine req/s ratios drift towards 1 (every server waits for its share of the
core), while CPU per request keeps the real cost.

Targets: at concurrency 8, >= 15x mlflow's req/s, >= 40% of bare, p99 < 10 ms; at
concurrency 64 (micro-batching on), >= 60% of bare.

Batch: 1,000,000 rows from Parquet to Parquet through ``keel.serving.predict_batch`` vs the
bare fitted model's ``predict`` on the same rows already in memory (target >= 0.8x rows/s),
with keel's peak memory measured at 250,000 and 1,000,000 rows (it must not grow).

Stream: a backlog of events drained through a consumer group (events/s), then a producer
process at a fixed rate while the worker runs, for the p99 event-to-prediction latency.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from benchmarks._peers import peer_env, peer_python  # noqa: E402

FEATURES = [f"f{i}" for i in range(20)]
SIZES = {
    "full": {
        "seconds": 4,
        "warmup": 1,
        "rounds": 4,
        "batch_rows": 1_000_000,
        "stream_events": 20_000,
    },
    "quick": {
        "seconds": 2,
        "warmup": 1,
        "rounds": 2,
        "batch_rows": 200_000,
        "stream_events": 5_000,
    },
}
REDIS_URL = os.environ.get("KEEL_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")

BARE_APP = textwrap.dedent(
    """
    import sys, orjson, uvicorn
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route
    from keel.serving._server import bind_socket, uvicorn_config

    async def invocations(request):
        orjson.loads(await request.body())
        return Response(b'{"predictions":[0]}', media_type="application/json")

    app = Starlette(routes=[Route("/invocations", invocations, methods=["POST"])])
    sock = bind_socket("127.0.0.1", int(sys.argv[1]))
    uvicorn.Server(uvicorn_config(app, "127.0.0.1", int(sys.argv[1]))).run(sockets=[sock])
    """
)

MLFLOW_LOG = textwrap.dedent(
    """
    import json, sys
    import pandas as pd, mlflow
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    data = pd.read_parquet(sys.argv[2])
    X, y = data.drop(columns=["y"]), data["y"]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
    mlflow.set_tracking_uri(sys.argv[1])
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(model, name="model", input_example=X.head(5))
    print(json.dumps({"uri": f"runs:/{run.info.run_id}/model"}))
    """
)


def training_data() -> Any:
    """The same 20-feature classification data on both sides (seeded)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(7)
    X = pd.DataFrame(rng.normal(size=(5_000, 20)), columns=FEATURES)
    y = ((X.f0 + 0.5 * X.f1 - X.f2 + rng.normal(scale=0.5, size=len(X))) > 0).astype(int)
    return X, y


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinned(cpu: int, argv: list[str]) -> list[str]:
    taskset = shutil.which("taskset")
    return [taskset, "-c", str(cpu), *argv] if taskset and (os.cpu_count() or 1) > 1 else argv


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 180) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before it was ready")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} not ready within {timeout_s:.0f} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- load generation -------------------------------------------------------------------------


def body() -> bytes:
    X, _ = training_data()
    row = X.iloc[0]
    split = {"columns": FEATURES, "data": [[round(float(v), 6) for v in row]]}
    return json.dumps({"dataframe_split": split}).encode()


def wrk(url: str, concurrency: int, seconds: float, tmp: Path) -> dict[str, float]:
    """req/s and p99 (ms) of ``wrk`` posting the benchmark body, pinned to CPU 1."""
    script = tmp / "post.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(body().decode())}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    argv = ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", "--latency", "-s", str(script), url]
    out = subprocess.run(pinned(1, argv), capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p99_ms": p99, "non_2xx": float(errors.group(1)) if errors else 0.0}


def _ms(text: str) -> float:
    value, unit = float(re.match(r"[\d.]+", text).group()), text.lstrip("0123456789.")  # type: ignore[union-attr]
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, its threads and its child processes (mlflow
    serves from a child of the command that started it)."""
    import psutil

    total = 0.0
    root = psutil.Process(pid)
    for proc in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


def measure(servers: dict[str, Server], sizes: dict[str, Any], tmp: Path) -> dict[str, Any]:
    """Each server in turn, ``rounds`` times per level; medians per server, and the
    median of each server's within-round ratio to the bare endpoint."""
    names = list(servers)
    turns: dict[int, dict[str, list[dict[str, float]]]] = {}
    for c in (8, 64):
        turns[c] = {n: [] for n in names}
        for i in range(sizes["rounds"]):
            order = names[i % len(names) :] + names[: i % len(names)]
            load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
            for n in order:
                server = servers[n]
                wrk(server.url, c, sizes["warmup"], tmp)
                before = cpu_seconds(server.pid)
                r = wrk(server.url, c, sizes["seconds"], tmp)
                used = cpu_seconds(server.pid) - before
                r["cpu_us"] = used / max(r["rps"] * sizes["seconds"], 1) * 1e6
                r["load"] = load
                turns[c][n].append(r)
            print(
                f"  c={c:<3} round {i + 1} (load {load:.1f}): "
                + ", ".join(
                    f"{n} {turns[c][n][-1]['rps']:.0f} req/s "
                    f"{turns[c][n][-1]['cpu_us']:.0f} us CPU/req"
                    + (f" ({e:.0f} non-2xx!)" if (e := turns[c][n][-1]["non_2xx"]) else "")
                    for n in names
                ),
                flush=True,
            )
    out: dict[str, Any] = {n: {} for n in names}
    for c, by_server in turns.items():
        bare = by_server.get("bare")
        for n, runs in by_server.items():
            summary = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            if bare is not None:
                summary["share"] = statistics.median(
                    r["rps"] / b["rps"] for r, b in zip(runs, bare, strict=True)
                )
                summary["cpu_ratio"] = statistics.median(
                    r["cpu_us"] / b["cpu_us"] for r, b in zip(runs, bare, strict=True)
                )
            summary["rounds"] = runs  # type: ignore[assignment]
            out[n][f"c{c}"] = summary
    return out


# -- the three servers -----------------------------------------------------------------------


def keel_home(tmp: Path) -> Path:
    """A keel home with the model registered as ``bench`` and promoted to champion."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import keel
    import keel.models
    from keel.config import Settings
    from keel.store import open_store
    from keel.tracking import start_run

    home = tmp / "keel-home"
    settings = Settings.for_home(home)
    keel.init(settings=settings)
    X, y = training_data()
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with start_run("bench", experiment="bench-serving"):
            info = keel.log_model(
                model, "model", input_example=X.head(5), registered_model_name="bench"
            )
    store = open_store(settings)
    keel.models.Registry(store, "default").promote("bench@1", "champion")
    store.close()
    print(f"  keel package: flavor {info.version.flavor}, serves {info.version.serve_flavor}")
    return home


@dataclass(frozen=True)
class Server:
    url: str  # the /invocations URL
    pid: int  # the process answering (taskset execs it, so the pid is the server's own)


@contextlib.contextmanager
def keel_server(home: Path) -> Iterator[Server]:
    port = free_port()
    env = {**os.environ, "KEEL_HOME": str(home), "PYTHONWARNINGS": "ignore"}
    argv = [sys.executable, "-m", "keel.cli", "serve", "bench@champion", "--port", str(port)]
    proc = subprocess.Popen(
        pinned(0, argv), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/v2/health/ready", proc)
        yield Server(f"http://127.0.0.1:{port}/invocations", proc.pid)
    finally:
        stop(proc)


@contextlib.contextmanager
def bare_server(tmp: Path) -> Iterator[Server]:
    port = free_port()
    script = tmp / "bare.py"
    script.write_text(BARE_APP)
    proc = subprocess.Popen(
        pinned(0, [sys.executable, str(script), str(port)]),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/invocations", proc)
        yield Server(f"http://127.0.0.1:{port}/invocations", proc.pid)
    finally:
        stop(proc)


@contextlib.contextmanager
def mlflow_server(tmp: Path) -> Iterator[Server]:
    python = peer_python("mlflow", ["mlflow==3.*"])
    store = f"sqlite:///{tmp / 'mlflow.db'}"
    X, y = training_data()
    X.assign(y=y).to_parquet(tmp / "train.parquet")
    logged = subprocess.run(
        [str(python), "-c", MLFLOW_LOG, store, str(tmp / "train.parquet")],
        capture_output=True,
        text=True,
        env=peer_env(),
        cwd=tmp,
    )
    if logged.returncode != 0:
        raise RuntimeError(f"logging the mlflow model failed:\n{logged.stderr[-2000:]}")
    uri = json.loads(logged.stdout.strip().splitlines()[-1])["uri"]
    port = free_port()
    mlflow_bin = str(Path(python).parent / "mlflow")
    argv = [
        mlflow_bin,
        "models",
        "serve",
        "-m",
        uri,
        "--env-manager",
        "local",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-w",
        "1",
    ]
    env = peer_env(MLFLOW_TRACKING_URI=store)
    proc = subprocess.Popen(
        pinned(0, argv),
        env=env,
        stdout=subprocess.DEVNULL,
        cwd=tmp,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/ping", proc)
        yield Server(f"http://127.0.0.1:{port}/invocations", proc.pid)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


# -- batch -------------------------------------------------------------------------------------


def run_batch(home: Path, rows: int, rounds: int, tmp: Path) -> dict[str, Any]:
    """keel's Parquet-to-Parquet batch against the bare model's in-memory ``predict``,
    alternated ``rounds`` times after a warm-up of both (the ratio is the median of each
    round's); peak memory from the first passes at a quarter and at all of the rows."""
    import numpy as np
    import pandas as pd
    import psutil
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from keel.config import Settings
    from keel.serving._batch import open_input, predict_batch
    from keel.serving._deploy import load_model
    from keel.store import open_store

    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.normal(size=(rows, 20)), columns=FEATURES)
    small = tmp / "batch-small.parquet"
    full = tmp / "batch.parquet"
    frame.iloc[: rows // 4].to_parquet(small, row_group_size=65_536)
    frame.to_parquet(full, row_group_size=65_536)
    X, y = training_data()
    bare_model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
    store = open_store(Settings.for_home(home))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = load_model(store, "default", "bench@champion")
    proc = psutil.Process()
    result: dict[str, Any] = {"rows": rows}

    def bare_rows_per_s() -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            bare_model.predict(frame)
            return rows / (time.perf_counter() - start)

    def keel_rows_per_s(path: Path, label: str) -> float:
        base = proc.memory_info().rss
        peak = [0]

        def sample(_n: int) -> None:
            peak[0] = max(peak[0], proc.memory_info().rss - base)

        out = predict_batch(
            model, open_input(str(path)), tmp / f"out-{label}.parquet", chunk_rows=65_536,
            progress=sample,
        )  # fmt: skip
        result.setdefault(f"{label}_peak_mb", peak[0] / 2**20)
        return float(out.rows_per_s)

    del frame  # memory: keel's passes start without the rows in this process
    predict_batch(model, open_input(str(small)), tmp / "warm.parquet", chunk_rows=65_536)
    keel_rows_per_s(small, "quarter")
    keel = [keel_rows_per_s(full, "full")]
    frame = pd.read_parquet(full)
    bare_rows_per_s()  # warm-up: the first predict on fresh memory is ~2x slower
    bare = [bare_rows_per_s()]
    for _ in range(rounds - 1):
        keel.append(keel_rows_per_s(full, "full"))
        bare.append(bare_rows_per_s())
    store.close()
    result["bare_rows_per_s"] = statistics.median(bare)
    result["keel_rows_per_s"] = statistics.median(keel)
    result["ratio"] = statistics.median(k / b for k, b in zip(keel, bare, strict=True))
    return result


# -- stream ------------------------------------------------------------------------------------

PRODUCER = textwrap.dedent(
    """
    import json, sys, time, redis
    url, stream, rate, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    row = json.loads(sys.argv[5])
    r = redis.Redis.from_url(url)
    start, sent = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        due = int((time.perf_counter() - start) * rate)
        if sent < due:
            pipe = r.pipeline(transaction=False)
            for _ in range(due - sent):
                pipe.xadd(stream, {"data": json.dumps(row)})
            pipe.execute()
            sent = due
        time.sleep(0.001)
    print(sent)
    """
)


def run_stream(home: Path, events: int, tmp: Path) -> dict[str, Any]:
    import redis

    from keel.config import Settings
    from keel.serving._deploy import load_model
    from keel.serving._stream import StreamWorker, parse_stream_url
    from keel.store import open_store

    client = redis.Redis.from_url(REDIS_URL)
    client.ping()
    prefix = f"keel-bench-{os.getpid()}"
    src = parse_stream_url(f"{REDIS_URL}?stream={prefix}:events")
    dst = parse_stream_url(f"{REDIS_URL}?stream={prefix}:scores")
    X, _ = training_data()
    row = {k: float(v) for k, v in X.iloc[0].items()}
    store = open_store(Settings.for_home(home))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = load_model(store, "default", "bench@champion")
    try:
        pipe = client.pipeline(transaction=False)
        for _ in range(events):
            pipe.xadd(src.stream, {"data": json.dumps(row)})
        pipe.execute()
        worker = StreamWorker(model, src, dst, batch_size=256, block_ms=100)
        start = time.perf_counter()
        stats = worker.run(max_messages=events)
        drain_rate = stats.written / (time.perf_counter() - start)
        rate = max(100.0, round(drain_rate * 0.5, -2))  # a sustained load at half capacity
        worker = StreamWorker(model, src, dst, batch_size=256, block_ms=20)
        producer = subprocess.Popen(
            [
                sys.executable,
                "-c",
                PRODUCER,
                REDIS_URL,
                src.stream,
                str(rate),
                "5",
                json.dumps(row),
            ],
            stdout=subprocess.PIPE,
        )
        stopper = threading.Timer(6.5, worker.stop)
        stopper.start()
        live = worker.run()
        producer.wait(30)
        return {
            "drain_events_per_s": drain_rate,
            "steady_rate": rate,
            "steady_p50_ms": live.p(0.5),
            "steady_p99_ms": live.p(0.99),
            "steady_events": live.written,
        }
    finally:
        for key in client.scan_iter(f"*{prefix}*"):
            client.delete(key)
        store.close()


# -- report ------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "OK" if ok else "BELOW TARGET"


def report(results: dict[str, Any]) -> list[str]:
    lines = []
    keel, bare, mlflow = results["keel"], results["bare"], results.get("mlflow")
    k8, b8, k64, b64 = keel["c8"], bare["c8"], keel["c64"], bare["c64"]
    load = statistics.median(r["load"] for c in (k8, k64) for r in c["rounds"])
    lines.append(
        f"(medians of {len(k8['rounds'])} rounds per level; load average {load:.1f} on "
        f"{os.cpu_count()} CPUs)"
    )
    if mlflow:
        x = statistics.median(
            k["rps"] / m["rps"] for k, m in zip(k8["rounds"], mlflow["c8"]["rounds"], strict=True)
        )
        lines.append(
            f"c=8  keel {k8['rps']:.0f} req/s vs mlflow {mlflow['c8']['rps']:.0f}: "
            f"{x:.1f}x (target >= 15x) {verdict(x >= 15)}"
        )
    share8 = k8["share"]
    lines.append(
        f"c=8  keel {k8['rps']:.0f} req/s = {share8:.0%} of bare {b8['rps']:.0f} "
        f"(target >= 40%) {verdict(share8 >= 0.4)}"
    )
    lines.append(
        f"c=8  keel p99 {k8['p99_ms']:.2f} ms (target < 10 ms) {verdict(k8['p99_ms'] < 10)}"
    )
    share64 = k64["share"]
    lines.append(
        f"c=64 keel {k64['rps']:.0f} req/s = {share64:.0%} of bare {b64['rps']:.0f} "
        f"(target >= 60%) {verdict(share64 >= 0.6)}"
    )
    lines.append(
        f"server CPU per request: keel {k8['cpu_us']:.0f} / {k64['cpu_us']:.0f} us at c=8 / "
        f"c=64, bare {b8['cpu_us']:.0f} / {b64['cpu_us']:.0f} us "
        f"({k8['cpu_ratio']:.2f}x / {k64['cpu_ratio']:.2f}x bare's)"
    )
    if "batch" in results:
        b = results["batch"]
        ratio = b["ratio"]
        flat = b["full_peak_mb"] < max(2 * b["quarter_peak_mb"], b["quarter_peak_mb"] + 64)
        lines.append(
            f"batch {b['rows']:,} rows: keel {b['keel_rows_per_s']:,.0f} rows/s vs bare "
            f"predict {b['bare_rows_per_s']:,.0f}: {ratio:.2f}x (target >= 0.8x) "
            f"{verdict(ratio >= 0.8)}"
        )
        lines.append(
            f"batch peak RSS growth: {b['quarter_peak_mb']:.0f} MB at {b['rows'] // 4:,} "
            f"rows, {b['full_peak_mb']:.0f} MB at {b['rows']:,} rows "
            f"(flat: {verdict(flat)})"
        )
    if "stream" in results:
        s = results["stream"]
        lines.append(
            f"stream: drains {s['drain_events_per_s']:,.0f} events/s; at "
            f"{s['steady_rate']:,.0f} events/s sustained, event-to-prediction p50 "
            f"{s['steady_p50_ms']:.1f} ms, p99 {s['steady_p99_ms']:.1f} ms"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="Shorter runs, smaller batch.")
    parser.add_argument("--json", action="store_true", help="Print the raw figures as JSON.")
    parser.add_argument("--skip-mlflow", action="store_true")
    parser.add_argument("--skip-stream", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed for the load: apt-get install -y wrk")
    sizes = SIZES["quick" if args.quick else "full"]
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="keel-bench-serving-") as tmp_name:
        tmp = Path(tmp_name)
        print(
            "online (one worker each, server on CPU 0, wrk on CPU 1, servers in turns):",
            flush=True,
        )
        home = keel_home(tmp)
        with contextlib.ExitStack() as servers:
            up = {"bare": servers.enter_context(bare_server(tmp))}
            up["keel"] = servers.enter_context(keel_server(home))
            if not args.skip_mlflow:
                up["mlflow"] = servers.enter_context(mlflow_server(tmp))
            results.update(measure(up, sizes, tmp))
        print("batch:", flush=True)
        results["batch"] = run_batch(home, sizes["batch_rows"], sizes["rounds"], tmp)
        if not args.skip_stream:
            print("stream:", flush=True)
            results["stream"] = run_stream(home, sizes["stream_events"], tmp)
    print()
    for line in report(results):
        print(line)
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

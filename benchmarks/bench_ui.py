"""Web UI benchmark (issues 8 and 14, "Performance"), keel and ``mlflow ui`` side by side.

    python benchmarks/bench_ui.py [--quick] [--no-mlflow] [--no-browser] [--keep DIR]
    python benchmarks/bench_ui.py --compare-only [--keep DIR]   # part 3 alone, no 100k runs

1. The runs page of an experiment with 100,000 runs (5 params, 5 metrics, 3 tags each).
   keel: ``GET /ui/p/default/experiments/<id>`` (the whole server-rendered page, 100 runs,
   with the total count). mlflow: the request its runs page makes,
   ``POST /ajax-api/2.0/mlflow/runs/search`` (100 runs; MLflow renders the table in the
   browser, so this is all its server does). Same runs in both (the same generator; each
   written straight into its own SQLite schema in bulk, because logging 100,000 runs
   through a client takes the better part of an hour). One worker each, loopback HTTP with
   keep-alive; median of 15 after 3 warm-ups; target (issue 14): keel under 300 ms, and
   the ratio printed.
2. The same runs page in headless Chromium (Debian's ``chromium``): first contentful paint
   from navigation, and the server's part of it (``responseStart``); median of 5; target
   under 1 s. mlflow's page is a single-page app whose table arrives by a later request, so
   its first paint is not comparable and not measured.
3. Compare views in Chromium, timed from navigation to the last chart drawn: 50 runs x 10
   metrics x 1,000 steps (issue 14, target 1 s) and 100 runs x 20 metrics x 1,000 steps
   (issue 8, target 2 s). The bytes shipped are printed to show the history is bucketed
   on the server.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _peers import peer_env, peer_python  # noqa: E402

SIZES: dict[str, dict[str, Any]] = {
    # compare sets: (runs, metrics, steps, target seconds)
    "full": {"runs": 100_000, "compare": [(50, 10, 1000, 1.0), (100, 20, 1000, 2.0)]},
    "quick": {"runs": 2_000, "compare": [(20, 10, 500, 1.0)]},
}
BULK = 5_000  # runs per seeding transaction
PAGE = 100
REPEATS = 15
T0 = 1_700_000_000_000
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]  # fmt: skip


def run_spec(i: int) -> dict[str, Any]:
    """Run ``i`` of the shared data set (identical for keel and mlflow)."""
    rng = random.Random(i)
    return {
        "name": f"run-{i}",
        "start": T0 + i * 1000,
        "params": {"model": rng.choice(("rf", "gbm", "lr")), "depth": str(rng.randint(2, 12)),
                   "n_estimators": str(rng.choice((50, 100, 200))),
                   "lr": f"{rng.random():.4f}", "seed": str(i)},
        "metrics": {"auc": rng.random(), "acc": rng.random(), "loss": rng.random() * 2,
                    "f1": rng.random(), "rmse": rng.random() * 10},
        "tags": {"team": rng.choice(("fraud", "ads")), "stage": "dev", "owner": f"u{i % 7}"},
    }  # fmt: skip


# -- mlflow side (runs inside the mlflow virtualenv; imports no keel) -----------------------


def mlflow_seed(db: str, artifacts: str, n: int) -> str:
    """Create mlflow's schema and one experiment, then write ``n`` runs into its tables."""
    import sqlite3
    import uuid

    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(f"sqlite:///{db}", artifacts)
    exp_id = store.create_experiment("bench")
    con = sqlite3.connect(db)
    runs, params, metrics, latest, tags = [], [], [], [], []
    for i in range(n):
        spec = run_spec(i)
        rid = uuid.uuid4().hex
        runs.append(
            (
                rid,
                spec["name"],
                "LOCAL",
                "",
                "",
                "bench",
                "FINISHED",
                spec["start"],
                spec["start"] + 500,
                "",
                "active",
                f"{artifacts}/{rid}",
                int(exp_id),
            )
        )
        params += [(k, v, rid) for k, v in spec["params"].items()]
        metrics += [(k, v, spec["start"], rid, 0, 0) for k, v in spec["metrics"].items()]
        latest += [(k, v, spec["start"], 0, 0, rid) for k, v in spec["metrics"].items()]
        tags += [(k, v, rid) for k, v in {**spec["tags"], "mlflow.runName": spec["name"]}.items()]
    con.executemany(
        "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id,"
        " status, start_time, end_time, source_version, lifecycle_stage, artifact_uri,"
        " experiment_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        runs,
    )
    con.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?,?,?)", params)
    con.executemany(
        "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?,?,?,?,?,?)",
        metrics,
    )
    con.executemany(
        "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid)"
        " VALUES (?,?,?,?,?,?)",
        latest,
    )
    con.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?,?,?)", tags)
    con.commit()
    return str(exp_id)  # fmt: skip


# -- keel side ------------------------------------------------------------------------------


def keel_seed(
    home: Path, n: int, compare: list[tuple[int, int, int, float]]
) -> tuple[int, list[list[str]]]:
    """The same ``n`` runs in keel, plus one experiment per compare set; (runs exp id,
    the run ids of each compare set)."""
    from keel.config import Settings
    from keel.store import Metric, open_store

    store = open_store(Settings.for_home(home))
    project = store.projects.get_or_create("default")
    exp = store.experiments.create(project.id, "bench")
    for start in range(0, n, BULK):
        _bulk_runs(store, exp.id, range(start, min(n, start + BULK)))
    sets = []
    for runs, metrics, steps, _target in compare:
        cexp = store.experiments.create(project.id, f"compare-{runs}x{metrics}x{steps}")
        ids = []
        for r in range(runs):
            info = store.runs.create(cexp.id, name=f"c{r}")
            points = [
                Metric(f"m{k}", math.sin(s / 40 + r) + 0.01 * k, s, T0 + s * 1000)
                for k in range(metrics)
                for s in range(steps)
            ]
            for at in range(0, len(points), 100_000):
                store.runs.log_batch(info.id, metrics=points[at : at + 100_000])
            store.runs.log_params(info.id, {"lr": f"{0.001 * (r + 1):.3f}", "depth": str(r % 9)})
            ids.append(info.id)
        sets.append(ids)
    store.close()
    return exp.id, sets


def _bulk_runs(store: Any, exp_id: int, indexes: range) -> None:
    """Write runs ``indexes`` of the shared data set in one transaction, with the statements
    keel's run repository uses (a client would take ~15 ms a run)."""
    import uuid

    from keel.store import _run_sql as sql

    row = "(" + ", ".join("?" * len(sql._METRIC_COLS)) + ")"
    db = store.db
    not_nan, _ = db.flags
    runs, params, tags, points = [], [], [], []
    for i in indexes:
        spec, rid = run_spec(i), uuid.uuid4().hex
        end = spec["start"] + 500
        runs.append((rid, exp_id, None, spec["name"], "FINISHED", spec["start"], end,
                     "active", "bench", "", spec["start"]))  # fmt: skip
        params += [(rid, k, v) for k, v in spec["params"].items()]
        tags += [(rid, k, v) for k, v in spec["tags"].items()]
        points += [(rid, k, v, not_nan, 0, spec["start"]) for k, v in spec["metrics"].items()]
    with db.cursor(write=True) as cur:
        cur.executemany(db.sql(sql._INSERT_RUN), runs)
        cur.executemany(db.sql(sql._INSERT_PARAM), params)
        cur.executemany(db.sql(sql._UPSERT_TAG), tags)
        cur.executemany(db.sql(sql._INSERT_METRIC.format(row)), points)
        cur.executemany(db.sql(sql._UPSERT_LATEST.format(row)), points)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait(url: str, proc: subprocess.Popen[bytes], what: str) -> None:
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{what} did not start")


def timed(client: Any, method: str, url: str, **kw: Any) -> tuple[float, int]:
    for _ in range(3):
        client.request(method, url, **kw).raise_for_status()
    times, size = [], 0
    for _ in range(REPEATS):
        start = time.perf_counter()
        resp = client.request(method, url, **kw)
        resp.raise_for_status()
        size = len(resp.content)
        times.append(time.perf_counter() - start)
    return statistics.median(times), size


def last_token(home: Path, exp_id: int, n: int) -> str | None:
    """The token of the runs page's last page (tokens are sort keys: walk there, untimed)."""
    from keel.config import Settings
    from keel.store import open_store
    from keel.store._page_token import MAX_RESULTS_LIMIT

    store = open_store(Settings.for_home(home))
    token, left = None, n - PAGE
    while left:
        step = min(left, MAX_RESULTS_LIMIT)
        token = store.runs.search([exp_id], max_results=step, page_token=token).next_page_token
        left -= step
    store.close()
    return token


def keel_pages(url: str, exp_id: int, n: int, home: Path) -> dict[str, float]:
    import httpx

    base = f"{url}/ui/p/default/experiments/{exp_id}"
    html = {"accept": "text/html"}
    out = {}
    with httpx.Client(timeout=120) as c:
        out["first page"], size = timed(c, "GET", f"{base}?size={PAGE}", headers=html)
        rows = c.get(f"{base}?size={PAGE}", headers=html).text.count('class="run-select"')
        assert rows == PAGE, f"keel page shows {rows} runs"
        q = {"size": PAGE, "filter": "metrics.auc > 0.5", "order": "metrics.auc DESC"}
        out["filter + sort by metric"], _ = timed(c, "GET", base, params=q, headers=html)
        q = {"size": PAGE, "order": "metrics.auc DESC"}  # a click on a metric's header
        out["sort by metric"], _ = timed(c, "GET", base, params=q, headers=html)
        last = {"size": PAGE, "page": last_token(home, exp_id, n)}
        out["last page"], _ = timed(c, "GET", base, params=last, headers=html)
    out["_bytes"] = size
    return out


def mlflow_pages(url: str, exp_id: str, n: int) -> dict[str, float]:
    import httpx

    api = f"{url}/ajax-api/2.0/mlflow/runs/search"
    body: dict[str, Any] = {"experiment_ids": [exp_id], "max_results": PAGE,
                            "order_by": ["attributes.start_time DESC"],
                            "run_view_type": "ACTIVE_ONLY"}  # fmt: skip
    out = {}
    with httpx.Client(timeout=120) as c:
        out["first page"], size = timed(c, "POST", api, json=body)
        assert len(c.post(api, json=body).json()["runs"]) == PAGE
        sorted_body = {**body, "filter": "metrics.auc > 0.5", "order_by": ["metrics.auc DESC"]}
        out["filter + sort by metric"], _ = timed(c, "POST", api, json=sorted_body)
        token = None
        for _ in range(n // PAGE - 1):  # mlflow pages by opaque token: walk there, untimed
            token = (
                c.post(api, json={**body, "page_token": token} if token else body)
                .json()
                .get("next_page_token")
            )
        out["last page"], _ = timed(c, "POST", api, json={**body, "page_token": token})
    out["_bytes"] = size
    return out  # fmt: skip


FIRST_PAINT = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const paint = performance.getEntriesByName("first-contentful-paint")[0];
  return [paint ? paint.startTime : null, nav.responseStart - nav.requestStart];
}"""


def browser_runs_page(browser: Any, url: str, exp_id: int) -> list[tuple[float, float]]:
    """(first contentful paint, server response time) in ms, per load of the runs page."""
    out = []
    for _ in range(6):
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{url}/ui/p/default/experiments/{exp_id}?size={PAGE}")
        page.wait_for_selector("tr .run-select", state="attached")
        paint = None
        for _ in range(50):  # the paint entry lands a frame after the load
            paint, server = page.evaluate(FIRST_PAINT)
            if paint is not None:
                break
            time.sleep(0.02)
        out.append((float(paint or "nan"), float(server)))
        page.close()
    return out[1:]  # the first load warms Chromium's caches of the static files


def browser_compare(
    browser: Any, url: str, ids: list[str], n_metrics: int
) -> list[tuple[float, int]]:
    page_url = f"{url}/ui/p/default/compare?runs={','.join(ids)}"
    out = []
    for _ in range(4):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        shipped: list[Any] = []

        def keep(response: Any, into: list[Any] = shipped) -> None:
            into.append(response)

        page.on("response", keep)
        start = time.perf_counter()
        page.goto(page_url)
        page.wait_for_selector(f"#compare-charts[data-done='{n_metrics}']", timeout=60_000)
        elapsed = time.perf_counter() - start
        size = sum(len(r.body()) for r in shipped if "/compare/series" in r.url)
        out.append((elapsed, size))
        page.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2,000 runs and a smaller compare")
    ap.add_argument("--no-mlflow", action="store_true", help="keel only")
    ap.add_argument("--no-browser", action="store_true", help="skip the Chromium compare")
    ap.add_argument("--mlflow-python", help="an interpreter with mlflow (default: a peer venv)")
    ap.add_argument("--keep", metavar="DIR", type=Path,
                    help="keep keel's seeded store in DIR and reuse it when DIR already holds "
                    "one of the same size (seeding 100,000 runs takes minutes)")  # fmt: skip
    ap.add_argument("--compare-only", action="store_true",
                    help="only the compare views in Chromium (seeds no runs-page runs; implies "
                    "--no-mlflow)")  # fmt: skip
    ap.add_argument("--mlflow-seed", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.mlflow_seed:
        db, artifacts, n = args.mlflow_seed
        print(mlflow_seed(db, artifacts, int(n)))
        return
    sizes = SIZES["quick" if args.quick else "full"]
    if args.compare_only:
        sizes = {**sizes, "runs": 0}
    work = Path(tempfile.mkdtemp(prefix="keel-bench-ui-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        run(args, sizes, work, procs, args.keep or work / "keel")
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(work, ignore_errors=True)


def seeded(home: Path, n: int, compare: list[Any]) -> tuple[int, list[list[str]]]:
    """keel's store in ``home``: reused when a previous ``--keep`` run seeded the same sizes
    there, seeded (and described in ``home/bench.json``) otherwise."""
    import json

    marker = home / "bench.json"
    sizes = {"runs": n, "compare": [list(c) for c in compare]}
    if marker.exists():
        saved = json.loads(marker.read_text())
        if saved["sizes"] == sizes:
            print(f"[seed] keel: reusing {home}")
            return int(saved["exp_id"]), saved["sets"]
        raise SystemExit(f"{home} holds a store seeded with other sizes; pick another --keep")
    if home.exists() and any(home.iterdir()):
        raise SystemExit(f"{home} is not empty and holds no bench.json; pick another --keep")
    start = time.perf_counter()
    exp_id, sets = keel_seed(home, n, compare)
    print(f"[seed] keel: {n:,} runs + compare sets {compare} in "
          f"{time.perf_counter() - start:.0f} s")  # fmt: skip
    marker.write_text(json.dumps({"sizes": sizes, "exp_id": exp_id, "sets": sets}))
    return exp_id, sets


def run(
    args: argparse.Namespace, sizes: dict[str, Any], work: Path, procs: list[Any], home: Path
) -> None:
    n = sizes["runs"]
    exp_id, cmp_sets = seeded(home, n, sizes["compare"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
    env["KEEL_HOME"] = str(home)
    kport = free_port()
    procs.append(subprocess.Popen(
        [sys.executable, "-m", "keel.cli", "server", "--port", str(kport),
         "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # fmt: skip
    kurl = f"http://127.0.0.1:{kport}"
    wait(f"{kurl}/api/v1/health", procs[-1], "keel server")
    if args.compare_only:
        print(f"\n(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
        browse(kurl, exp_id, n, sizes["compare"], cmp_sets)
        return
    keel = keel_pages(kurl, exp_id, n, home)
    mlflow: dict[str, float] | None = None
    if not args.no_mlflow:
        import httpx

        try:
            mlflow = run_mlflow(work, n, procs, args.mlflow_python)
        except httpx.TimeoutException:  # seen at 100,000 runs: filter + sort by a metric
            print("mlflow: a runs/search request took over 120 s; no mlflow figures")
    print(f"\n(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    print(
        f"Runs page of an experiment with {n:,} runs, {PAGE} per page (median of "
        f"{REPEATS}; keel returns the whole HTML page, {keel['_bytes']:,} bytes)"
    )
    for what in ("first page", "filter + sort by metric", "sort by metric", "last page"):
        k = keel[what]
        verdict = "OK" if k < 0.3 else "OVER 300 ms"
        line = f"  {what:<28} keel {k * 1000:7.1f} ms ({verdict})"
        if mlflow and what in mlflow:
            m = mlflow[what]
            line += f"   mlflow ui {m * 1000:7.1f} ms   ratio {m / k:5.1f}x"
        print(line)
    if not args.no_browser:
        browse(kurl, exp_id, n, sizes["compare"], cmp_sets)


def browse(url: str, exp_id: int, n: int, compare: list[Any], sets: list[list[str]]) -> None:
    from playwright.sync_api import sync_playwright

    path = shutil.which("chromium")
    if path is None:
        raise RuntimeError("Debian's chromium is not installed: apt-get install -y chromium")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        if n:
            runs_page_in_browser(browser, url, exp_id, n)
        else:  # --compare-only: warm the process and Chromium's cache of the static files
            # the way part 2 does (untimed), so "cold" is the compare's own first drawing
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{url}/ui/p/default/experiments/{exp_id}")
            page.close()
        for (runs, metrics, steps, target), ids in zip(compare, sets, strict=True):
            results = browser_compare(browser, url, ids, metrics)
            print(f"\nCompare view, {runs} runs x {metrics} metrics x {steps:,} steps "
                  f"({runs * metrics * steps:,} stored points), Chromium:")  # fmt: skip
            for i, (secs, size) in enumerate(results):
                label = "cold" if i == 0 else f"warm {i}"
                verdict = "OK" if secs < target else f"OVER {target:g} s"
                print(
                    f"  {label:<8} all charts drawn in {secs:5.2f} s ({verdict}); "
                    f"series shipped {size / 1e6:.2f} MB"
                )
        browser.close()


def runs_page_in_browser(browser: Any, url: str, exp_id: int, n: int) -> None:
    loads = browser_runs_page(browser, url, exp_id)
    paint = statistics.median(p for p, _ in loads)
    server = statistics.median(s for _, s in loads)
    verdict = "OK" if paint < 1000 else "OVER 1 s"
    print(
        f"\nRuns page of {n:,} runs in Chromium (median of {len(loads)} loads): "
        f"first contentful paint {paint:.0f} ms ({verdict}), server {server:.0f} ms"
    )


def run_mlflow(work: Path, n: int, procs: list[Any], python_path: str | None) -> dict[str, float]:
    python = Path(python_path) if python_path else peer_python("mlflow", ["mlflow==3.*"])
    db, artifacts = work / "mlflow.db", work / "mlflow-artifacts"
    start = time.perf_counter()
    seeded = subprocess.run(
        [str(python), __file__, "--mlflow-seed", str(db), str(artifacts), str(n)],
        env=peer_env(), capture_output=True, text=True, check=True)  # fmt: skip
    exp_id = seeded.stdout.strip().splitlines()[-1]
    print(f"[seed] mlflow: {n} runs in {time.perf_counter() - start:.0f} s")
    port = free_port()
    procs.append(subprocess.Popen(
        [str(python), "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{db}",
         "--default-artifact-root", str(artifacts), "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1"],
        env=peer_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait(f"{url}/health", procs[-1], "mlflow server")
    return mlflow_pages(url, exp_id, n)


if __name__ == "__main__":
    main()

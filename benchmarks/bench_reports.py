"""Comparison reports and search at scale.

* ``compare``: ``keel.reports.compare`` of two git commits with 50 runs each (5 metrics with
  20-step histories, 6 params), Markdown and HTML rendered. Target: under 2 s.
* ``search``: keyword search over 100,000 runs (name, params, tags) of which 10,000 carry a
  note, plus 10,000 comments, on SQLite (FTS5) and PostgreSQL (tsvector + GIN). The rows are
  bulk-inserted, the index rebuilt once (timed), then each query runs ``--reps`` times.
  Target: median under 100 ms.

    python benchmarks/bench_reports.py [--runs 100000] [--notes 10000] [--reps 15] [--pg URI]

No peer: no other open-source tracker ships keyword search over runs and notes to compare
with (MLflow's search_runs filters fields; it has no full text).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from keel.config import Settings
from keel.store import Metric, Store, open_store

WORDS = (
    "churn model calibration isotonic platt gradient boosting forest logistic regression "
    "feature drift leakage holdout fold seed warmup learning rate schedule batch epoch "
    "overfit underfit threshold recall precision retention customer segment cohort "
    "baseline ablation sweep tuning embedding tokenizer augmentation imbalance weighting"
).split()
HOUR = 3_600_000  # seeded objects are an hour old: a refresh has nothing new to take in
QUERIES = ["churn model calibration", "isotonic", "learning rate warmup", "' OR 1=1; --"]


def _text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def seed(store: Store, runs: int, notes: int) -> int:
    """Bulk rows straight into the tables (the repositories would take minutes)."""
    from sqlalchemy import insert

    from keel.store._schema import ParamRow, RunRow, TagRow, table
    from keel.store._schema_comments import CommentRow

    rng = random.Random(0)
    project = store.projects.get_or_create("bench")
    exp = store.experiments.create(project.id, "bench")
    now = int(time.time() * 1000)
    chunk = 10_000
    for start in range(0, runs, chunk):
        rows, params, tags, comments = [], [], [], []
        for i in range(start, min(start + chunk, runs)):
            run_id = uuid.uuid4().hex
            rows.append({
                "id": run_id, "experiment_id": exp.id, "parent_id": None,
                "name": f"{rng.choice(WORDS)}-{i}", "status": "FINISHED",
                "start_time": now - HOUR - i, "end_time": now - HOUR - i + 1,
                "updated_at": now - HOUR - i + 1, "lifecycle": "active",
                "user": f"user{i % 20}", "note": _text(rng, 30) if i < notes else "",
            })  # fmt: skip
            params += [
                {"run_id": run_id, "key": "model", "value": rng.choice(WORDS)},
                {"run_id": run_id, "key": "lr", "value": str(rng.random())},
            ]
            tags.append({"run_id": run_id, "key": "team", "value": rng.choice(WORDS)})
            if i < notes:
                comments.append({
                    "project_id": project.id, "subject_kind": "run", "subject_id": run_id,
                    "author": f"user{i % 20}", "body": _text(rng, 20), "context": "",
                    "created_at": now - HOUR,
                })  # fmt: skip
        with store.db.write() as conn:
            conn.execute(insert(table(RunRow)), rows)
            conn.execute(insert(table(ParamRow)), params)
            conn.execute(insert(table(TagRow)), tags)
            if comments:
                conn.execute(insert(table(CommentRow)), comments)
    return project.id


def bench_search(store: Store, label: str, runs: int, notes: int, reps: int) -> None:
    t0 = time.perf_counter()
    pid = seed(store, runs, notes)
    seeded = time.perf_counter() - t0
    t0 = time.perf_counter()
    indexed = store.search.rebuild(pid)
    built = time.perf_counter() - t0
    idle = []
    for _ in range(reps):
        t0 = time.perf_counter()
        store.search.refresh(pid)
        idle.append((time.perf_counter() - t0) * 1000)
    print(f"[{label}] seeded {runs:,} runs + {notes:,} notes + {notes:,} comments in "
          f"{seeded:.1f} s; index rebuilt ({indexed:,} docs) in {built:.1f} s; "
          f"refresh with nothing new: median {statistics.median(idle):.0f} ms")  # fmt: skip
    # what keel search takes in before it searches: late tags, a note, a deletion
    page = store.runs.search([store.experiments.get_by_name(pid, "bench").id], max_results=12)
    edited = [r.info.id for r in page.runs]
    for run_id in edited[:10]:
        store.runs.set_tags(run_id, {"verdict": "discarded"})
    store.runs.update(edited[10], note="late note")
    store.runs.delete(edited[11])
    t0 = time.perf_counter()
    took = store.search.refresh(pid)
    changed = (time.perf_counter() - t0) * 1000
    print(f"[{label}] refresh after 10 late tags, 1 note, 1 deletion: {took} objects "
          f"re-indexed in {changed:.0f} ms")  # fmt: skip
    for query in QUERIES:
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            hits = store.search.search(pid, query, limit=20)
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        p95 = times[max(0, int(len(times) * 0.95) - 1)]
        med = statistics.median(times)
        print(f"[{label}] search {query!r:28} {len(hits):2} hits  median {med:6.1f} ms  "
              f"p95 {p95:6.1f} ms  (target < 100 ms) {'OK' if med < 100 else 'SLOW'}")  # fmt: skip


def bench_compare(store: Store, per_side: int, reps: int) -> None:
    import keel.reports
    from keel.tracking import TrackingClient

    client = TrackingClient(store, "compare")
    rng = random.Random(1)
    for commit in ("a" * 40, "b" * 40):
        for _ in range(per_side):
            run = client.create_run("bench", tags={"keel.git.commit": commit})
            metrics = [
                Metric(key, rng.random() + step / 20, step, 0)
                for key in ("val_loss", "auc", "f1", "latency_ms", "accuracy")
                for step in range(20)
            ]
            params = {f"p{k}": str(rng.choice([1, 2, 3])) for k in range(6)}
            client.log_batch(run.id, metrics=metrics, params=params)
            client.end_run(run.id)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        report = keel.reports.compare("a" * 40, "b" * 40, client=client, repo=Path("/"))
        report.to_markdown()
        report.to_html()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(f"[sqlite] compare 2x{per_side} runs ({len(report.metrics)} metrics, "
          f"{len(report.curves)} curves): median {med:.2f} s (target < 2 s) "
          f"{'OK' if med < 2 else 'SLOW'}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--notes", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--pg", default=os.environ.get("KEEL_TEST_POSTGRES_URI"))
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Settings.for_home(Path(tmp) / "compare"))
        bench_compare(store, 50, 5)
        store.close()
        store = open_store(Settings.for_home(Path(tmp) / "sqlite"))
        bench_search(store, "sqlite", args.runs, args.notes, args.reps)
        store.close()
        if args.pg:
            bench_postgres(args.pg, Path(tmp), args)


@contextlib.contextmanager
def pg_store(uri: str, tmp: Path) -> Iterator[Store]:
    """A store on a fresh PostgreSQL database next to ``uri``'s, dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"keel_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(uri, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(uri).set(database=name).render_as_string(hide_password=False)
        store = open_store(Settings.for_home(tmp / "pg", db_uri=url))
        try:
            yield store
        finally:
            store.close()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def bench_postgres(uri: str, tmp: Path, args: argparse.Namespace) -> None:
    with pg_store(uri, tmp) as store:
        bench_search(store, "postgres", args.runs, args.notes, args.reps)


if __name__ == "__main__":
    main()

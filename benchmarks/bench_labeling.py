"""Labeling: export 50,000 tasks x 3 annotations (Label Studio JSON and aggregated labels),
agreement over them, reading their 200,000 rows through the repository pages, the
next-task round trip (take + answer) on the embedded store, and the server's labeling
project list (API and the UI page with progress) and annotator queue at 100,000 tasks.

The tasks go in through ``add_tasks`` (one transaction); the 150,000 annotations are bulk
inserted with SQLAlchemy Core for set-up speed only (not measured). The export pages
through the repository and streams to a file exactly as ``keel label export -o`` does
(``write_labelstudio``); the in-memory list (``export_labelstudio``) is timed beside it
and checked to hold the same tasks. Wall time and CPU time are both printed, as the
wall time of a shared machine varies with its load.

    python benchmarks/bench_labeling.py [--tasks 50000] [--annotators 3] [--rounds 200]

Targets (issue 17): export 50,000 x 3 in under 5 s (Label Studio: minutes, LS#5873);
next-task round trip under 50 ms; project list and annotator queue under 200 ms server time
at 100,000 tasks (Label Studio: lists slow past 10k tasks, LS#9637). Server time is the
in-process ASGI call (Starlette's TestClient), no network. Agreement is timed after one
tiny warm-up call (numpy and pandas imported). A Label Studio peer is not run here.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

EXPORT_TARGET_S = 5.0
ROUND_TRIP_TARGET_MS = 50.0
SERVER_TARGET_MS = 200.0


def seed(store, pid: int, tasks: int, annotators: int) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import insert

    from keel import labeling
    from keel.store._schema import table
    from keel.store._schema_labeling import AnnotationRow, LabelAssignmentRow, LabelTaskRow
    from keel.store.labeling import NewTask

    labeling.create_project(
        store, pid, "bench", {"kind": "classification", "labels": ["neg", "pos", "neutral"]},
        overlap=annotators,
    )  # fmt: skip
    ids = store.labeling.add_tasks(
        pid, "bench", [NewTask({"text": f"review number {i} " * 4}) for i in range(tasks)]
    )
    lp = store.labeling.get_project(pid, "bench").id
    labels = ["neg", "pos", "neutral"]
    now = int(time.time() * 1000)
    ann_rows, as_rows = [], []
    for n, task_id in enumerate(ids):
        for a in range(annotators):
            label = labels[(n + (a == 2 and n % 5 == 0)) % 3]
            ann_rows.append({"label_project_id": lp, "task_id": task_id, "annotator": f"a{a}",
                             "result_json": json.dumps({"label": label}), "lead_ms": 1500,
                             "created_at": now})  # fmt: skip
            as_rows.append({"label_project_id": lp, "task_id": task_id, "annotator": f"a{a}",
                            "state": "submitted", "reason": "", "assigned_at": now,
                            "updated_at": now})  # fmt: skip
    with store.db.write() as conn:
        conn.execute(insert(table(AnnotationRow)), ann_rows)
        conn.execute(insert(table(LabelAssignmentRow)), as_rows)
        conn.execute(table(LabelTaskRow).update().values(taken=annotators))


def _median_ms(call, rounds: int) -> tuple[float, float, float]:  # type: ignore[no-untyped-def]
    """Median and p95 wall ms of ``call``, and its median CPU ms (the process's, so the
    in-process server thread's too): on a loaded machine the wall time varies by tens of
    per cent between runs of the same code, the CPU time far less."""
    times, cpu = [], []
    for i in range(rounds):
        t0, c0 = time.perf_counter(), time.process_time()
        call(i)
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    times.sort()
    return (
        statistics.median(times),
        times[max(int(len(times) * 0.95) - 1, 0)],
        statistics.median(cpu),
    )


def bench_server(store, pid: int, tasks: int, rounds: int) -> None:  # type: ignore[no-untyped-def]
    """The labeling project list (API, UI page with each project's progress) and the
    annotator queue (next + answer through the API) with ``tasks`` tasks in one project."""
    import warnings

    from keel import labeling
    from keel.server import ServerOptions, create_app
    from keel.store.labeling import NewTask

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    labeling.create_project(
        store, pid, "big", {"kind": "classification", "labels": ["a", "b"]}, overlap=2
    )
    store.labeling.add_tasks(pid, "big", [NewTask({"text": f"t{i}"}) for i in range(tasks)])
    options = ServerOptions(allowed_hosts=("testserver",))
    with TestClient(create_app(store.settings, options, store=store)) as client:
        api = f"/api/v1/projects/{pid}/labeling"

        def answer(i: int) -> None:
            who = f"ann{i % 8}"
            got = client.post(f"{api}/big/next", json={"annotator": who}).json()["task"]
            r = client.post(
                f"{api}/big/tasks/{got['id']}/annotations",
                json={"annotator": who, "result": {"label": "a"}},
            )
            assert r.status_code == 200, r.text

        total = sum(
            store.labeling.progress(pid, p.name).tasks for p in store.labeling.list_projects(pid)
        )
        listed = _median_ms(lambda i: client.get(api).raise_for_status(), rounds)
        page = _median_ms(lambda i: client.get("/ui/p/default/labeling").raise_for_status(), rounds)
        queue = _median_ms(answer, rounds)
    print(f"server, {total:,} tasks in {len(store.labeling.list_projects(pid))} labeling projects "
          f"({tasks:,} in one), median / p95 ms (target < {SERVER_TARGET_MS:g} ms), "
          "median CPU ms:")  # fmt: skip
    print(
        f"  GET project list (API)            {listed[0]:6.1f} / {listed[1]:6.1f}, {listed[2]:6.1f}"
    )
    print(f"  GET project list page with progress {page[0]:4.1f} / {page[1]:6.1f}, {page[2]:6.1f}")
    print(f"  annotator queue: next + answer    {queue[0]:6.1f} / {queue[1]:6.1f}, {queue[2]:6.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=50_000)
    parser.add_argument("--annotators", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--server-tasks", type=int, default=100_000)
    args = parser.parse_args()

    from keel import labeling
    from keel.config import Settings
    from keel.store import open_store
    from keel.store.labeling import NewTask

    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Settings.for_home(Path(tmp) / "home"))
        pid = store.projects.get_or_create("default").id
        t0 = time.perf_counter()
        seed(store, pid, args.tasks, args.annotators)
        print(
            f"seeded {args.tasks:,} tasks x {args.annotators} in {time.perf_counter() - t0:.1f} s"
        )

        path = Path(tmp) / "export.json"
        t0, c0 = time.perf_counter(), time.process_time()
        with path.open("wb") as fh:  # what `keel label export NAME -o FILE` does
            written = labeling.write_labelstudio(store, pid, "bench", fh)
        ls_s, ls_cpu = time.perf_counter() - t0, time.process_time() - c0
        size = path.stat().st_size
        t0 = time.perf_counter()
        exported = labeling.export_labelstudio(store, pid, "bench")
        text = json.dumps(exported, ensure_ascii=False)
        list_s = time.perf_counter() - t0
        assert json.loads(path.read_bytes()) == exported
        del exported, text
        t0 = time.perf_counter()
        rows = labeling.export_rows(store, pid, "bench")
        rows_s = time.perf_counter() - t0
        labeling.agreement([(0, "a", "x"), (0, "b", "x")])  # imports, not measured
        t0 = time.perf_counter()
        agree = labeling.project_agreement(store, pid, "bench")
        agree_s = time.perf_counter() - t0
        t0, c0 = time.perf_counter(), time.process_time()
        n_rows = sum(1 for _ in labeling.iter_tasks(store, pid, "bench"))
        n_rows += sum(1 for _ in labeling.iter_annotations(store, pid, "bench"))
        read_s, read_cpu = time.perf_counter() - t0, time.process_time() - c0
        print(f"Label Studio JSON export (keel label export -o): {written:,} tasks, "
              f"{size / 1e6:.0f} MB in {ls_s:.2f} s, {ls_cpu:.2f} s CPU "
              f"(target < {EXPORT_TARGET_S:g} s)")  # fmt: skip
        print(f"  the same as a Python list (export_labelstudio + json.dumps): {list_s:.2f} s")
        print(f"aggregated labels export: {len(rows):,} rows in {rows_s:.2f} s")
        print(f"agreement (Cohen x{len(agree.pairs)}, Fleiss, Krippendorff + per label): "
              f"{agree_s:.2f} s, alpha {agree.krippendorff_alpha}")  # fmt: skip
        print(f"read {n_rows:,} rows (tasks + annotations) through the repository pages: "
              f"{read_s:.2f} s, {read_cpu:.2f} s CPU")  # fmt: skip

        labeling.create_project(
            store, pid, "queue", {"kind": "classification", "labels": ["a", "b"]}, overlap=2
        )
        store.labeling.add_tasks(
            pid, "queue", [NewTask({"text": str(i)}) for i in range(args.tasks)]
        )
        times = []
        for i in range(args.rounds):
            who = f"ann{i % 4}"
            t0 = time.perf_counter()
            task = store.labeling.next_task(pid, "queue", who)
            assert task is not None
            labeling.submit(store, pid, "queue", task.id, who, {"label": "a"})
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        p50, p95 = statistics.median(times), times[int(len(times) * 0.95) - 1]
        print(f"next-task round trip (take + answer) over {args.tasks:,} tasks: p50 {p50:.1f} ms, "
              f"p95 {p95:.1f} ms (target < {ROUND_TRIP_TARGET_MS:g} ms)")  # fmt: skip
        bench_server(store, pid, args.server_tasks, min(args.rounds, 100))
        store.close()
    print(f"load average: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

"""Labeling: export 50,000 tasks x 3 annotations (Label Studio JSON and aggregated labels),
and the next-task round trip (take + answer) on the embedded store.

The tasks go in through ``add_tasks`` (one transaction); the 150,000 annotations are bulk
inserted with SQLAlchemy Core for set-up speed only (not measured). The export pages
through the repository and streams to a file exactly as ``keel label export -o`` does
(``write_labelstudio``); the in-memory list (``export_labelstudio``) is timed beside it
and checked to hold the same tasks. Wall time and CPU time are both printed, as the
wall time of a shared machine varies with its load.

    python benchmarks/bench_labeling.py [--tasks 50000] [--annotators 3] [--rounds 200]

Targets (issue 17): export 50,000 x 3 in under 5 s (Label Studio: minutes, LS#5873);
next-task round trip under 50 ms. A Label Studio peer is not run here: `label-studio`
(Django, ~300 MB of dependencies) is left for a later run in its own virtualenv.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=50_000)
    parser.add_argument("--annotators", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=200)
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
        t0 = time.perf_counter()
        agree = labeling.project_agreement(store, pid, "bench")
        agree_s = time.perf_counter() - t0
        print(f"Label Studio JSON export (keel label export -o): {written:,} tasks, "
              f"{size / 1e6:.0f} MB in {ls_s:.2f} s, {ls_cpu:.2f} s CPU "
              f"(target < {EXPORT_TARGET_S:g} s)")  # fmt: skip
        print(f"  the same as a Python list (export_labelstudio + json.dumps): {list_s:.2f} s")
        print(f"aggregated labels export: {len(rows):,} rows in {rows_s:.2f} s")
        print(f"agreement (Cohen x{len(agree.pairs)}, Fleiss, Krippendorff + per label): "
              f"{agree_s:.2f} s, alpha {agree.krippendorff_alpha}")  # fmt: skip

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
        store.close()
    print(f"load average: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

"""What tracking costs inside a pipeline step.

A 200-step chain run in-process with every step executing (``cache=False``), once with
steps that only compute and once with steps that also call ``keel.log_metric``. The
difference per step is what a step's tracking adds (target: at most 1 ms). The same DAG as
plain function calls is printed beside it, and the cost of one fresh step end to end.

Run: python -m benchmarks.bench_step_tracking [--steps 200] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import keel
from keel.config import Settings
from keel.store import Store, open_store


@keel.step
def quiet(x: int) -> int:
    return x + 1


@keel.step
def logged(x: int) -> int:
    keel.log_metric("x", x)
    return x + 1


def _chain(step: Any, n: int) -> keel.pipelines.Pipeline:
    @keel.pipeline(name=f"chain_{step.name}")
    def chain(n: int = n) -> Any:
        x = 0
        for _ in range(n):
            x = step(x)
        return x

    return chain


def _time_run(pipe: Any, store: Store, n: int) -> float:
    start = time.perf_counter()
    result = pipe.run({"n": n}, store=store, cache=False)
    took = time.perf_counter() - start
    assert result.value() == n
    return took


def _writes_per_step(pipe: Any, store: Store, n: int) -> float:
    """Write transactions (each one a commit, fsynced under synchronous=full) per step."""
    db: Any = store.db
    real = db.cursor
    count = 0

    def counting(*, write: bool) -> Any:
        nonlocal count
        count += write
        return real(write=write)

    db.cursor = counting
    try:
        _time_run(pipe, store, n)
    finally:
        db.cursor = real
    return count / n


def _plain(n: int) -> float:
    def inc(x: int) -> int:
        return x + 1

    start = time.perf_counter()
    x = 0
    for _ in range(n):
        x = inc(x)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--synchronous", default="full", help="SQLite durability (full: fsync every commit)"
    )
    args = parser.parse_args()
    n = args.steps
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.for_home(Path(tmp) / "home", sqlite_synchronous=args.synchronous)
        store = open_store(settings)
        quiet_chain, logged_chain = _chain(quiet, n), _chain(logged, n)
        _time_run(quiet_chain, store, 5)  # warm imports and the schema
        _time_run(logged_chain, store, 5)
        without, with_ = [], []
        for _ in range(args.repeats):  # interleaved, so drift in machine load hits both
            without.append(_time_run(quiet_chain, store, n))
            with_.append(_time_run(logged_chain, store, n))
        writes = (_writes_per_step(quiet_chain, store, n), _writes_per_step(logged_chain, store, n))
        store.close()
    base, tracked = statistics.median(without), statistics.median(with_)
    plain = _plain(n)
    print(
        f"{n}-step chain, in-process, every step executing (median of {args.repeats}, "
        f"SQLite synchronous={args.synchronous}):"
    )
    print(f"  without log_metric: {base:.3f} s  ({base / n * 1000:.2f} ms/step)")
    print(f"  with one log_metric per step: {tracked:.3f} s  ({tracked / n * 1000:.2f} ms/step)")
    print(f"  tracking adds {(tracked - base) / n * 1000:+.3f} ms/step (target <= 1 ms)")
    print(
        f"  write transactions per step: {writes[0]:.2f} without, {writes[1]:.2f} with log_metric"
    )
    print(f"  plain function calls, same DAG: {plain / n * 1e6:.2f} us/step")


if __name__ == "__main__":
    main()

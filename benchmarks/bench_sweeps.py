"""Per-trial cost of a sweep: ``keel.sweep`` vs plain Optuna with its RDB storage.

Both run the same trivial objective (one float and one int parameter, TPE, seeded) for the
same number of trials on SQLite files in the same folder: Optuna stores its study in its own
RDB schema (``sqlite:///optuna.db``, wrapped in its cached storage as ``create_study`` does);
keel stores the study in keel's store and also records the sweep as a parent run and every
trial as a child run with its params, metric and tags. Runs alternate so machine load hits
both alike; the median of each is compared.

    python benchmarks/bench_sweeps.py [--trials 100] [--reps 3] [--postgres URI]

Target (issue 15): keel's time per trial at most 1.2x Optuna's.

``--retune N`` measures VR_2 on two of scikit-learn's bundled datasets (breast cancer,
digits), ``--seeds`` times each: a sweep of an SVC (N trials) on the first 80% of the rows,
then the data changes (new rows arrive: all of them) and the sweep runs again; the new
generation starts with the old best configurations enqueued, and its TPE sampler sees the
old trials as prior knowledge until 10 trials of its own completed (their values calibrated
by the re-runs, ``keel/tuning/_sweep_prior.py``). It counts the trials the warm-started
generation needs to come within 0.5% of (a) the old best cross-validated score and (b) the
best a cold N-trial sweep finds on the new data, each beside the cold sweep's count.
Target: within 30% of N.

(a) is the issue's wording, but the old best is a score *on the old data*: the new data
need not reach it. On breast cancer it does not: in every seed the cold full sweep's best
on the new data is below the old best (0.975-0.979 vs 0.978-0.980), so (a) only counts
trials to a point near the top of a noisy landscape (3-fold accuracy moves in steps of
~0.5%). (b), the best a full sweep reaches on the new data, is the target that means
"the warm start finds what a full re-tune would".
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

TARGET = 1.2


def _params(trial: Any) -> float:
    x = trial.suggest_float("x", -10.0, 10.0)
    n = trial.suggest_int("n", 1, 10)
    return float((x - 2.0) ** 2 + n)


def run_optuna(uri: str, trials: int) -> float:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(
        storage=uri, sampler=optuna.samplers.TPESampler(seed=0), study_name=f"b{time.time_ns()}"
    )
    start = time.perf_counter()
    study.optimize(_params, n_trials=trials)
    return (time.perf_counter() - start) / trials


def run_keel(home: Path, trials: int, db_uri: str | None) -> float:
    import keel
    from keel.config import Settings
    from keel.store import open_store
    from keel.tracking import TrackingClient

    settings = Settings.for_home(home, db_uri=db_uri) if db_uri else Settings.for_home(home)
    client = TrackingClient(open_store(settings), "bench")
    space = {
        "x": {"type": "float", "low": -10.0, "high": 10.0},
        "n": {"type": "int", "low": 1, "high": 10},
    }

    def objective(p: dict[str, Any]) -> float:
        return float((p["x"] - 2.0) ** 2 + p["n"])

    start = time.perf_counter()
    keel.sweep(objective, space, trials=trials, seed=0, name=f"b{time.time_ns()}", client=client)
    seconds = (time.perf_counter() - start) / trials
    client.store.close()
    return seconds


@contextmanager
def fresh_databases(uri: str, n: int) -> Iterator[list[str]]:
    """``n`` new, empty PostgreSQL databases next to ``uri``, dropped afterwards (Optuna and
    keel both keep an ``alembic_version`` table: they must never share a database)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    names = [f"bench_sweeps_{uuid.uuid4().hex[:8]}" for _ in range(n)]
    admin = create_engine(uri, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield [
            make_url(uri).set(database=name).render_as_string(hide_password=False) for name in names
        ]
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def compare(label: str, optuna_uri: str, keel_db: str | None, root: Path, args: Any) -> None:
    keel_s, optuna_s = [], []
    for rep in range(args.reps):
        optuna_s.append(run_optuna(optuna_uri, args.trials))
        keel_s.append(run_keel(root / f"keel-{label}-{rep}", args.trials, keel_db))
    k, o = statistics.median(keel_s), statistics.median(optuna_s)
    ratio = k / o
    verdict = "OK" if ratio <= TARGET else "ABOVE TARGET"
    print(
        f"{label:<10} {args.trials} trials, TPE: keel {k * 1000:7.1f} ms/trial  "
        f"optuna RDB {o * 1000:7.1f} ms/trial  ratio {ratio:4.2f}x "
        f"(target <= {TARGET}x) {verdict}",
        flush=True,
    )


def _svc_objective(X: Any, y: Any) -> Any:
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    def svc(p: dict[str, Any]) -> float:
        model = make_pipeline(StandardScaler(), SVC(C=p["C"], gamma=p["gamma"]))
        return float(cross_val_score(model, X, y, cv=3).mean())

    return svc


def _trials_to_reach(trials: list[Any], target: float) -> int | None:
    best = -1.0
    for i, t in enumerate(sorted(trials, key=lambda t: t.number), 1):
        if t.values:
            best = max(best, t.values[0])
        if best >= target * 0.995:
            return i
    return None


DATASETS = ("breast_cancer", "digits")


def retune(root: Path, n: int, seeds: int, datasets: list[str]) -> None:
    from sklearn import datasets as bundled

    space = {
        "C": {"type": "float", "low": 1e-3, "high": 1e3, "log": True},
        "gamma": {"type": "float", "low": 1e-5, "high": 1.0, "log": True},
    }
    for label in datasets:
        X, y = getattr(bundled, f"load_{label}")(return_X_y=True)
        for seed in range(seeds):
            _retune_once(root / f"retune-{label}-{seed}", label, X, y, space, n, seed)


def _retune_once(home: Path, label: str, X: Any, y: Any, space: Any, n: int, seed: int) -> None:
    """One seed: the old sweep on 80% of the rows, then the warm and the cold one on all."""
    import keel
    from keel.config import Settings
    from keel.store import open_store
    from keel.tracking import TrackingClient

    cut = int(len(y) * 0.8)
    client = TrackingClient(open_store(Settings.for_home(home)), "b")

    def run(name: str, rows: int, seed: int) -> Any:
        return keel.sweep(
            _svc_objective(X[:rows], y[:rows]), space, direction="maximize", trials=n,
            seed=seed, name=name, data=("rows", rows), client=client,
        )  # fmt: skip

    old = run("svc", cut, 100 + seed)
    warm = run("svc", len(y), seed)  # the data changed: a new generation, warm-started
    cold = run("svc-cold", len(y), seed)  # the same search on the new data, from scratch
    old_best = old.best.values[0]  # type: ignore[union-attr]
    new_best = cold.best.values[0]  # type: ignore[union-attr]
    for what, target in (("old best", old_best), ("cold best", new_best)):
        w, c = _trials_to_reach(warm.trials, target), _trials_to_reach(cold.trials, target)
        verdict = "OK" if w is not None and w <= 0.3 * n else "ABOVE TARGET"
        print(
            f"re-tune {label:<13} seed {seed} {what} {target:.4f}: warm start reaches it in "
            f"{w if w is not None else f'>{n}'} of {n} trials ({(w or n) / n:.0%}), cold "
            f"start in {c if c is not None else f'>{n}'} (target <= 30%) {verdict}",
            flush=True,
        )
    client.store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--postgres", default=os.environ.get("KEEL_TEST_POSTGRES_URI"))
    parser.add_argument("--retune", type=int, default=0, metavar="N", help="VR_2, N trials")
    parser.add_argument("--seeds", type=int, default=3, help="VR_2: seeds per dataset")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-sweeps-") as tmp:
        root = Path(tmp)
        if args.retune:
            retune(root, args.retune, args.seeds, args.datasets)
            return
        compare("SQLite", f"sqlite:///{root / 'optuna.db'}", None, root, args)
        if args.postgres:
            with fresh_databases(args.postgres, 2) as (optuna_db, keel_db):
                compare("PostgreSQL", optuna_db, keel_db, root, args)
    load = os.getloadavg()
    print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()

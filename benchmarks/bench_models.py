"""Model packages: the cost of verification, and predict latency through the loaded predictor.

The "peer" here is the bare model itself, in the same process: plain ``skops.io.load``
for loading, and ``estimator.predict`` for prediction. Targets (issue 5):

* loading a signed, scanned ~100 MB package: verification adds at most 20% to plain loading;
* single-row ``predict`` through the loaded predictor: within 1.5x of the bare model;
* a random forest served through its ONNX twin: at least 10x faster than bare scikit-learn.

Run: ``python benchmarks/bench_models.py`` (about 2-3 minutes on 2 cores).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from keel.models import Keyring, load, save

TREES = 170  # about 100 MB of skops


def median_time(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved(fns: list[Callable[[], Any]], rounds: int, calls: int = 1) -> list[float]:
    """Median seconds per call of each function, measured in alternation.

    The machine is shared: alternating the contenders spreads any load spike over all of
    them instead of penalising whichever ran during it.
    """
    for fn in fns:
        for _ in range(min(calls, 20)):
            fn()
    samples: list[list[float]] = [[] for _ in fns]
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            samples[i].append((time.perf_counter() - start) / calls)
    return [statistics.median(s) for s in samples]


def line(what: str, keel_s: float, bare_s: float, verdict: str) -> str:
    return f"{what:<58} keel {keel_s * 1000:9.3f} ms  bare {bare_s * 1000:9.3f} ms  {verdict}"


def bench_load(root: Path) -> bool:
    import skops.io as sio
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.random((20_000, 20)), columns=[f"f{i}" for i in range(20)])
    y = rng.integers(0, 2, len(X))  # noise: deep trees, a big model
    model = RandomForestClassifier(n_estimators=TREES, n_jobs=2, random_state=0).fit(X, y)
    keyring = Keyring(root / "keys")
    keyring.generate("bench")
    pkg = root / "big"
    save(model, pkg, input_example=X.head(20), keyring=keyring, sign=True, onnx=False)
    size_mb = sum(p.stat().st_size for p in pkg.iterdir()) / 1e6
    untrusted = sio.get_untrusted_types(file=pkg / "model.skops")

    def bare() -> Any:
        return sio.load(pkg / "model.skops", trusted=untrusted)

    def keel_off() -> Any:
        return load(pkg, trust="off", keyring=keyring)

    def keel_strict() -> Any:
        return load(pkg, trust="strict", keyring=keyring)

    bare_s, off_s, strict_s = interleaved([bare, keel_off, keel_strict], rounds=7)
    overhead = strict_s / off_s - 1
    ok = overhead <= 0.20
    print(f"package size: {size_mb:.0f} MB ({len(model.estimators_)} trees)")
    print(
        line("load: strict (signature+hashes) vs trust=off, both scanned", strict_s, off_s,
             f"overhead {overhead * 100:5.1f}% (target <= 20%) {'OK' if ok else 'ABOVE TARGET'}")
    )  # fmt: skip
    print(
        line("load: strict vs plain skops.io.load (no scan, no checks)", strict_s, bare_s,
             f"overhead {(strict_s / bare_s - 1) * 100:5.1f}% (context)")
    )  # fmt: skip
    return ok


def bench_predict(root: Path) -> bool:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.random((5_000, 20)), columns=[f"f{i}" for i in range(20)])
    y = (X["f0"] + X["f1"] * 2 + rng.normal(0, 0.3, len(X)) > 1.5).astype(int)
    row = X.iloc[[7]]
    ok = True
    logreg = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
    forest = RandomForestClassifier(n_estimators=100, max_depth=12, random_state=0).fit(X, y)
    for name, model in (("scaler+logreg", logreg), ("random forest (100 trees)", forest)):
        pkg = root / name.split()[0].replace("+", "-")
        save(model, pkg, input_example=X.head(500), onnx=True)
        native = load(pkg, trust="off", flavor="sklearn")
        served = load(pkg, trust="off")
        bare_s, keel_s, onnx_s = interleaved(
            [lambda m=model: m.predict(row), lambda p=native: p.predict(row),
             lambda p=served: p.predict(row)],
            rounds=15, calls=40,
        )  # fmt: skip
        ratio = keel_s / bare_s
        good = ratio <= 1.5
        ok &= good
        verdict = f"ratio {ratio:4.2f}x (target <= 1.5x) {'OK' if good else 'ABOVE TARGET'}"
        print(line(f"1-row predict, {name}, sklearn flavor", keel_s, bare_s, verdict))
        if served.flavor != "onnx":
            print(f"  {name}: ONNX parity did not hold; not served")
            continue
        speedup = bare_s / onnx_s
        verdict = f"speed-up {speedup:5.1f}x"
        if "forest" in name:
            good = speedup >= 10
            ok &= good
            verdict += f" (target >= 10x) {'OK' if good else 'BELOW TARGET'}"
        print(line(f"1-row predict, {name}, served via ONNX", onnx_s, bare_s, verdict))
    return ok


def main() -> int:
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ok = bench_predict(root)
        ok &= bench_load(root)
    print("ALL TARGETS MET" if ok else "SOME TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

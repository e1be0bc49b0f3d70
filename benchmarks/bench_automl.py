"""AutoML: keel vs FLAML at the same budget, on the same splits, one process per fit.

Targets (issue 16): keel's held-out test score at least FLAML's on most datasets (every
score reported, both tools, each seed); keel's winning artifact size and single-row predict
latency beside FLAML's; keel's whole run (search, final fit, test score, packaging, signing
and registering the winner) within 5% of the budget.

Datasets: scikit-learn's bundled breast_cancer, wine, digits and diabetes (california housing
is downloaded on first use, so it is not offline and not here), and two that ship inside PyPI
packages: statsmodels' ``fair`` (6,366 marriages; binary target: any affair) and
palmerpenguins' ``penguins`` (344 rows; species, with categorical columns and missing
values). The driver writes each dataset's train/test split
(``train_test_split(test_size=0.2, random_state=seed)``, stratified for classes) to CSV;
each tool then runs in its own fresh process — keel in this interpreter, FLAML in its own
virtualenv — fits within the budget with one thread per model, and reports the test score,
the wall time of the fit (keel: ``keel.automl`` with registering), the artifact size (keel:
the saved package folder, signed, with its ONNX twin when parity holds; FLAML: the pickled
``AutoML`` object) and the median single-row ``predict`` latency over 200 rows. With
``--concurrent`` both tools of one split run at the same time (each one thread; halves the
wall time on a machine with two free cores, same conditions for both).

The FLAML virtualenv (it also reads the PyPI-shipped datasets, so /root/venv stays as is)::

    python3 -m venv /root/flaml-venv
    /root/flaml-venv/bin/pip install 'flaml[automl]' statsmodels palmerpenguins

Run: ``python benchmarks/bench_automl.py --budget 60 --seeds 0 1 2 --concurrent`` (about
30 minutes on two free cores). ``--no-peer`` runs keel alone (no FLAML virtualenv needed;
the PyPI-shipped datasets are then skipped unless their packages import here): the budget
columns (``keel s``, ``over``) and keel's recorded plan vs actual (``planned``, ``inner``)
are what it is for.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

DATASETS = {
    "breast_cancer": ("binary", "roc_auc"),
    "wine": ("multiclass", "accuracy"),
    "digits": ("multiclass", "accuracy"),
    "diabetes": ("regression", "r2"),
    "fair": ("binary", "roc_auc"),
    "penguins": ("multiclass", "accuracy"),
}
#: Datasets read in the peer's virtualenv (their packages are installed there only).
PYPI_DATASETS = {
    "fair": (
        "import statsmodels.api as sm\n"
        "d = sm.datasets.fair.load_pandas().data\n"
        "y = (d.pop('affairs') > 0).astype(int)\n"
    ),
    "penguins": (
        "import palmerpenguins\n"
        "d = palmerpenguins.load_penguins().dropna(subset=['species'])\n"
        "y = d.pop('species')\n"
    ),
}

COMMON = """
import json, os, sys, time, statistics
import numpy as np, pandas as pd
os.environ.setdefault("OMP_NUM_THREADS", "1")
d = pd.read_csv(sys.argv[1])
part = d.pop("__part__")
y_all = d.pop("__target__")
X_tr, X_te = d[part == "train"].reset_index(drop=True), d[part == "test"].reset_index(drop=True)
y_tr, y_te = y_all[part == "train"].to_numpy(), y_all[part == "test"].to_numpy()
task, metric, budget, seed = sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5])

def score(proba_or_pred):
    from sklearn.metrics import accuracy_score, r2_score, roc_auc_score
    if metric == "roc_auc":
        return float(roc_auc_score(y_te, np.asarray(proba_or_pred)[:, 1]))
    if metric == "accuracy":
        return float(accuracy_score(y_te, proba_or_pred))
    return float(r2_score(y_te, proba_or_pred))

def latency(predict):
    times = []
    for i in range(200):
        row = X_te.iloc[[i % len(X_te)]]
        t = time.perf_counter(); predict(row); times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000
"""

KEEL = (
    COMMON
    + """
import tempfile, pathlib
import keel
import keel.models
from keel.tuning import automl
keel.init(project="bench-automl")
keel.tracking.get_client().store  # open (and migrate) the store before the clock starts
frame = X_tr.assign(target=y_tr)
t = time.perf_counter()
res = automl(frame, "target", metric=metric, budget=budget, seed=seed, register=True,
             task=task, experiment="bench", register_as=f"bench-{seed}")
fit_s = time.perf_counter() - t
model = res.model
out = model.predict_proba(X_te) if metric == "roc_auc" else model.predict(X_te)
with tempfile.TemporaryDirectory() as tmp:
    keel.models.save(model, pathlib.Path(tmp) / "pkg", input_example=X_tr.head(20))
    size = sum(p.stat().st_size for p in (pathlib.Path(tmp) / "pkg").rglob("*") if p.is_file())
print(json.dumps({"score": score(out), "fit_s": fit_s, "size_kb": size / 1024,
                  "latency_ms": latency(model.predict), "winner": ",".join(res.ensemble),
                  "inner_s": res.elapsed_s, "package_s": res.package_s,
                  "planned_s": res.timing.get("planned_s", 0.0),
                  "serve": res.version.serve_flavor if res.version else "",
                  "candidates": len(res.leaderboard)}))
"""
)

FLAML = (
    COMMON
    + """
import pickle, logging
from flaml import AutoML
logging.getLogger("flaml").setLevel(logging.ERROR)
automl = AutoML()
t = time.perf_counter()
automl.fit(X_tr, y_tr, task="regression" if task == "regression" else "classification",
           metric=metric, time_budget=budget, seed=seed, n_jobs=1, verbose=0)
fit_s = time.perf_counter() - t
out = automl.predict_proba(X_te) if metric == "roc_auc" else automl.predict(X_te)
size = len(pickle.dumps(automl))
print(json.dumps({"score": score(out), "fit_s": fit_s, "size_kb": size / 1024,
                  "latency_ms": latency(automl.predict), "winner": automl.best_estimator}))
"""
)


def write_split(name: str, seed: int, folder: Path, peer: str) -> Path:
    import pandas as pd
    from sklearn.model_selection import train_test_split

    if name in PYPI_DATASETS:
        raw = folder / f"{name}.csv"
        if not raw.exists():
            code = PYPI_DATASETS[name] + f"d.assign(__target__=y).to_csv({str(raw)!r}, index=False)"
            subprocess.run([peer, "-c", code], check=True)
        frame = pd.read_csv(raw)
        y = frame.pop("__target__")
        X = frame
    else:
        from sklearn import datasets

        X, y = getattr(datasets, f"load_{name}")(return_X_y=True, as_frame=True)
    strat = None if DATASETS[name][0] == "regression" else y
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=0.2, random_state=seed, stratify=strat
    )
    parts = [X_tr.assign(__target__=y_tr, __part__="train"),
             X_te.assign(__target__=y_te, __part__="test")]  # fmt: skip
    path = folder / f"{name}-{seed}.csv"
    pd.concat(parts).to_csv(path, index=False)
    return path


def run(python: str, code: str, args: list[str], env: dict[str, str]) -> dict[str, object]:
    proc = subprocess.run(
        [python, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=3600,
    )
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def run_pair(
    opts: argparse.Namespace, args: list[str], keel_env: dict[str, str], env: dict[str, str]
) -> tuple[dict[str, object], dict[str, object]]:
    """keel and FLAML on one split: one after the other, or side by side (``--concurrent``)."""
    if opts.no_peer:
        return run(sys.executable, KEEL, args, keel_env), {}
    if not opts.concurrent:
        return run(sys.executable, KEEL, args, keel_env), run(opts.peer_python, FLAML, args, env)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        k = pool.submit(run, sys.executable, KEEL, args, keel_env)
        f = pool.submit(run, opts.peer_python, FLAML, args, env)
        return k.result(), f.result()


HEADER = (
    f"{'dataset':14} {'seed':>4} {'metric':8} {'keel':>8} {'flaml':>8} {'keel s':>7} "
    f"{'over':>6} {'flaml s':>7} {'keel KB':>8} {'flaml KB':>9} {'keel ms':>8} {'flaml ms':>8}"
    "  winners (keel | flaml)"
)


SOLO_HEADER = (
    f"{'dataset':14} {'seed':>4} {'metric':8} {'keel':>8} {'keel s':>7} {'over':>6} "
    f"{'planned':>7} {'inner':>6} {'pack s':>6} {'cands':>5} {'KB':>6} {'ms':>6} "
    f"{'serve':>7}  winner"
)


def solo_line(name: str, seed: int, metric: str, k: dict[str, Any], b: float) -> str:
    over = 100 * (float(k["fit_s"]) / b - 1)
    return (
        f"{name:14} {seed:>4} {metric:8} {k['score']:8.4f} {k['fit_s']:7.1f} {over:+5.1f}% "
        f"{k['planned_s']:7.1f} {k['inner_s']:6.1f} {k['package_s']:6.2f} {k['candidates']:5} "
        f"{k['size_kb']:6.0f} {k['latency_ms']:6.2f} {k['serve']:>7}  {k['winner']}"
    )


def line(name: str, seed: int, metric: str, k: dict[str, Any], f: dict[str, Any], b: float) -> str:
    over = 100 * (float(k["fit_s"]) / b - 1)
    return (
        f"{name:14} {seed:>4} {metric:8} {k['score']:8.4f} {f['score']:8.4f} "
        f"{k['fit_s']:7.1f} {over:+5.1f}% {f['fit_s']:7.1f} {k['size_kb']:8.0f} "
        f"{f['size_kb']:9.0f} {k['latency_ms']:8.2f} {f['latency_ms']:8.2f}  "
        f"{k['winner']} | {f['winner']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", type=float, default=60.0, help="Seconds per fit, both tools.")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--peer-python", default="/root/flaml-venv/bin/python")
    parser.add_argument("--concurrent", action="store_true", help="Run both tools at once.")
    parser.add_argument("--no-peer", action="store_true", help="keel alone (no FLAML venv).")
    opts = parser.parse_args()
    if opts.no_peer:
        opts.peer_python = sys.executable  # reads the PyPI-shipped datasets if they import here
    elif not Path(opts.peer_python).exists():
        sys.exit(f"no FLAML interpreter at {opts.peer_python}: see this script's docstring")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "DO_NOT_TRACK": "true"}
    keel_env = {**env, "KEEL_HOME": tempfile.mkdtemp(prefix="bench-automl-")}
    print(f"budget {opts.budget:g} s per fit; load average {os.getloadavg()[0]:.2f} at start")
    print(SOLO_HEADER if opts.no_peer else HEADER, flush=True)
    done = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in opts.datasets:
            task, metric = DATASETS[name]
            for seed in opts.seeds:
                try:
                    split = write_split(name, seed, Path(tmp), opts.peer_python)
                except subprocess.CalledProcessError:
                    print(f"{name:14} {seed:>4} skipped: its package does not import here")
                    break
                args = [str(split), task, metric, str(opts.budget), str(seed)]
                k, f = run_pair(opts, args, keel_env, env)
                if "error" in k or "error" in f:
                    print(
                        f"{name:14} {seed:>4} error: keel={k.get('error')} flaml={f.get('error')}"
                    )
                    continue
                done.append((k, f))
                shown = solo_line(name, seed, metric, k, opts.budget) if opts.no_peer else None
                print(shown or line(name, seed, metric, k, f, opts.budget), flush=True)
    (solo_summary if opts.no_peer else summary)(done, opts.budget)


def summary(done: list[tuple[dict[str, Any], dict[str, Any]]], budget: float) -> None:
    if not done:
        return
    scores = [(float(k["score"]), float(f["score"])) for k, f in done]
    wins = sum(ks > fs + 1e-9 for ks, fs in scores)
    ties = sum(abs(ks - fs) <= 1e-9 for ks, fs in scores)
    lat = statistics.median(float(k["latency_ms"]) / float(f["latency_ms"]) for k, f in done)
    size = statistics.median(float(k["size_kb"]) / float(f["size_kb"]) for k, f in done)
    over = max(float(k["fit_s"]) / budget - 1 for k, _f in done)
    within = sum(float(k["fit_s"]) <= 1.05 * budget for k, _f in done)
    print(
        f"keel >= FLAML on {wins + ties}/{len(done)} (wins {wins}, ties {ties}); median ratios "
        f"keel/FLAML: single-row latency {lat:.2f}, artifact size {size:.2f}; keel within 5% of "
        f"the budget on {within}/{len(done)} (worst {100 * over:+.1f}%); load average "
        f"{os.getloadavg()[0]:.2f} at end"
    )


def solo_summary(done: list[tuple[dict[str, Any], dict[str, Any]]], budget: float) -> None:
    if not done:
        return
    over = max(float(k["fit_s"]) / budget - 1 for k, _f in done)
    within = sum(float(k["fit_s"]) <= 1.05 * budget for k, _f in done)
    onnx = sum(k["serve"] == "onnx" for k, _f in done)
    print(
        f"keel within 5% of the budget on {within}/{len(done)} (worst {100 * over:+.1f}%); "
        f"ONNX twin served on {onnx}/{len(done)}; load average {os.getloadavg()[0]:.2f} at end"
    )


if __name__ == "__main__":
    main()

"""AutoML: keel vs FLAML at the same budget, on the same splits, one process per fit.

Targets (issue 16): keel's held-out test score at least FLAML's on most datasets (every
score reported, both tools, each seed); keel's winning artifact size and single-row predict
latency beside FLAML's.

The driver writes each dataset's train/test split (scikit-learn's bundled breast_cancer,
wine, digits, diabetes; ``train_test_split(test_size=0.2, random_state=seed)``, stratified
for classes) to an ``.npz`` file; each tool then runs in its own fresh process — keel in
this interpreter, FLAML (``flaml[automl]``) in its own virtualenv (``/tmp/peer-flaml`` or
``--peer-python``) — fits within the budget with one thread per model, and reports the test
score, the fit's wall time, the artifact size (keel: the saved package folder, signed, with
its ONNX twin when parity holds; FLAML: the pickled ``AutoML`` object) and the median
single-row ``predict`` latency over 200 rows. Run:
``python benchmarks/bench_automl.py --budget 60 --seeds 0 1 2`` (about 25 minutes).
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

DATASETS = {
    "breast_cancer": ("binary", "roc_auc"),
    "wine": ("multiclass", "accuracy"),
    "digits": ("multiclass", "accuracy"),
    "diabetes": ("regression", "r2"),
}

COMMON = """
import json, os, sys, time, statistics
import numpy as np, pandas as pd
os.environ.setdefault("OMP_NUM_THREADS", "1")
d = np.load(sys.argv[1], allow_pickle=False)
cols = [f"f{i}" for i in range(d["X_tr"].shape[1])]
X_tr, X_te = pd.DataFrame(d["X_tr"], columns=cols), pd.DataFrame(d["X_te"], columns=cols)
y_tr, y_te = d["y_tr"], d["y_te"]
task, metric, budget, seed = sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5])

def score(proba_or_pred):
    from sklearn.metrics import accuracy_score, r2_score, roc_auc_score
    if metric == "roc_auc":
        return float(roc_auc_score(y_te, proba_or_pred[:, 1]))
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
res = automl(frame, "target", metric=metric, budget=budget, seed=seed, register=False,
             task=task, experiment="bench")
fit_s = time.perf_counter() - t
model = res.model
out = model.predict_proba(X_te) if metric == "roc_auc" else model.predict(X_te)
with tempfile.TemporaryDirectory() as tmp:
    keel.models.save(model, pathlib.Path(tmp) / "pkg", input_example=X_tr.head(20))
    size = sum(p.stat().st_size for p in (pathlib.Path(tmp) / "pkg").rglob("*") if p.is_file())
print(json.dumps({"score": score(out), "fit_s": fit_s, "size_kb": size / 1024,
                  "latency_ms": latency(model.predict), "winner": ",".join(res.ensemble),
                  "inner_s": res.elapsed_s}))
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


def write_split(name: str, seed: int, folder: Path) -> Path:
    import numpy as np
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    strat = None if DATASETS[name][0] == "regression" else y
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=0.2, random_state=seed, stratify=strat
    )
    path = folder / f"{name}-{seed}.npz"
    np.savez(path, X_tr=X_tr, X_te=X_te, y_tr=y_tr, y_te=y_te)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", type=float, default=60.0, help="Seconds per fit, both tools.")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--peer-python", default="/tmp/peer-flaml/bin/python")
    opts = parser.parse_args()
    if not Path(opts.peer_python).exists():
        sys.exit(
            f"no FLAML interpreter at {opts.peer_python}: python -m venv /tmp/peer-flaml && "
            "/tmp/peer-flaml/bin/pip install 'flaml[automl]'"
        )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "DO_NOT_TRACK": "true"}
    keel_env = {**env, "KEEL_HOME": tempfile.mkdtemp(prefix="bench-automl-")}
    print(f"budget {opts.budget:g} s per fit; load average {os.getloadavg()[0]:.2f} at start")
    header = f"{'dataset':14} {'seed':>4} {'metric':8} {'keel':>8} {'flaml':>8}"
    header += f" {'keel s':>7} {'flaml s':>7} {'keel KB':>8} {'flaml KB':>9}"
    header += f" {'keel ms':>8} {'flaml ms':>8}  winners (keel | flaml)"
    print(header)
    wins = ties = total = 0
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in opts.datasets:
            task, metric = DATASETS[name]
            for seed in opts.seeds:
                split = write_split(name, seed, Path(tmp))
                args = [str(split), task, metric, str(opts.budget), str(seed)]
                k = run(sys.executable, KEEL, args, keel_env)
                f = run(opts.peer_python, FLAML, args, env)
                rows.append({"dataset": name, "seed": seed, "keel": k, "flaml": f})
                if "error" in k or "error" in f:
                    print(
                        f"{name:14} {seed:>4} error: keel={k.get('error')} flaml={f.get('error')}"
                    )
                    continue
                total += 1
                ks, fs = float(k["score"]), float(f["score"])  # type: ignore[arg-type]
                wins += ks > fs + 1e-9
                ties += abs(ks - fs) <= 1e-9
                print(
                    f"{name:14} {seed:>4} {metric:8} {ks:8.4f} {fs:8.4f} "
                    f"{k['fit_s']:7.1f} {f['fit_s']:7.1f} {k['size_kb']:8.0f} {f['size_kb']:9.0f} "
                    f"{k['latency_ms']:8.2f} {f['latency_ms']:8.2f}  {k['winner']} | {f['winner']}"
                )
    if total:
        lat = statistics.median(
            float(r["keel"]["latency_ms"]) / float(r["flaml"]["latency_ms"])  # type: ignore[index]
            for r in rows
            if "error" not in r["keel"] and "error" not in r["flaml"]
        )
        print(
            f"keel >= FLAML on {wins + ties}/{total} (wins {wins}, ties {ties}); median single-row "
            f"latency ratio keel/FLAML {lat:.2f}; load average {os.getloadavg()[0]:.2f} at end"
        )


if __name__ == "__main__":
    main()

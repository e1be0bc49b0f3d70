"""How fast the ``keel`` CLI answers: read commands and help, each a fresh process.

    PYTHONPATH=src python -m benchmarks.cli_startup [--repeats 7] [--json out.json]

Seeds a KEEL_HOME (embedded SQLite + local blobs) with a few runs, registered model
versions, a dataset, a deployment and alerts, then times every command as a user runs it
(``python -m keel.cli ...`` in a subprocess, the median of ``--repeats`` runs after one
warm-up). Targets: read commands < 150 ms, ``--help`` < 100 ms. Where mlflow is importable
by this interpreter, ``mlflow --help`` and ``mlflow experiments search`` over a local
store are timed next to keel's equivalents.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import keel
from benchmarks._peers import QUIET_ENV, compile_keel

READ_TARGET_S = 0.150
HELP_TARGET_S = 0.100

#: (label, argv after ``keel``, target seconds, peer argv after ``python -m mlflow`` or None)
COMMANDS: list[tuple[str, list[str], float, list[str] | None]] = [
    ("keel --help", ["--help"], HELP_TARGET_S, ["--help"]),
    ("keel runs --help", ["runs", "--help"], HELP_TARGET_S, ["runs", "--help"]),
    ("keel models --help", ["models", "--help"], HELP_TARGET_S, None),
    ("keel runs list", ["runs", "list"], READ_TARGET_S, None),
    ("keel experiments list", ["experiments", "list"], READ_TARGET_S, ["experiments", "search"]),
    ("keel models list", ["models", "list"], READ_TARGET_S, None),
    ("keel alerts list", ["alerts", "list"], READ_TARGET_S, None),
    ("keel datasets list", ["datasets", "list"], READ_TARGET_S, None),
    ("keel deploy list", ["deploy", "list"], READ_TARGET_S, None),
]

SEED = r"""
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from sklearn.linear_model import LogisticRegression

import keel
from keel.models import log_model

home = Path(sys.argv[1])
keel.init(home=home)
rng = np.random.default_rng(0)
X = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
y = (X["a"] + X["b"] > 0).astype(int)
for i, c in enumerate((0.1, 1.0, 10.0)):
    with keel.start_run(experiment="startup", capture_env=False) as run:
        run.log_params({"C": c})
        run.log_metric("auc", 0.8 + i / 100)
        model = LogisticRegression(C=c).fit(X, y)
        log_model(model, "model", input_example=X.head(3), registered_model_name="churn",
                  onnx=False)
data = home.parent / "customers.csv"
X.to_csv(data, index=False)
keel.log_dataset("customers", str(data))
spec = {"name": "churn-api",
        "endpoints": [{"name": "churn", "versions": [{"model": "churn/3"}]}]}
(home.parent / "deploy.yaml").write_text(yaml.safe_dump(spec))
"""


def _seed(home: Path, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-c", SEED, str(home)], env=env, check=True)
    keel = [sys.executable, "-m", "keel.cli"]
    subprocess.run(
        [*keel, "deploy", "apply", str(home.parent / "deploy.yaml")],
        env=env,
        check=True,
        capture_output=True,
    )
    subprocess.run([sys.executable, "-c", ALERTS], env=env, check=True)


ALERTS = r"""
from keel.config import Settings
from keel.store import open_store
from keel.store.alerts import NewAlert

settings = Settings.from_env()
store = open_store(settings)
pid = store.projects.get_or_create(settings.project).id
for i, sev in enumerate(("warning", "critical", "info")):
    store.alerts.record(pid, NewAlert(kind="drift", severity=sev, dedup_key=f"k{i}",
                                      title=f"drift on feature f{i}", deployment="churn-api"))
"""


def _time(argv: list[str], env: dict[str, str], cwd: Path, repeats: int) -> tuple[float, float]:
    """Median (wall, CPU user+sys) seconds of ``argv``; CPU is the steadier figure on a
    loaded machine."""
    subprocess.run(argv, env=env, cwd=cwd, check=True, capture_output=True)  # warm-up
    walls, cpus = [], []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed:\n{proc.stderr.decode()}")
    return statistics.median(walls), statistics.median(cpus)


def _has_mlflow() -> bool:
    probe = [sys.executable, "-c", "import mlflow.cli"]
    return subprocess.run(probe, capture_output=True).returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", type=Path, default=None, help="Also write results here.")
    parser.add_argument(
        "--dir", type=Path, default=None, help="Seed here once and reuse (default: a temp dir)."
    )
    parser.add_argument("--only", default="", help="Only commands whose label contains this.")
    parser.add_argument("--no-peer", action="store_true", help="Skip the mlflow timings.")
    args = parser.parse_args()
    compile_keel()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = args.dir.resolve() if args.dir else Path(tmp_name)
        home = tmp / "keel-home"
        env = {**os.environ, **QUIET_ENV, "KEEL_HOME": str(home), "COLUMNS": "160"}
        # the commands run in ``tmp``: a relative PYTHONPATH (``src``) would silently time
        # another keel install
        env["PYTHONPATH"] = str(Path(keel.__file__).resolve().parents[1])
        env.pop("KEEL_SERVER_URL", None)
        env.pop("KEEL_DB_URI", None)
        env.pop("KEEL_ARTIFACTS_URI", None)
        if not (tmp / "seeded").exists():
            tmp.mkdir(parents=True, exist_ok=True)
            _seed(home, env)
            (tmp / "seeded").touch()
        peer = not args.no_peer and _has_mlflow()
        peer_env = {**env, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp / 'mlflow.db'}"}
        if peer:  # create mlflow's store once, so its timings are reads too
            subprocess.run(
                [sys.executable, "-m", "mlflow", "experiments", "search"],
                env=peer_env,
                cwd=tmp,
                check=True,
                capture_output=True,
            )
        results = []
        print(
            f"{'command':<26}{'keel ms':>9}{'cpu ms':>8}{'target':>8}  {'':<6}"
            f"{'mlflow ms':>10}{'ratio':>8}"
        )
        for label, argv, target, peer_argv in COMMANDS:
            if args.only not in label:
                continue
            keel_s, cpu_s = _time([sys.executable, "-m", "keel.cli", *argv], env, tmp, args.repeats)
            row = {"command": label, "keel_s": keel_s, "keel_cpu_s": cpu_s, "target_s": target}
            line = f"{label:<26}{keel_s * 1000:>9.0f}{cpu_s * 1000:>8.0f}{target * 1000:>8.0f}  "
            line += f"{'OK' if keel_s <= target else 'SLOW':<6}"
            if peer and peer_argv is not None:
                peer_s, _ = _time(
                    [sys.executable, "-m", "mlflow", *peer_argv], peer_env, tmp, args.repeats
                )
                row |= {"mlflow": " ".join(peer_argv), "mlflow_s": peer_s}
                line += f"{peer_s * 1000:>10.0f}{peer_s / keel_s:>7.1f}x"
            print(line, flush=True)
            results.append(row)
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

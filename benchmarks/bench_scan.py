"""Scanners on the red-team corpus: keel vs picklescan and modelscan, side by side.

The corpus (``tests/models/redteam.py``) is built fresh in a temporary folder: payloads
from public bypasses of picklescan, modelscan and fickling, keel's own issue 13 gadgets,
and archive/compression tricks. Each would create a canary file if a plain loader ran it.
Legitimate files (scikit-learn pickles and joblib dumps of what keel's flavors save) are
added to count false alarms. The peers run in their own virtualenv
(``benchmarks/.venv-scanners``), one process per file, by their exit codes:
picklescan non-zero = flagged, modelscan 1 = issues found (other non-zero = error; a
scanner error counts as "flagged" for the peer too, which is generous to it).

Run: ``python benchmarks/bench_scan.py`` (about a minute once the peer venv exists). To use
scanners installed elsewhere, point ``KEEL_SCANNERS_VENV`` at that virtualenv (one holding
picklescan and modelscan, e.g. ``/root/scanners``).
"""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "models"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redteam

from benchmarks._peers import peer_env, peer_python
from keel.models import scan_file


def _legit(root: Path) -> list[Path]:
    import joblib
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = np.random.default_rng(0).random((200, 8))
    y = (X[:, 0] > 0.5).astype(int)
    models = {
        "logreg": make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y),
        "forest": RandomForestClassifier(n_estimators=10, random_state=0).fit(X, y),
    }
    paths = []
    for name, model in models.items():
        for protocol in (2, 4):
            p = root / f"legit-{name}-p{protocol}.pkl"
            p.write_bytes(pickle.dumps(model, protocol=protocol))
            paths.append(p)
        p = root / f"legit-{name}.joblib"
        joblib.dump(model, p, compress=3)
        paths.append(p)
    np.save(root / "legit-weights.npy", X)
    paths.append(root / "legit-weights.npy")
    buf = io.BytesIO()
    np.savez(buf, a=X, b=y)
    (root / "legit-arrays.npz").write_bytes(buf.getvalue())
    paths.append(root / "legit-arrays.npz")
    return paths


def _peer_flags(python: Path, tool: str, path: Path) -> str:
    """``refused`` (flagged), ``error`` (the scanner failed or skipped it) or ``MISSED``."""
    bindir = python.parent
    if tool == "picklescan":
        cmd = [str(bindir / "picklescan"), "--path", str(path)]
    else:
        cmd = [str(bindir / "modelscan"), "-p", str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=peer_env(), timeout=120)
    if tool == "modelscan":  # 0 clean, 1 issues, 2 error, 3 nothing it could scan
        return {0: "MISSED", 1: "refused"}.get(proc.returncode, "error")
    # picklescan: 0 clean, 1 dangerous globals found, 2 scan error
    return {0: "MISSED", 1: "refused"}.get(proc.returncode, "error")


def _scanners() -> Path:
    venv = os.environ.get("KEEL_SCANNERS_VENV")
    if venv:
        return Path(venv) / "bin" / "python"
    return peer_python("scanners", ["picklescan", "modelscan"])


def main() -> None:
    python = _scanners()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        canary = root / "CANARY"
        cases = redteam.build(root / "corpus", canary)
        legit = _legit(root / "corpus")
        rows = []
        keel_s = 0.0
        for case in cases:
            start = time.perf_counter()
            keel_flag = "refused" if not scan_file(case.path).safe else "MISSED"
            keel_s += time.perf_counter() - start
            ps = _peer_flags(python, "picklescan", case.path)
            ms = _peer_flags(python, "modelscan", case.path)
            rows.append((case.name, case.attack, keel_flag, ps, ms))
        false = {"keel": 0, "picklescan": 0, "modelscan": 0}
        for path in legit:
            false["keel"] += not scan_file(path).safe
            false["picklescan"] += _peer_flags(python, "picklescan", path) != "MISSED"
            false["modelscan"] += _peer_flags(python, "modelscan", path) != "MISSED"
        print(f"{'payload':<26} {'attack':<26} keel  picklescan  modelscan")
        for name, attack, k, p, m in rows:
            print(f"{name:<26} {attack:<26} {k:<7} {p:<11} {m}")
        n = len(rows)
        for i, tool in ((2, "keel"), (3, "picklescan"), (4, "modelscan")):
            counts = {v: sum(r[i] == v for r in rows) for v in ("refused", "error", "MISSED")}
            print(f"{tool:<11} refused {counts['refused']}/{n}, error {counts['error']}, "
                  f"missed {counts['MISSED']}")  # fmt: skip
        print(f"false alarms (flagged or error) on {len(legit)} legitimate files: {false}")
        print(f"keel scan time for the whole corpus: {keel_s * 1000:.1f} ms")
        print(f"canary created: {canary.exists()}")


if __name__ == "__main__":
    main()

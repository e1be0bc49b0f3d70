"""Drift detection: keel vs Evidently's DataDriftPreset, side by side, plus keel at 1M rows.

Targets (issue 7):
- 100,000 x 50 numeric columns, reference vs current: keel >= 10x faster than Evidently
  0.7's DataDriftPreset and <= 1/3 of its peak memory;
- 1,000,000 x 50 in under 10 s, with memory that does not grow with the number of windows.

Each tool runs in its own fresh process (Evidently in its own virtualenv, pandas < 3) that
generates the same data from the same seed, times only the drift computation, and reports
its peak resident memory (``ru_maxrss``, the whole process: interpreter, libraries and
data). Both use the same test for numbers -- normalised Wasserstein distance, threshold
0.1 (what Evidently picks for more than 1,000 rows) -- and the drifted columns they report
are compared. Run: ``python benchmarks/bench_drift.py`` (about 2 minutes; ``--quick`` for a
smoke run).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks._peers import peer_env, peer_python, ratio_line  # noqa: E402

SHIFTED = 5  # columns 0..4 of the current data are shifted by 0.3 standard deviations

DATA = """
import numpy as np
def make(rows, cols, seed):
    rng = np.random.default_rng(seed)
    ref = {f"f{i}": rng.normal(0.0, 1.0, rows) for i in range(cols)}
    cur = {f"f{i}": rng.normal(0.3 if i < SHIFTED else 0.0, 1.0, rows) for i in range(cols)}
    return ref, cur
""".replace("SHIFTED", str(SHIFTED))

KEEL = (
    DATA
    + """
import json, resource, sys, time
from keel.monitoring import DriftConfig, compare
rows, cols, test = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
ref, cur = make(rows, cols, 0)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
report = compare(ref, cur, DriftConfig(numeric_test=test))
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "peak_mb": peak / 1024, "data_mb": base / 1024,
                  "drifted": sorted(f.column for f in report.drifted)}))
"""
)

EVIDENTLY = (
    DATA
    + """
import json, resource, sys, time, warnings
warnings.filterwarnings("ignore")
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset
rows, cols = int(sys.argv[1]), int(sys.argv[2])
ref, cur = make(rows, cols, 0)
ref, cur = pd.DataFrame(ref), pd.DataFrame(cur)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
snapshot = Report([DataDriftPreset()]).run(current_data=cur, reference_data=ref)
result = snapshot.dict()
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
drifted = sorted(m["config"]["column"] for m in result["metrics"]
                 if m["config"].get("type", "").endswith("ValueDrift")
                 and float(m["value"]) >= float(m["config"].get("threshold", 0.1)))
print(json.dumps({"seconds": seconds, "peak_mb": peak / 1024, "data_mb": base / 1024,
                  "drifted": drifted}))
"""
)

WINDOWS = """
import json, resource, sys, time
import numpy as np
from keel.monitoring import compare_profiles, profile
rows, cols, windows = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(0)
reference = profile({f"f{i}": rng.normal(size=rows) for i in range(cols)})
rss = []
start = time.perf_counter()
for w in range(windows):
    batch = {f"f{i}": rng.normal(0.01 * w, 1.0, rows) for i in range(cols)}
    compare_profiles(reference, profile(batch, like=reference))
    del batch
    rss.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
print(json.dumps({"seconds": time.perf_counter() - start, "peak_mb_after": rss}))
"""


def _run(python: str | Path, code: str, *args: object) -> dict[str, object]:
    proc = subprocess.run(
        [str(python), "-c", textwrap.dedent(code), *map(str, args)],
        capture_output=True,
        text=True,
        env=peer_env(),
        timeout=900,
    )
    if proc.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    quick = "--quick" in sys.argv
    rows, cols = (20_000, 20) if quick else (100_000, 50)
    evidently = peer_python("evidently", ["evidently==0.7.*", "pandas<3"])
    print(f"drift, {rows:,} x {cols} numeric columns, {SHIFTED} shifted by 0.3 sd")
    peer = _run(evidently, EVIDENTLY, rows, cols)
    ours = _run(sys.executable, KEEL, rows, cols, "wasserstein")
    ks = _run(sys.executable, KEEL, rows, cols, "ks")
    print(
        ratio_line(
            "keel (Wasserstein) vs Evidently DataDriftPreset",
            float(ours["seconds"]),
            float(peer["seconds"]),
            "evidently",
            10.0,
        )
    )
    print(
        ratio_line(
            "keel (KS, the default) vs Evidently",
            float(ks["seconds"]),
            float(peer["seconds"]),
            "evidently",
            10.0,
        )
    )
    share = float(ours["peak_mb"]) / float(peer["peak_mb"])
    print(
        f"{'peak RSS (whole process)':<48} keel {ours['peak_mb']:8.0f} MB  evidently "
        f"{peer['peak_mb']:8.0f} MB  share {share:5.2f}  (target <= 0.33) "
        f"{'OK' if share <= 1 / 3 else 'ABOVE TARGET'}"
    )
    print(
        f"{'  of which data + imports before the run':<48} keel {ours['data_mb']:8.0f} MB  "
        f"evidently {peer['data_mb']:8.0f} MB"
    )
    same = ours["drifted"] == peer["drifted"]
    print(
        f"drifted columns: keel {ours['drifted']}, evidently {peer['drifted']}, "
        f"{'same' if same else 'DIFFERENT'}; keel KS: {ks['drifted']}"
    )
    big_rows = 200_000 if quick else 1_000_000
    big = _run(sys.executable, KEEL, big_rows, 50, "ks")
    verdict = "OK" if float(big["seconds"]) < 10 else "ABOVE TARGET"
    print(
        f"keel {big_rows:,} x 50 (KS): {big['seconds']:.2f} s (target < 10 s) {verdict}, "
        f"peak RSS {big['peak_mb']:.0f} MB ({big['data_mb']:.0f} MB before the run)"
    )
    windows = _run(sys.executable, WINDOWS, 100_000, 50, 5 if quick else 20)
    rss = [float(x) for x in windows["peak_mb_after"]]  # type: ignore[union-attr]
    growth = rss[-1] - rss[0]
    print(
        f"{len(rss)} windows of 100,000 x 50 against one reference: {windows['seconds']:.1f} s, "
        f"peak RSS after the first {rss[0]:.0f} MB, after the last {rss[-1]:.0f} MB "
        f"(growth {growth:+.0f} MB) {'OK' if growth < 10 else 'GROWS'}"
    )


if __name__ == "__main__":
    main()

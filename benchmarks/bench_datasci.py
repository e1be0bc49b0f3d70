"""Data science: exploration reports, point-in-time joins and the copula, beside their peers.

- Exploration of N x 30 tables (10,000 and 1,000,000 rows by default): keel's report time and
  size beside ydata-profiling's (in its own virtualenv, /tmp/peer-ydata; full mode where it
  finishes within ``--peer-timeout``, else minimal mode; the line says which).
- Point-in-time join of label rows against 10 feature tables: keel's ``training_set``
  (DuckDB ASOF) beside pandas ``merge_asof`` table by table; both answers are compared.
- Gaussian copula: fit + sample 100,000 rows x 20 columns (the report is timed apart).

    python benchmarks/bench_datasci.py [--sizes 10000,1000000] [--labels 1000000]
        [--feature-rows 10000000] [--skip-peer]

Targets (issue 18): explore 10k x 30 < 3 s and 1M x 30 < 30 s, report < 5 MB; point-in-time
join of 1M labels x 10 tables of 10M rows in total < 60 s; copula fit + sample < 30 s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PEER_VENV = Path("/tmp/peer-ydata")
PEER_SCRIPT = """
import sys, time, pandas as pd
from ydata_profiling import ProfileReport
df = pd.read_parquet(sys.argv[1])
t = time.perf_counter()
ProfileReport(df, minimal=sys.argv[3] == "minimal", progress_bar=False).to_file(sys.argv[2])
print(time.perf_counter() - t)
"""


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def frame(rows: int, cols: int = 30, seed: int = 0) -> Any:
    """20 numbers (some linked, some with gaps), 8 categories, a timestamp, a 0/1 target."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    base = rng.normal(size=rows)
    data: dict[str, Any] = {}
    for i in range(20):
        x = base * (i % 4) * 0.5 + rng.normal(size=rows) if i % 2 else rng.gamma(2, 3, rows)
        data[f"num_{i}"] = x
    for i in range(8):
        levels = [f"c{i}_{k}" for k in range(3 + i * 5)]
        data[f"cat_{i}"] = rng.choice(levels, rows)
    data["when"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, rows), "D")
    data["target"] = (base + rng.normal(size=rows) > 0).astype(int)
    df = pd.DataFrame(data).iloc[:, :cols]
    df.loc[df.index % 9 == 0, "num_3"] = np.nan
    return df


def bench_explore(sizes: list[int], tmp: Path, skip_peer: bool, peer_timeout: int) -> None:
    from keel.data import explore

    for rows in sizes:
        path = tmp / f"explore-{rows}.parquet"
        frame(rows).to_parquet(path)
        print(f"\n[explore] {rows:,} x 30   ({load()})")
        start = time.perf_counter()
        report = explore(str(path), target="target")
        html = report.html()
        keel_s = time.perf_counter() - start
        sampled = report.summary["sampled"]
        note = f"correlations on a {sampled['rows']:,}-row sample" if sampled else "no sampling"
        print(f"  keel            {keel_s:8.2f} s   report {len(html) / 1e6:6.2f} MB   ({note})")
        if skip_peer:
            continue
        peer = _ydata(path, tmp, rows, peer_timeout)
        if peer is not None:
            mode, seconds, size = peer
            print(
                f"  ydata-profiling {seconds:8.2f} s   report {size / 1e6:6.2f} MB   ({mode} mode)"
                f"   ratio {seconds / keel_s:6.1f}x"
            )


def _ydata(path: Path, tmp: Path, rows: int, timeout: int) -> tuple[str, float, int] | None:
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        print("  ydata-profiling: not installed in /tmp/peer-ydata (skipped)")
        return None
    modes = ["full", "minimal"] if rows <= 100_000 else ["minimal"]
    for mode in modes:
        out = tmp / f"ydata-{rows}-{mode}.html"
        try:
            proc = subprocess.run(
                [str(python), "-c", PEER_SCRIPT, str(path), str(out), mode],
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            print(f"  ydata-profiling {mode} mode: did not finish in {timeout} s")
            continue
        if proc.returncode != 0:
            print(f"  ydata-profiling {mode} mode failed: {proc.stderr.strip()[-300:]}")
            continue
        return mode, float(proc.stdout.strip().splitlines()[-1]), out.stat().st_size
    return None


def pit_tables(labels: int, feature_rows: int, tables: int = 10, seed: int = 1) -> Any:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    users = max(labels // 10, 10)
    start = pd.Timestamp("2024-01-01")
    span = 365 * 86400

    def times(n: int) -> Any:
        return start + pd.to_timedelta(rng.integers(0, span, n), "s")

    ent = pd.DataFrame(
        {
            "user": rng.integers(0, users, labels),
            "event_time": times(labels),
            "y": rng.integers(0, 2, labels),
        }
    )
    per = feature_rows // tables
    feats = []
    for t in range(tables):
        f = pd.DataFrame(
            {
                "user": rng.integers(0, users, per),
                "event_time": times(per),
                f"f{t}_a": rng.normal(size=per),
                f"f{t}_b": rng.normal(size=per),
            }
        )
        feats.append(f.drop_duplicates(["user", "event_time"]))
    return ent, feats


def bench_pit(labels: int, feature_rows: int) -> None:
    import pandas as pd

    from keel.data import training_set

    ent, feats = pit_tables(labels, feature_rows)
    print(
        f"\n[point-in-time] {labels:,} labels x 10 tables, {feature_rows:,} feature rows ({load()})"
    )
    start = time.perf_counter()
    keel_out = training_set(ent, feats, ttl="30d").to_pandas()
    keel_s = time.perf_counter() - start
    print(f"  keel (DuckDB ASOF, ttl 30d)      {keel_s:8.2f} s")
    start = time.perf_counter()
    out = ent.reset_index().sort_values("event_time")
    for f in feats:
        out = pd.merge_asof(
            out,
            f.sort_values("event_time"),
            on="event_time",
            by="user",
            tolerance=pd.Timedelta("30D"),
            direction="backward",
        )
    naive = out.sort_values("index").drop(columns="index").reset_index(drop=True)
    pandas_s = time.perf_counter() - start
    same = keel_out["f0_a"].equals(naive["f0_a"]) and keel_out["f9_b"].equals(naive["f9_b"])
    print(
        f"  pandas merge_asof x 10          {pandas_s:8.2f} s   ratio {pandas_s / keel_s:5.1f}x"
        f"   same answer: {same}"
    )


def bench_copula(rows: int) -> None:
    import pyarrow as pa

    from keel.data._synth import fit_copula
    from keel.data._synth_report import synth_report

    df = frame(rows, cols=30).iloc[:, list(range(12)) + list(range(20, 28))]  # 12 num + 8 cat
    table = pa.Table.from_pandas(df, preserve_index=False)
    print(f"\n[copula] {rows:,} rows x {df.shape[1]} columns ({load()})")
    start = time.perf_counter()
    model = fit_copula(table, {"type": "bench"})
    synth = model.sample(rows, seed=1)
    keel_s = time.perf_counter() - start
    print(f"  fit + sample                    {keel_s:8.2f} s")
    from keel.data._synth import split

    fit_rows, hold = split(rows, model.holdout, model.seed)
    kinds = {c.name: c.kind for c in model.columns}
    start = time.perf_counter()
    report = synth_report(df.iloc[fit_rows], df.iloc[hold], synth.to_pandas(), kinds)
    print(
        f"  report (5,000-row comparisons)  {time.perf_counter() - start:8.2f} s   "
        f"marginal score {report['fidelity']['marginal_score']}, discriminator AUC "
        f"{report['fidelity']['discriminator_auc']}, membership AUC "
        f"{report['privacy']['membership_auc']}, gate passed {report['gate']['passed']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--labels", type=int, default=1_000_000)
    parser.add_argument("--feature-rows", type=int, default=10_000_000)
    parser.add_argument("--copula-rows", type=int, default=100_000)
    parser.add_argument("--peer-timeout", type=int, default=300)
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--only", choices=["explore", "pit", "copula"], default=None)
    args = parser.parse_args()
    print(f"bench_datasci on {os.cpu_count()} CPUs, {load()}")
    with tempfile.TemporaryDirectory(prefix="keel-bench-datasci-") as tmp:
        if args.only in (None, "explore"):
            sizes = [int(s) for s in args.sizes.split(",")]
            bench_explore(sizes, Path(tmp), args.skip_peer, args.peer_timeout)
        if args.only in (None, "pit"):
            bench_pit(args.labels, args.feature_rows)
        if args.only in (None, "copula"):
            bench_copula(args.copula_rows)
    print(f"\ndone ({load()})")


if __name__ == "__main__":
    main()

"""Data science: exploration reports, point-in-time joins and synthesisers, beside their peers.

- Exploration of N x 30 tables (10,000 and 1,000,000 rows by default): keel's report time and
  size beside ydata-profiling's (full mode where it finishes within ``--peer-timeout``, else
  minimal mode; the line says which).
- Point-in-time join of label rows against 10 feature tables: keel's ``training_set``
  (DuckDB ASOF) beside pandas ``merge_asof`` table by table; both answers are compared. Then
  Feast's local offline store (``get_historical_features``, file source, ttl 30 days) on the
  same data, up a ladder of sizes (``--feast-sizes labels:feature_rows,...``) until a size does
  not finish within ``--peer-timeout``; answers compared with keel's.
- Gaussian copula: fit + sample 100,000 rows x 20 columns (the report is timed apart), and
  SDV's ``GaussianCopulaSynthesizer`` fit on the same rows and scored by the same report
  (fidelity, privacy, gate).

    python benchmarks/bench_datasci.py [--sizes 10000,1000000] [--labels 1000000]
        [--feature-rows 10000000] [--feast-sizes 10000:100000,100000:1000000] [--skip-peer]
        [--only explore|pit|feast|copula]

Peers run in their own virtualenvs (never keel dependencies; SDV is under the Business Source
License). Set them up once with::

    python3 -m venv /root/sdv-venv && /root/sdv-venv/bin/pip install sdv pyarrow
    python3 -m venv /root/feast-venv && /root/feast-venv/bin/pip install feast pyarrow
    python3 -m venv /root/ydata-venv && /root/ydata-venv/bin/pip install ydata-profiling pyarrow

A missing virtualenv skips its peer (the line says so).

Targets (issue 18): explore 10k x 30 < 3 s and 1M x 30 < 30 s, report < 5 MB; point-in-time
join of 1M labels x 10 tables of 10M rows in total < 60 s; copula fit + sample < 30 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

YDATA_VENV = Path("/root/ydata-venv")
SDV_VENV = Path("/root/sdv-venv")
FEAST_VENV = Path("/root/feast-venv")
SDV_SCRIPT = """
import sys, time, warnings
warnings.filterwarnings("ignore")
import pandas as pd
from sdv.metadata import Metadata
from sdv.single_table import GaussianCopulaSynthesizer
df = pd.read_parquet(sys.argv[1])
t = time.perf_counter()
synth = GaussianCopulaSynthesizer(Metadata.detect_from_dataframes({"bench": df}))
synth.fit({"bench": df})
out = synth.sample(int(sys.argv[3]))
print(time.perf_counter() - t)
(out["bench"] if isinstance(out, dict) else out).to_parquet(sys.argv[2])
"""
FEAST_SCRIPT = """
import sys, time, warnings
from datetime import timedelta
from pathlib import Path
warnings.filterwarnings("ignore")
import pandas as pd
from feast import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
from feast.types import Float64
repo, ent_path, tables = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
repo.mkdir(parents=True, exist_ok=True)
(repo / "feature_store.yaml").write_text(
    "project: bench\\nregistry: registry.db\\nprovider: local\\noffline_store:\\n  type: file\\n"
    "online_store:\\n  type: sqlite\\n  path: online.db\\nentity_key_serialization_version: 3\\n"
)
store = FeatureStore(repo_path=str(repo))
user = Entity(name="user", join_keys=["user"], value_type=ValueType.INT64)
views = [
    FeatureView(
        name=f"fv{t}", entities=[user], ttl=timedelta(days=30),
        schema=[Field(name=f"f{t}_a", dtype=Float64), Field(name=f"f{t}_b", dtype=Float64)],
        source=FileSource(path=str(repo.parent / f"f{t}.parquet"), timestamp_field="event_time"),
    )
    for t in range(tables)
]
store.apply([user, *views])
start = time.perf_counter()
ent = pd.read_parquet(ent_path)
refs = [f"fv{t}:f{t}_{c}" for t in range(tables) for c in "ab"]
out = store.get_historical_features(entity_df=ent, features=refs).to_df()
print(time.perf_counter() - start)
out = out.sort_values("row")[["row", "f0_a", f"f{tables - 1}_b"]]
out.to_parquet(repo.parent / "feast.parquet")
"""
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
    python = YDATA_VENV / "bin" / "python"
    if not python.exists():
        print(f"  ydata-profiling: not installed in {YDATA_VENV} (skipped)")
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


def _run_peer(venv: Path, name: str, script: str, args: list[str], timeout: int) -> float | None:
    """Seconds the peer's script printed last, or None (not installed, timed out, failed)."""
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"  {name}: not installed in {venv} (skipped; see the set-up above)")
        return None
    try:
        proc = subprocess.run(
            [str(python), "-c", script, *args], capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        print(f"  {name}: did not finish in {timeout} s")
        return None
    if proc.returncode != 0:
        print(f"  {name} failed: {proc.stderr.strip()[-400:]}")
        return None
    return float(proc.stdout.strip().splitlines()[-1])


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


def bench_feast(ladder: list[tuple[int, int]], tmp: Path, timeout: int) -> None:
    """keel and Feast's local offline store on the same files, up the ladder of sizes."""
    import numpy as np
    import pandas as pd

    from keel.data import training_set

    for labels, feature_rows in ladder:
        ent, feats = pit_tables(labels, feature_rows)
        ent["row"] = np.arange(len(ent))
        ent.to_parquet(tmp / "ent.parquet", index=False)
        paths = [tmp / f"f{t}.parquet" for t in range(len(feats))]
        for f, path in zip(feats, paths, strict=True):
            f.to_parquet(path, index=False)
        print(f"\n[feast] {labels:,} labels x 10 tables, {feature_rows:,} feature rows ({load()})")
        start = time.perf_counter()
        ours = training_set(str(tmp / "ent.parquet"), [str(p) for p in paths], ttl="30d")
        keel_s = time.perf_counter() - start
        print(f"  keel training_set (from Parquet)  {keel_s:8.2f} s")
        repo = tmp / "feast-repo"
        shutil.rmtree(repo, ignore_errors=True)
        args = [str(repo), str(tmp / "ent.parquet"), str(len(feats))]
        seconds = _run_peer(FEAST_VENV, "Feast", FEAST_SCRIPT, args, timeout)
        if seconds is None:
            break
        theirs = pd.read_parquet(tmp / "feast.parquet")
        mine = ours.to_pandas().set_index("row").loc[theirs["row"]]
        same = all(
            np.allclose(mine[c].to_numpy(float), theirs[c].to_numpy(float), equal_nan=True)
            for c in ("f0_a", "f9_b")
        )
        print(
            f"  Feast get_historical_features     {seconds:8.2f} s   ratio "
            f"{seconds / keel_s:6.1f}x   ({load()})\n"
            f"    Feast returned {len(theirs):,} of {labels:,} label rows (keel: "
            f"{ours.table.num_rows:,}); on those rows, same answer as keel: {same}"
        )


def bench_copula(rows: int, tmp: Path, skip_peer: bool, timeout: int) -> None:
    import pandas as pd
    import pyarrow as pa

    from keel.data._synth import fit_copula, split
    from keel.data._synth_report import synth_report

    df = frame(rows, cols=30).iloc[:, list(range(12)) + list(range(20, 28))]  # 12 num + 8 cat
    table = pa.Table.from_pandas(df, preserve_index=False)
    print(f"\n[copula] {rows:,} rows x {df.shape[1]} columns ({load()})")
    start = time.perf_counter()
    model = fit_copula(table, {"type": "bench"})
    synth = model.sample(rows, seed=1)
    keel_s = time.perf_counter() - start
    print(f"  keel fit + sample               {keel_s:8.2f} s")
    fit_rows, hold = split(rows, model.holdout, model.seed)
    kinds = {c.name: c.kind for c in model.columns}
    real, held = df.iloc[fit_rows], df.iloc[hold]
    start = time.perf_counter()
    report = synth_report(real, held, synth.to_pandas(), kinds)
    print(f"  keel report (5,000-row comparisons) {time.perf_counter() - start:6.2f} s")
    _print_report("keel copula", report)
    if skip_peer:
        return
    fit_path, out = tmp / "copula-fit.parquet", tmp / "sdv-sample.parquet"
    real.to_parquet(fit_path, index=False)
    args = [str(fit_path), str(out), str(rows)]
    seconds = _run_peer(SDV_VENV, "SDV GaussianCopulaSynthesizer", SDV_SCRIPT, args, timeout)
    if seconds is None:
        return
    print(f"  SDV fit + sample                {seconds:8.2f} s   ratio {seconds / keel_s:6.1f}x")
    _print_report("SDV GaussianCopula", synth_report(real, held, pd.read_parquet(out), kinds))


def _print_report(name: str, report: dict[str, Any]) -> None:
    fid, priv = report["fidelity"], report["privacy"]
    print(
        f"  {name:20s} marginal score {fid['marginal_score']}, correlation difference "
        f"{fid['correlation_difference']}, discriminator AUC {fid['discriminator_auc']}; "
        f"membership AUC {priv['membership_auc']}, DCR ratio {priv['dcr_ratio']}, copies "
        f"{priv['copy_rate']}; gate passed {report['gate']['passed']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--labels", type=int, default=1_000_000)
    parser.add_argument("--feature-rows", type=int, default=10_000_000)
    parser.add_argument("--feast-sizes", default="10000:100000,100000:1000000,1000000:10000000")
    parser.add_argument("--copula-rows", type=int, default=100_000)
    parser.add_argument("--peer-timeout", type=int, default=300)
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--only", choices=["explore", "pit", "feast", "copula"], default=None)
    args = parser.parse_args()
    print(f"bench_datasci on {os.cpu_count()} CPUs, {load()}")
    with tempfile.TemporaryDirectory(prefix="keel-bench-datasci-") as tmp:
        if args.only in (None, "explore"):
            sizes = [int(s) for s in args.sizes.split(",")]
            bench_explore(sizes, Path(tmp), args.skip_peer, args.peer_timeout)
        if args.only in (None, "pit"):
            bench_pit(args.labels, args.feature_rows)
        if args.only in (None, "feast") and not args.skip_peer:
            ladder = [tuple(int(x) for x in s.split(":")) for s in args.feast_sizes.split(",")]
            bench_feast(ladder, Path(tmp), args.peer_timeout)  # type: ignore[arg-type]
        if args.only in (None, "copula"):
            bench_copula(args.copula_rows, Path(tmp), args.skip_peer, args.peer_timeout)
    print(f"\ndone ({load()})")


if __name__ == "__main__":
    main()

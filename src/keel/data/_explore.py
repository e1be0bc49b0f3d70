"""Exploration reports: what a table holds, column by column and between columns.

Statistics are computed by DuckDB over the Arrow table (one copy, no pandas) and are exact:
counts, missing values, quantiles, histograms, top categories, IQR outliers, duplicate rows,
missing-value patterns. Distinct counts are exact up to ``EXACT_DISTINCT_ROWS`` rows and
HyperLogLog estimates above (the report says so). Correlations and target associations come
from a uniform sample of at most ``sample_rows`` rows (stated in the report when used).
NaN counts as missing, as in dataset profiles.

Column kinds: ``numeric`` (integers, floats, decimals), ``categorical`` (strings, booleans,
dictionaries), ``datetime`` (dates, times, timestamps), ``empty`` (every value missing) and
``other`` (nested or binary: only counted). A pandas object column holding several Python
types is explored as text, and the report names it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel.data._explore_assoc import associations, target_ranking
from keel.data._explore_stats import Explorer
from keel.data._inputs import Loaded, load_input
from keel.exceptions import InvalidArgumentError

if TYPE_CHECKING:
    import pandas as pd

    from keel.data._client import DatasetClient

SAMPLE_ROWS = 50_000
MAX_CORRELATED_ALERTS = 10


@dataclass(frozen=True)
class Exploration:
    """The statistics of an exploration report (``summary``, JSON-friendly) and its HTML."""

    summary: dict[str, Any]

    def html(self, back: tuple[str, str] | None = None) -> str:
        """The page; ``back`` is (address, text) of a link back, e.g. to the dataset's page."""
        from keel.data._explore_html import render

        return render(self.summary, back)

    def save(self, path: str | Path) -> Path:
        """Write the self-contained HTML report to ``path``."""
        out = Path(path).expanduser()
        out.write_text(self.html(), encoding="utf-8")
        return out


def explore(
    source: Any,
    *,
    target: str | None = None,
    compare: Any = None,
    datasets: DatasetClient | None = None,
    sample_rows: int = SAMPLE_ROWS,
    seed: int = 0,
) -> Exploration:
    """Explore a table: a dataset reference (needs ``datasets``), a Parquet/CSV path, a
    DataFrame or an Arrow table. ``target`` ranks every column by its association with that
    column; ``compare`` (another table of the same kinds) adds a side-by-side comparison."""
    started = time.perf_counter()
    if sample_rows < 10:
        raise InvalidArgumentError(f"sample_rows must be at least 10, not {sample_rows}")
    main, notes = _load(source, datasets, "table")
    if main.table.num_rows == 0:
        raise InvalidArgumentError(
            f"{main.label} has no rows; there is nothing to explore (its columns: "
            f"{main.table.column_names})"
        )
    if target is not None and target not in main.table.column_names:
        raise InvalidArgumentError(
            f"target {target!r} is not a column of {main.label}; columns: {main.table.column_names}"
        )
    with Explorer(main.table) as ex:
        summary = ex.overview()
        summary["title"] = main.label
        summary["notes"] = notes + ex.notes
        sample = ex.sample(sample_rows, seed)
        summary["sampled"] = (
            {"rows": len(sample), "of": main.table.num_rows}
            if len(sample) < main.table.num_rows
            else None
        )
        _relate(summary, sample, target)
        summary["alerts"] = _alerts(summary)
        summary["compare"] = None
        if compare is not None:
            other, other_notes = _load(compare, datasets, "comparison table")
            summary["compare"] = _compare(ex, summary, other, other_notes)
    summary["seconds"] = round(time.perf_counter() - started, 3)
    return Exploration(summary)


def _relate(summary: dict[str, Any], sample: pd.DataFrame, target: str | None) -> None:
    """Associations between the usable columns of the sample, and the target's ranking."""
    variables = summary["variables"]
    usable = [
        c
        for c, v in variables.items()
        if v["kind"] == "numeric" or (v["kind"] == "categorical" and not v.get("high_card"))
    ]
    summary["correlations"] = associations(sample, usable, variables)
    summary["target"] = (
        target_ranking(sample, target, usable, variables, summary["correlations"])
        if target
        else None
    )


def _load(source: Any, datasets: DatasetClient | None, label: str) -> tuple[Loaded, list[str]]:
    notes: list[str] = []
    pd = _pandas_if_frame(source)
    if pd is not None:
        source, notes = _mixed_as_text(source)
    loaded = load_input(source, datasets, label, hashed=False)
    return loaded, notes


def _pandas_if_frame(source: Any) -> Any:
    import sys

    pd = sys.modules.get("pandas")
    return pd if pd is not None and isinstance(source, pd.DataFrame) else None


def _mixed_as_text(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Object columns holding several Python types become text; each one is named."""
    notes, fixed = [], {}
    for name in frame.columns:
        col = frame[name]
        if col.dtype != object:
            continue
        kinds = {type(v).__name__ for v in col.dropna().head(100_000)}
        if len(kinds) > 1:
            fixed[name] = col.map(lambda v: None if v is None or v != v else str(v))
            notes.append(
                f"column {name!r} mixes Python types ({', '.join(sorted(kinds))}); explored as text"
            )
    return (frame.assign(**fixed) if fixed else frame), notes


def _compare(
    ex: Explorer, summary: dict[str, Any], other: Loaded, notes: list[str]
) -> dict[str, Any]:
    """Side by side: schema changes, per-column statistics and histograms on common bins."""
    if other.table.num_rows == 0:
        raise InvalidArgumentError(f"{other.label} has no rows; there is nothing to compare")
    a_vars = summary["variables"]
    with Explorer(other.table) as ox:
        b = ox.overview()
        b_vars = b["variables"]
        columns = []
        for name, va in a_vars.items():
            vb = b_vars.get(name)
            if vb is None:
                continue
            entry: dict[str, Any] = {"name": name, "a": _brief(va), "b": _brief(vb)}
            if va["kind"] == vb["kind"] == "numeric" and va["count"] and vb["count"]:
                lo, hi = _robust_range(va, vb)
                ha = ex.histograms({name: (lo, hi)}, clamp=True)[name]
                hb = ox.histograms({name: (lo, hi)}, clamp=True)[name]
                entry["hist"] = {"edges": ha["edges"], "a": ha["counts"], "b": hb["counts"]}
                entry["psi"] = _psi(ha["counts"], hb["counts"])
            elif va["kind"] == vb["kind"] == "categorical" and va.get("top"):
                entry["psi"] = _psi_top(va, vb)
            columns.append(entry)
    return {
        "label": other.label,
        "rows": b["rows"],
        "notes": notes,
        "added": [c for c in b_vars if c not in a_vars],
        "removed": [c for c in a_vars if c not in b_vars],
        "retyped": [
            {"name": c, "a": a_vars[c]["type"], "b": b_vars[c]["type"]}
            for c in a_vars
            if c in b_vars and a_vars[c]["type"] != b_vars[c]["type"]
        ],
        "duplicate_rows": b["duplicate_rows"],
        "columns": columns,
        "binning": "comparison histograms span both versions' p5..p95; outer bins hold tails",
    }


def _robust_range(va: dict[str, Any], vb: dict[str, Any]) -> tuple[float, float]:
    """Common bins over both p5..p95 ranges (outer bins hold the tails), so one outlier
    does not squeeze both distributions into a single bin."""
    qa, qb = va.get("quantiles") or {}, vb.get("quantiles") or {}
    lows = [x for x in (qa.get("p5"), qb.get("p5")) if x is not None]
    highs = [x for x in (qa.get("p95"), qb.get("p95")) if x is not None]
    lo = min(lows) if lows else min(va["min"], vb["min"])
    hi = max(highs) if highs else max(va["max"], vb["max"])
    if hi <= lo:
        lo, hi = min(va["min"], vb["min"]), max(va["max"], vb["max"])
    return lo, hi


def _brief(v: dict[str, Any]) -> dict[str, Any]:
    top = v.get("top") or []
    return {
        "kind": v["kind"],
        "null_rate": v["null_rate"],
        "distinct": v.get("distinct"),
        "mean": v.get("mean"),
        "std": v.get("std"),
        "p50": (v.get("quantiles") or {}).get("p50"),
        "top": top[0]["value"] if top else None,
    }


def _psi(a: list[int], b: list[int]) -> float | None:
    """Population stability index between two histograms on the same bins."""
    ta, tb = sum(a), sum(b)
    if not ta or not tb:
        return None
    eps = 1e-4
    total = 0.0
    for x, y in zip(a, b, strict=True):
        pa_, pb_ = max(x / ta, eps), max(y / tb, eps)
        total += (pb_ - pa_) * math.log(pb_ / pa_)
    return round(total, 6)


def _psi_top(va: dict[str, Any], vb: dict[str, Any]) -> float | None:
    cats = [t["value"] for t in va["top"]]
    fa = {t["value"]: t["count"] for t in va["top"]}
    fb = {t["value"]: t["count"] for t in vb.get("top") or []}
    a = [fa.get(c, 0) for c in cats] + [va["count"] - sum(fa.values())]
    b = [fb.get(c, 0) for c in cats] + [vb["count"] - sum(fb.get(c, 0) for c in cats)]
    return _psi(a, b)


def _alerts(summary: dict[str, Any]) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []

    def add(column: str, kind: str, message: str) -> None:
        out.append({"column": column, "kind": kind, "message": message})

    rows = summary["rows"]
    for name, v in summary["variables"].items():
        if v["count"] == 0:
            add(name, "empty", "every value is missing")
            continue
        if v["null_rate"] >= 0.2:
            add(name, "missing", f"{v['null_rate']:.0%} missing")
        if v.get("distinct") == 1 and v["count"] > 1:
            add(name, "constant", f"one value only ({_first(v)})")
        if v.get("high_card"):
            add(name, "high-cardinality", f"{v['distinct']:,} distinct values")
        if v["kind"] == "categorical" and v.get("distinct") == v["count"] == rows and rows > 1:
            add(name, "unique", "every value differs (an identifier?)")
        if v.get("outliers") and v["outliers"] > 0.01 * v["count"]:
            add(name, "outliers", f"{v['outliers']:,} values beyond 1.5 IQR")
    if summary["duplicate_rows"]:
        add("(rows)", "duplicates", f"{summary['duplicate_rows']:,} duplicate rows")
    corr = summary["correlations"]
    cols = corr.get("columns", [])
    pairs = sorted(
        (
            (corr["association"][i][j], a, cols[j])
            for i, a in enumerate(cols)
            for j in range(i + 1, len(cols))
            if (corr["association"][i][j] or 0) >= 0.9
        ),
        key=lambda p: -p[0],
    )
    for value, a, b in pairs[:MAX_CORRELATED_ALERTS]:
        add(f"{a} ~ {b}", "correlated", f"association {value:.2f}")
    if len(pairs) > MAX_CORRELATED_ALERTS:
        more = len(pairs) - MAX_CORRELATED_ALERTS
        add("(pairs)", "correlated", f"{more} more pairs with association >= 0.9")
    return out


def _first(v: dict[str, Any]) -> str:
    if v.get("top"):
        return str(v["top"][0]["value"])
    return str(v.get("min"))

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
from keel.data._inputs import Loaded, load_input
from keel.exceptions import InvalidArgumentError

if TYPE_CHECKING:
    import duckdb
    import pandas as pd
    import pyarrow as pa

    from keel.data._client import DatasetClient

SAMPLE_ROWS = 50_000
EXACT_DISTINCT_ROWS = 200_000
BINS = 20
TOP_K = 10
HIGH_CARDINALITY = 50  # distinct values above which a mostly-unique text column is flagged
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
MAX_PATTERN_COLUMNS = 30
MAX_CORRELATED_ALERTS = 10


@dataclass(frozen=True)
class Exploration:
    """The statistics of an exploration report (``summary``, JSON-friendly) and its HTML."""

    summary: dict[str, Any]

    def html(self) -> str:
        from keel.data._explore_html import render

        return render(self.summary)

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
    with _Explorer(main.table) as ex:
        summary = ex.overview()
        summary["title"] = main.label
        summary["notes"] = notes + ex.notes
        sample = ex.sample(sample_rows, seed)
        summary["sampled"] = (
            {"rows": len(sample), "of": main.table.num_rows}
            if len(sample) < main.table.num_rows
            else None
        )
        usable = [
            c
            for c, v in summary["variables"].items()
            if v["kind"] == "numeric" or (v["kind"] == "categorical" and not v.get("high_card"))
        ]
        summary["correlations"] = associations(sample, usable, summary["variables"])
        summary["target"] = (
            target_ranking(sample, target, usable, summary["variables"], summary["correlations"])
            if target
            else None
        )
        summary["alerts"] = _alerts(summary)
        summary["compare"] = None
        if compare is not None:
            other, other_notes = _load(compare, datasets, "comparison table")
            summary["compare"] = _compare(ex, summary, other, other_notes)
    summary["seconds"] = round(time.perf_counter() - started, 3)
    return Exploration(summary)


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


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def kind_of(kind: pa.DataType) -> str:
    import pyarrow as pa

    if pa.types.is_null(kind):
        return "empty"
    if pa.types.is_boolean(kind) or pa.types.is_dictionary(kind):
        return "categorical"
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "numeric"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return "categorical"
    if pa.types.is_string_view(kind):
        return "categorical"
    if pa.types.is_temporal(kind):
        return "datetime"
    return "other"


class _Explorer:
    """One DuckDB connection holding the table (NaN as NULL) for the per-column queries."""

    def __init__(self, table: pa.Table) -> None:
        import duckdb

        self.rows = table.num_rows
        self.kinds = {f.name: kind_of(f.type) for f in table.schema}
        self.types = {f.name: str(f.type) for f in table.schema}
        self.arrow_nulls = {f.name: table.column(f.name).null_count for f in table.schema}
        self.notes: list[str] = []
        self.con: duckdb.DuckDBPyConnection = duckdb.connect()
        self.con.execute("SET threads TO 2")
        self.con.register("src", table)
        select = []
        for f in table.schema:
            k, q = self.kinds[f.name], _q(f.name)
            if k == "other":
                continue
            if k == "numeric":
                expr = f"{q}::DOUBLE"
                select.append(f"CASE WHEN isnan({expr}) THEN NULL ELSE {expr} END AS {q}")
            elif k == "categorical":
                select.append(f"{q}::VARCHAR AS {q}")
            else:
                select.append(q)
        self.cols = [n for n, k in self.kinds.items() if k != "other"]
        body = ", ".join(select) if select else "1 AS __keel_none"
        self.con.execute(f"CREATE TABLE t AS SELECT {body} FROM src")
        self.con.unregister("src")

    def __enter__(self) -> _Explorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.con.close()

    def _one(self, sql: str) -> tuple[Any, ...]:
        rows = self.con.execute(sql).fetchall()  # fetch to the end: the connection is reused
        return tuple(rows[0])

    def overview(self) -> dict[str, Any]:
        variables = self._aggregates()
        numeric = [n for n, v in variables.items() if v["kind"] == "numeric" and v["count"]]
        hists = self.histograms({n: (variables[n]["min"], variables[n]["max"]) for n in numeric})
        outliers = self._outliers({n: variables[n] for n in numeric})
        for name, var in variables.items():
            if name in hists:
                var["hist"], var["outliers"] = hists[name], outliers.get(name, 0)
            elif var["kind"] == "datetime" and var["count"]:
                var["hist"] = self._time_histogram(name)
            elif var["kind"] == "categorical" and var["count"]:
                var["top"], var["other"] = self._top(name, var["count"])
                var["high_card"] = (
                    var["distinct"] > HIGH_CARDINALITY and var["distinct"] > 0.5 * var["count"]
                )
        missing = sum(v["nulls"] for v in variables.values())
        return {
            "rows": self.rows,
            "columns": len(self.kinds),
            "missing_cells": missing,
            "missing_rate": missing / (self.rows * len(self.kinds)) if self.kinds else 0.0,
            "duplicate_rows": self._duplicates(),
            "distinct_exact": self.rows <= EXACT_DISTINCT_ROWS,
            "variables": variables,
            "missing": self._patterns(variables),
        }

    def _aggregates(self) -> dict[str, dict[str, Any]]:
        """Counts, distincts, moments and quantiles of every column in one scan."""
        exact = self.rows <= EXACT_DISTINCT_ROWS
        qs = ", ".join(str(x) for x in QUANTILES)
        parts: list[str] = []
        for name in self.cols:
            kind, q = self.kinds[name], _q(name)
            parts += [
                f"count({q})",
                f"count(DISTINCT {q})" if exact else f"approx_count_distinct({q})",
            ]
            if kind == "numeric":
                parts += [
                    f"min({q})",
                    f"max({q})",
                    f"avg({q})",
                    f"stddev_samp({q})",
                    f"quantile_cont({q}, [{qs}])",
                    f"count_if({q} = 0)",
                ]
            elif kind == "datetime":
                parts += [f"min({q})::VARCHAR", f"max({q})::VARCHAR"]
        row = list(self._one(f"SELECT {', '.join(parts)} FROM t")) if parts else []
        out: dict[str, dict[str, Any]] = {}
        for name, kind in self.kinds.items():
            var: dict[str, Any] = {"kind": kind, "type": self.types[name]}
            out[name] = var
            if name not in self.cols:
                nulls = self.arrow_nulls[name]
                var.update(
                    count=self.rows - nulls,
                    nulls=nulls,
                    null_rate=nulls / self.rows,
                    distinct=0 if kind == "empty" else None,
                )
                continue
            count, distinct = int(row.pop(0)), int(row.pop(0))
            var.update(
                count=count,
                nulls=self.rows - count,
                distinct=min(distinct, count),
                null_rate=(self.rows - count) / self.rows,
            )
            if kind == "numeric":
                lo, hi, mean, std, quantiles, zeros = (row.pop(0) for _ in range(6))
                var.update(min=_num(lo), max=_num(hi), mean=_num(mean), std=_num(std))
                names = [f"p{round(x * 100)}" for x in QUANTILES]
                values = [_num(v) for v in quantiles or [None] * len(QUANTILES)]
                var["quantiles"] = dict(zip(names, values, strict=True))
                var["zeros"] = int(zeros or 0)
            elif kind == "datetime":
                var.update(min=row.pop(0), max=row.pop(0))
        return out

    def histograms(
        self, bounds: dict[str, tuple[float | None, float | None]], *, clamp: bool = False
    ) -> dict[str, dict[str, Any]]:
        """Histograms of several numeric columns over the given [lo, hi], in one query;
        with ``clamp`` values beyond the range are counted in the outer bins."""
        selects: list[str] = []
        out: dict[str, dict[str, Any]] = {}
        for i, (name, (lo, hi)) in enumerate(bounds.items()):
            if lo is None or hi is None:
                out[name] = {"edges": [], "counts": []}
                continue
            q = _q(name)
            where = f"{q} IS NOT NULL" if clamp else f"{q} BETWEEN {lo!r} AND {hi!r}"
            width = (hi - lo) / BINS if hi > lo else 1.0
            selects.append(
                f"SELECT {i} AS c, least(greatest(floor(({q} - {lo!r}) / {width!r}), 0), "
                f"{BINS - 1})::INT AS b, count(*) AS n FROM t WHERE {where} GROUP BY 2"
            )
            n_bins = BINS if hi > lo else 1
            out[name] = {
                "edges": [lo + k * width for k in range(n_bins)] + [hi],
                "counts": [0] * n_bins,
            }
        names = list(bounds)
        if selects:
            for c, b, n in self.con.execute(" UNION ALL ".join(selects)).fetchall():
                out[names[c]]["counts"][int(b)] = int(n)
        return out

    def histogram(self, name: str, lo: float | None, hi: float | None) -> dict[str, Any]:
        return self.histograms({name: (lo, hi)})[name]

    def _time_histogram(self, name: str) -> dict[str, Any]:
        q = _q(name)
        lo, hi = self._one(f"SELECT min(epoch({q})), max(epoch({q})) FROM t")
        if lo is None:
            return {"edges": [], "counts": []}
        self.con.execute(
            f"CREATE OR REPLACE TEMP VIEW __e AS SELECT epoch({q}) AS e FROM t"
        ).fetchall()
        span = max(float(hi) - float(lo), 1e-9)
        rows = self.con.execute(
            f"SELECT least(floor((e - {float(lo)!r}) / {span / BINS!r}), {BINS - 1})::INT, "
            f"count(*) FROM __e WHERE e IS NOT NULL GROUP BY 1"
        ).fetchall()
        counts = [0] * BINS
        for b, n in rows:
            counts[int(b)] = int(n)
        edges = [float(lo) + i * span / BINS for i in range(BINS + 1)]
        return {"edges": edges, "counts": counts, "epoch": True}

    def _outliers(self, variables: dict[str, dict[str, Any]]) -> dict[str, int]:
        """Values beyond 1.5 IQR from the quartiles, per numeric column, in one scan."""
        parts, names = [], []
        for name, var in variables.items():
            q1, q3 = var["quantiles"].get("p25"), var["quantiles"].get("p75")
            if q1 is None or q3 is None:
                continue
            lo, hi, q = q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1), _q(name)
            parts.append(f"count_if({q} < {lo!r} OR {q} > {hi!r})")
            names.append(name)
        if not parts:
            return {}
        row = self._one(f"SELECT {', '.join(parts)} FROM t")
        return {n: int(v) for n, v in zip(names, row, strict=True)}

    def _top(self, name: str, count: int) -> tuple[list[dict[str, Any]], int]:
        q = _q(name)
        rows = self.con.execute(
            f"SELECT {q}, count(*) FROM t WHERE {q} IS NOT NULL GROUP BY 1 "
            f"ORDER BY 2 DESC, 1 LIMIT {TOP_K}"
        ).fetchall()
        top = [{"value": v, "count": int(n)} for v, n in rows]
        return top, count - sum(t["count"] for t in top)

    def _duplicates(self) -> int | None:
        if not self.cols:
            return None
        cols = ", ".join(_q(c) for c in self.cols)
        n = self._one(
            f"SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM t GROUP BY {cols} "
            "HAVING count(*) > 1)"
        )[0]
        if len(self.cols) < len(self.kinds):
            self.notes.append("duplicate rows are counted over the columns that are not nested")
        return int(n)

    def _patterns(self, variables: dict[str, Any]) -> dict[str, Any]:
        with_nulls = sorted(
            (c for c in self.cols if variables[c]["nulls"]), key=lambda c: -variables[c]["nulls"]
        )[:MAX_PATTERN_COLUMNS]
        if not with_nulls:
            return {"columns": [], "patterns": []}
        flags = ", ".join(f"{_q(c)} IS NULL" for c in with_nulls)
        rows = self.con.execute(
            f"SELECT [{flags}], count(*) FROM t GROUP BY 1 ORDER BY 2 DESC LIMIT 10"
        ).fetchall()
        patterns = [
            {"missing": [c for c, f in zip(with_nulls, p, strict=True) if f], "count": int(n)}
            for p, n in rows
        ]
        return {"columns": with_nulls, "patterns": patterns}

    def sample(self, rows: int, seed: int) -> pd.DataFrame:
        """At most ``rows`` rows, uniformly (reservoir) when the table is larger."""
        cols = ", ".join(_q(c) for c in self.cols) or "*"
        clause = (
            f" USING SAMPLE reservoir({int(rows)} ROWS) REPEATABLE ({int(seed)})"
            if self.rows > rows
            else ""
        )
        return self.con.sql(f"SELECT {cols} FROM t{clause}").df()


def _compare(
    ex: _Explorer, summary: dict[str, Any], other: Loaded, notes: list[str]
) -> dict[str, Any]:
    """Side by side: schema changes, per-column statistics and histograms on common bins."""
    if other.table.num_rows == 0:
        raise InvalidArgumentError(f"{other.label} has no rows; there is nothing to compare")
    a_vars = summary["variables"]
    with _Explorer(other.table) as ox:
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


def _num(value: Any) -> float | None:
    if value is None:
        return None
    f = float(value)
    return None if math.isnan(f) or math.isinf(f) else f

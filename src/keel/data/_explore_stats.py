"""The statistics engine of exploration reports: one DuckDB connection over an Arrow table.

:class:`Explorer` copies the table once into DuckDB (NaN as NULL, categories as text) and
answers every per-column question with a few whole-table queries: counts, exact or
HyperLogLog distinct counts, moments, quantiles, histograms on given bounds, top categories,
IQR outliers, duplicate rows, missing-value patterns and a uniform sample. Column kinds come
from :func:`kind_of`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb
    import pandas as pd
    import pyarrow as pa

EXACT_DISTINCT_ROWS = 200_000
BINS = 20
TOP_K = 10
HIGH_CARDINALITY = 50  # distinct values above which a mostly-unique text column is flagged
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
MAX_PATTERN_COLUMNS = 30


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


class Explorer:
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

    def __enter__(self) -> Explorer:
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
        parts = [p for name in self.cols for p in self._aggregate_parts(name)]
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

    def _aggregate_parts(self, name: str) -> list[str]:
        """The aggregates of one column, in the order :meth:`_aggregates` reads them."""
        kind, q = self.kinds[name], _q(name)
        exact = self.rows <= EXACT_DISTINCT_ROWS
        parts = [f"count({q})", f"count(DISTINCT {q})" if exact else f"approx_count_distinct({q})"]
        if kind == "numeric":
            qs = ", ".join(str(x) for x in QUANTILES)
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
        return parts

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


def _num(value: Any) -> float | None:
    if value is None:
        return None
    f = float(value)
    return None if math.isnan(f) or math.isinf(f) else f

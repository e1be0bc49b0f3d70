"""Associations between columns of a sample: Pearson, Spearman, Cramér's V, correlation ratio.

``association`` is one matrix in [0, 1] for every pair whatever the kinds: |Spearman| for two
numbers, bias-corrected Cramér's V for two categories, the correlation ratio (eta) for a
number and a category. Categories keep their ``MAX_LEVELS`` most frequent values; the rest
are pooled. Pairs with fewer than three complete rows, or a constant side, have no value.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

MAX_COLUMNS = 40
MAX_LEVELS = 20


def associations(
    sample: pd.DataFrame, usable: list[str], variables: dict[str, Any]
) -> dict[str, Any]:
    """The three matrices over at most ``MAX_COLUMNS`` usable columns of the sample."""
    cols = [c for c in usable if variables[c]["count"] and variables[c].get("distinct", 0) > 1]
    notes = []
    if len(cols) > MAX_COLUMNS:
        notes.append(f"correlations cover the first {MAX_COLUMNS} of {len(cols)} columns")
        cols = cols[:MAX_COLUMNS]
    if len(sample) < 3 or len(cols) < 2:
        why = "fewer than three rows" if len(sample) < 3 else "fewer than two varying columns"
        return {
            "columns": [],
            "pearson": [],
            "spearman": [],
            "association": [],
            "notes": [f"no correlations: {why}"],
        }
    numeric = [c for c in cols if variables[c]["kind"] == "numeric"]
    prepared = _prepare(sample, cols, variables)
    nums = sample[numeric].astype("float64") if numeric else None
    pearson = nums.corr(method="pearson", min_periods=3) if nums is not None else None
    spearman = nums.corr(method="spearman", min_periods=3) if nums is not None else None
    n = len(cols)
    p_m: list[list[float | None]] = [[None] * n for _ in range(n)]
    s_m: list[list[float | None]] = [[None] * n for _ in range(n)]
    a_m: list[list[float | None]] = [[None] * n for _ in range(n)]
    for i, a in enumerate(cols):
        for j in range(i, n):
            b = cols[j]
            if a in numeric and b in numeric:
                assert pearson is not None and spearman is not None
                p_m[i][j] = p_m[j][i] = _clean(pearson.loc[a, b])
                s_m[i][j] = s_m[j][i] = _clean(spearman.loc[a, b])
                s = s_m[i][j]
                a_m[i][j] = a_m[j][i] = abs(s) if s is not None else None
            elif i == j:
                a_m[i][j] = 1.0
            else:
                a_m[i][j] = a_m[j][i] = pair_association(prepared[a], prepared[b])
    return {
        "columns": cols,
        "numeric": numeric,
        "pearson": p_m,
        "spearman": s_m,
        "association": a_m,
        "notes": notes,
    }


def _prepare(sample: pd.DataFrame, cols: list[str], variables: dict[str, Any]) -> dict[str, Any]:
    """Each column as floats (numbers) or integer codes of its top levels (categories)."""
    out: dict[str, Any] = {}
    for c in cols:
        if variables[c]["kind"] == "numeric":
            out[c] = ("num", sample[c].to_numpy(dtype="float64", na_value=float("nan")))
        else:
            out[c] = ("cat", _codes(sample[c]))
    return out


def _codes(col: pd.Series) -> np.ndarray:
    """Integer codes of the top levels; pooled rest = MAX_LEVELS; missing = -1."""
    import numpy as np
    import pandas as pd

    top = col.value_counts().index[:MAX_LEVELS]
    codes = pd.Categorical(col, categories=top).codes.astype(np.int64)
    codes[(codes == -1) & col.notna().to_numpy()] = MAX_LEVELS
    return codes


def pair_association(a: tuple[str, Any], b: tuple[str, Any]) -> float | None:
    import numpy as np

    (ka, xa), (kb, xb) = a, b
    if ka == "num" and kb == "num":
        ok = ~np.isnan(xa) & ~np.isnan(xb)
        if ok.sum() < 3:
            return None
        return _spearman(xa[ok], xb[ok])
    if ka == "cat" and kb == "cat":
        ok = (xa >= 0) & (xb >= 0)
        return cramers_v(xa[ok], xb[ok])
    num, cat = (xa, xb) if ka == "num" else (xb, xa)
    ok = ~np.isnan(num) & (cat >= 0)
    return correlation_ratio(cat[ok], num[ok])


def _spearman(x: np.ndarray, y: np.ndarray) -> float | None:
    """|Spearman's rho|: Pearson on average ranks (no scipy.stats import: ~1 s saved)."""
    import numpy as np
    import pandas as pd

    rx, ry = pd.Series(x).rank().to_numpy(), pd.Series(y).rank().to_numpy()
    if rx.std() == 0 or ry.std() == 0:
        return None
    return _clean(abs(float(np.corrcoef(rx, ry)[0, 1])))


def cramers_v(x: np.ndarray, y: np.ndarray) -> float | None:
    """Bias-corrected Cramér's V (Bergsma 2013) of two integer-coded samples."""
    import numpy as np

    n = len(x)
    if n < 3:
        return None
    _, xi = np.unique(x, return_inverse=True)
    _, yi = np.unique(y, return_inverse=True)
    r, k = xi.max() + 1, yi.max() + 1
    if r < 2 or k < 2:
        return None
    table = np.zeros((r, k))
    np.add.at(table, (xi, yi), 1)
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / n
    chi2 = float(((table - expected) ** 2 / expected).sum())
    phi2 = max(0.0, chi2 / n - (k - 1) * (r - 1) / (n - 1))
    rc, kc = r - (r - 1) ** 2 / (n - 1), k - (k - 1) ** 2 / (n - 1)
    denom = min(kc - 1, rc - 1)
    return _clean(math.sqrt(phi2 / denom)) if denom > 0 else None


def correlation_ratio(codes: np.ndarray, values: np.ndarray) -> float | None:
    """Eta: the share of a number's spread explained by a category (0 none, 1 all)."""
    import numpy as np

    if len(values) < 3:
        return None
    total = float(((values - values.mean()) ** 2).sum())
    if total == 0:
        return None
    counts = np.bincount(codes)
    sums = np.bincount(codes, weights=values)
    present = counts > 0
    counts, means = counts[present], sums[present] / counts[present]
    between = float((counts * (means - values.mean()) ** 2).sum())
    return _clean(math.sqrt(between / total))


def target_ranking(
    sample: pd.DataFrame,
    target: str,
    usable: list[str],
    variables: dict[str, Any],
    matrix: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Every usable column's association with ``target`` (strongest first), and its kind."""
    tv = variables[target]
    if tv["kind"] not in ("numeric", "categorical") or tv.get("high_card"):
        return {
            "name": target,
            "kind": tv["kind"],
            "ranking": [],
            "notes": [f"target {target!r} is {tv['kind']}; no associations computed"],
        }
    cols = [c for c in usable if c != target and variables[c]["count"]]
    known = matrix["columns"] if matrix and target in matrix["columns"] else []
    row = matrix["association"][known.index(target)] if matrix and known else []
    missing = [c for c in cols if c not in known]
    prepared = _prepare(sample, [target, *missing], variables) if missing else {}
    ranking: list[dict[str, Any]] = []
    for c in cols:
        if c in known:
            value = row[known.index(c)]
        else:
            value = pair_association(prepared[target], prepared[c])
        method = _method(variables[target]["kind"], variables[c]["kind"])
        ranking.append({"column": c, "value": value, "method": method})
    ranking.sort(key=lambda r: -(r["value"] if r["value"] is not None else -1.0))
    return {"name": target, "kind": tv["kind"], "ranking": ranking, "notes": []}


def _method(a: str, b: str) -> str:
    if a == b == "numeric":
        return "|Spearman|"
    if a == b == "categorical":
        return "Cramér's V"
    return "correlation ratio"


def _clean(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) or math.isinf(f) else round(f, 4)

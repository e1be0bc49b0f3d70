"""The exploration report as one self-contained HTML page: inline CSS and SVG, no scripts.

Only statistics are written: counts, quantiles, histograms, the ten most frequent values of a
category and association matrices; never rows of data. Every value is HTML-escaped.
"""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import Any

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:16px;color:#222}
h1{font-size:22px}h2{margin-top:32px;border-bottom:1px solid #ddd}h3{margin:0 0 6px}
table{border-collapse:collapse}td,th{padding:2px 8px;text-align:left;border-bottom:1px solid #eee}
.cards{display:flex;flex-wrap:wrap;gap:12px}.card{border:1px solid #ddd;border-radius:6px;
padding:10px;width:330px;max-width:100%;box-sizing:border-box}.kind{color:#666;font-size:12px}.num{text-align:right}
.alert{color:#8a4b00}.note{color:#555;font-style:italic}.grid{display:flex;gap:20px;flex-wrap:wrap}
svg text{font-size:10px;fill:#333}svg{max-width:100%;height:auto}.back{margin:0}
"""
_BLUE, _ORANGE = "#4878a8", "#e08a3c"


def render(s: dict[str, Any], back: tuple[str, str] | None = None) -> str:
    """The page; ``back`` is (address, text) of a link back to where it was opened from."""
    link = (
        f"<p class='back'><a href='{escape(back[0])}'>← {escape(back[1])}</a></p>" if back else ""
    )
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>Exploration of {escape(str(s['title']))}</title>",
        f"<style>{_CSS}</style></head><body>{link}",
        f"<h1>Exploration of {escape(str(s['title']))}</h1>",
        _overview(s),
        _alerts(s["alerts"]),
        _variables(s["variables"]),
        _missing(s),
        _correlations(s["correlations"]),
    ]
    if s.get("target"):
        parts.append(_target(s["target"]))
    if s.get("compare"):
        parts.append(_compare(s))
    parts.append(f"<p class='note'>Made by keel in {s['seconds']:.2f} s.</p></body></html>")
    return "".join(parts)


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if v != 0 and (abs(v) >= 1e6 or abs(v) < 1e-3):
            return f"{v:.3g}"
        return f"{v:,.4g}" if abs(v) < 1e4 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return escape(str(v))


def _rows(pairs: list[tuple[str, Any]]) -> str:
    return (
        "<table>"
        + "".join(f"<tr><th>{k}</th><td>{_fmt(v)}</td></tr>" for k, v in pairs)
        + "</table>"
    )


def _overview(s: dict[str, Any]) -> str:
    pairs = [
        ("rows", s["rows"]),
        ("columns", s["columns"]),
        ("missing cells", f"{s['missing_cells']:,} ({s['missing_rate']:.1%})"),
        ("duplicate rows", s["duplicate_rows"]),
    ]
    notes = list(s.get("notes") or [])
    if s.get("sampled"):
        sm = s["sampled"]
        notes.append(
            f"correlations and target associations use a uniform sample of {sm['rows']:,} of "
            f"{sm['of']:,} rows; every other figure uses all rows"
        )
    if not s.get("distinct_exact"):
        notes.append("distinct counts are HyperLogLog estimates (about 2% error)")
    kinds: dict[str, int] = {}
    for v in s["variables"].values():
        kinds[v["kind"]] = kinds.get(v["kind"], 0) + 1
    pairs.append(("column kinds", ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))))
    out = "<h2>Overview</h2>" + _rows(pairs)
    return out + "".join(f"<p class='note'>{escape(n)}</p>" for n in notes)


def _alerts(alerts: list[dict[str, str]]) -> str:
    if not alerts:
        return "<h2>Alerts</h2><p>None.</p>"
    rows = "".join(
        f"<tr><td>{escape(a['column'])}</td><td class='alert'>{escape(a['kind'])}</td>"
        f"<td>{escape(a['message'])}</td></tr>"
        for a in alerts
    )
    return f"<h2>Alerts ({len(alerts)})</h2><table>{rows}</table>"


def _variables(variables: dict[str, Any]) -> str:
    cards = []
    for name, v in variables.items():
        pairs: list[tuple[str, Any]] = [
            ("missing", f"{v['nulls']:,} ({v['null_rate']:.1%})"),
            ("distinct", v.get("distinct")),
        ]
        chart = ""
        if v["kind"] == "numeric" and v["count"]:
            q = v.get("quantiles") or {}
            pairs += [
                ("mean", v["mean"]),
                ("std", v["std"]),
                ("min", v["min"]),
                ("p25 / p50 / p75", " / ".join(_fmt(q.get(k)) for k in ("p25", "p50", "p75"))),
                ("max", v["max"]),
                ("zeros", v.get("zeros")),
                ("IQR outliers", v.get("outliers")),
            ]
            chart = _histogram(v["hist"])
        elif v["kind"] == "datetime" and v["count"]:
            pairs += [("min", v["min"]), ("max", v["max"])]
            chart = _histogram(v["hist"])
        elif v["kind"] == "categorical" and v["count"]:
            chart = _bars(v["top"], v.get("other", 0))
        cards.append(
            f"<div class='card'><h3>{escape(name)}</h3><div class='kind'>{escape(v['kind'])} · "
            f"{escape(v['type'])}</div>{_rows(pairs)}{chart}</div>"
        )
    return "<h2>Columns</h2><div class='cards'>" + "".join(cards) + "</div>"


def _edge_label(x: float, epoch: bool) -> str:
    if epoch:
        return dt.datetime.fromtimestamp(x, dt.UTC).strftime("%Y-%m-%d")
    return _fmt(float(x))


def _histogram(h: dict[str, Any], other: list[int] | None = None, w: int = 300) -> str:
    counts = h.get("counts") or h.get("a") or []
    if not counts:
        return ""
    height, top = 90, max(max(counts), max(other or [0]), 1)
    bw = w / len(counts)
    bars = []
    for i, n in enumerate(counts):
        bh = height * n / top
        width = bw - 1 if other is None else bw / 2 - 0.5
        bars.append(
            f"<rect x='{i * bw:.1f}' y='{height - bh:.1f}' width='{max(width, 0.5):.1f}' "
            f"height='{bh:.1f}' fill='{_BLUE}'><title>{n:,}</title></rect>"
        )
        if other is not None:
            oh = height * other[i] / top
            bars.append(
                f"<rect x='{i * bw + bw / 2:.1f}' y='{height - oh:.1f}' "
                f"width='{max(bw / 2 - 0.5, 0.5):.1f}' height='{oh:.1f}' fill='{_ORANGE}'>"
                f"<title>{other[i]:,}</title></rect>"
            )
    edges, epoch = h["edges"], bool(h.get("epoch"))
    labels = (
        f"<text x='0' y='{height + 12}'>{_edge_label(edges[0], epoch)}</text>"
        f"<text x='{w}' y='{height + 12}' text-anchor='end'>{_edge_label(edges[-1], epoch)}</text>"
    )
    return f"<svg width='{w}' height='{height + 16}'>{''.join(bars)}{labels}</svg>"


def _bars(top: list[dict[str, Any]], other: int, w: int = 300) -> str:
    items = [(str(t["value"]), t["count"]) for t in top]
    if other:
        items.append(("(other values)", other))
    biggest = max((n for _, n in items), default=1) or 1
    rows = []
    for i, (label, n) in enumerate(items):
        bw = (w - 130) * n / biggest
        short = label if len(label) <= 20 else label[:19] + "…"
        rows.append(
            f"<text x='0' y='{i * 14 + 10}'>{escape(short)}</text>"
            f"<rect x='125' y='{i * 14 + 2}' width='{bw:.1f}' height='10' fill='{_BLUE}'>"
            f"<title>{n:,}</title></rect>"
        )
    return f"<svg width='{w}' height='{len(items) * 14 + 4}'>{''.join(rows)}</svg>"


def _missing(s: dict[str, Any]) -> str:
    m = s["missing"]
    if not m["columns"]:
        return "<h2>Missing values</h2><p>No missing values.</p>"
    head = "".join(f"<th title='{escape(c)}'>{escape(c[:12])}</th>" for c in m["columns"])
    rows = []
    for p in m["patterns"]:
        cells = "".join(
            "<td style='background:#c44'></td>" if c in p["missing"] else "<td></td>"
            for c in m["columns"]
        )
        rows.append(f"<tr><td class='num'>{p['count']:,}</td>{cells}</tr>")
    return (
        "<h2>Missing values</h2><p>The most frequent patterns (red: missing in that column).</p>"
        f"<table><tr><th>rows</th>{head}</tr>{''.join(rows)}</table>"
    )


def _heatmap(title: str, cols: list[str], m: list[list[float | None]], signed: bool) -> str:
    n = len(cols)
    cell = max(10, min(28, 560 // max(n, 1)))
    pad = 110
    rects = []
    for i in range(n):
        rects.append(
            f"<text x='{pad - 4}' y='{pad + i * cell + cell * 0.7:.0f}' text-anchor='end'>"
            f"{escape(cols[i][:16])}</text>"
        )
        rects.append(
            f"<text transform='translate({pad + i * cell + cell * 0.7:.0f},{pad - 4}) "
            f"rotate(-60)'>{escape(cols[i][:16])}</text>"
        )
        for j in range(n):
            v = m[i][j]
            rects.append(
                f"<rect x='{pad + j * cell}' y='{pad + i * cell}' width='{cell - 1}' "
                f"height='{cell - 1}' fill='{_color(v, signed)}'><title>{escape(cols[i])} ~ "
                f"{escape(cols[j])}: {_fmt(v)}</title></rect>"
            )
    size = pad + n * cell + 4
    return f"<div><h3>{title}</h3><svg width='{size}' height='{size}'>{''.join(rects)}</svg></div>"


def _color(v: float | None, signed: bool) -> str:
    if v is None:
        return "#eee"
    x = max(-1.0, min(1.0, v))
    if x >= 0 or not signed:
        a = abs(x)
        return f"rgb({int(255 - 183 * a)},{int(255 - 135 * a)},{int(255 - 87 * a)})"
    a = -x
    return f"rgb({int(255 - 31 * a)},{int(255 - 117 * a)},{int(255 - 195 * a)})"


def _correlations(c: dict[str, Any]) -> str:
    notes = "".join(f"<p class='note'>{escape(n)}</p>" for n in c.get("notes") or [])
    if not c["columns"]:
        return "<h2>Correlations</h2>" + notes
    numeric = c.get("numeric") or []
    idx = [c["columns"].index(x) for x in numeric]
    sub = {k: [[c[k][i][j] for j in idx] for i in idx] for k in ("pearson", "spearman")}
    maps = [
        _heatmap(
            "Association (|Spearman|, Cramér's V, correlation ratio)",
            c["columns"],
            c["association"],
            signed=False,
        )
    ]
    if len(numeric) >= 2:
        maps.append(_heatmap("Pearson", numeric, sub["pearson"], signed=True))
        maps.append(_heatmap("Spearman", numeric, sub["spearman"], signed=True))
    return f"<h2>Correlations</h2>{notes}<div class='grid'>{''.join(maps)}</div>"


def _target(t: dict[str, Any]) -> str:
    notes = "".join(f"<p class='note'>{escape(n)}</p>" for n in t.get("notes") or [])
    rows = "".join(
        f"<tr><td>{escape(r['column'])}</td><td class='num'>{_fmt(r['value'])}</td>"
        f"<td>{escape(r['method'])}</td><td><svg width='160' height='10'><rect width="
        f"'{160 * (r['value'] or 0):.0f}' height='10' fill='{_BLUE}'/></svg></td></tr>"
        for r in t["ranking"]
    )
    return (
        f"<h2>Target: {escape(t['name'])} ({escape(t['kind'])})</h2>{notes}"
        f"<table><tr><th>column</th><th>association</th><th>method</th><th></th></tr>{rows}</table>"
    )


def _compare(s: dict[str, Any]) -> str:
    c = s["compare"]
    head = (
        f"<h2>Comparison: {escape(str(s['title']))} "
        f"<span style='color:{_BLUE}'>■</span> vs {escape(str(c['label']))} "
        f"<span style='color:{_ORANGE}'>■</span></h2>"
    )
    pairs = [
        ("rows", f"{s['rows']:,} vs {c['rows']:,}"),
        ("duplicate rows", f"{_fmt(s['duplicate_rows'])} vs {_fmt(c['duplicate_rows'])}"),
    ]
    if c["added"]:
        pairs.append(("columns added", ", ".join(c["added"])))
    if c["removed"]:
        pairs.append(("columns removed", ", ".join(c["removed"])))
    for r in c["retyped"]:
        pairs.append((f"retyped {escape(r['name'])}", f"{r['a']} → {r['b']}"))
    notes = "".join(f"<p class='note'>{escape(n)}</p>" for n in c.get("notes") or [])
    cards = []
    for col in c["columns"]:
        a, b = col["a"], col["b"]
        stats = [
            (k, f"{_fmt(a.get(k))} | {_fmt(b.get(k))}")
            for k in ("null_rate", "distinct", "mean", "std", "p50", "top")
            if a.get(k) is not None or b.get(k) is not None
        ]
        if col.get("psi") is not None:
            stats.append(("PSI", col["psi"]))
        chart = ""
        if col.get("hist"):
            h = col["hist"]
            chart = _histogram({"edges": h["edges"], "counts": h["a"]}, other=h["b"])
        cards.append(f"<div class='card'><h3>{escape(col['name'])}</h3>{_rows(stats)}{chart}</div>")
    return head + _rows(pairs) + notes + "<div class='cards'>" + "".join(cards) + "</div>"

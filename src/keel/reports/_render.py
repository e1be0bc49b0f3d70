"""A comparison as Markdown (a merge-request comment) and as one self-contained HTML page.

The Markdown starts with :data:`MARKER`, a hidden HTML comment: ``keel report post`` finds
its earlier comment by it and updates that comment instead of adding another.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape
from typing import TYPE_CHECKING

from keel.reports._svg import BASE_COLOUR, HEAD_COLOUR, curve_svg

if TYPE_CHECKING:  # _compare imports this module lazily to render itself
    from keel.reports._compare import Comparison, MetricDelta, SideStat, SideSummary

MARKER = "<!-- keel-report -->"
VERDICT_MARK = {
    "better": "🟢 better",
    "worse": "🔴 worse",
    "noise": "⚪ within noise",
    "same": "⚪ same",
    "added": "new",
    "removed": "gone",
}
VERDICT_COLOUR = {"better": "#1a7f37", "worse": "#cf222e"}


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def _stat(stat: SideStat | None) -> str:
    if stat is None:
        return "—"
    if stat.n == 1:
        return _num(stat.mean)
    return f"{stat.mean:.4g} ± {stat.std:.2g} (n={stat.n})"


def _delta(m: MetricDelta) -> str:
    if m.delta is None:
        return "—"
    rel = f" ({m.relative:+.1%})" if m.relative is not None else ""
    return f"{m.delta:+.4g}{rel}"


def _arrow(m: MetricDelta) -> str:
    return "↓" if m.lower_is_better else "↑"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _side(s: SideSummary) -> str:
    return f"{s.label}, {len(s.run_ids)} run(s)"


def _dataset_lines(c: Comparison) -> list[str]:
    out = []
    for d in c.datasets:
        parts = []
        if d.rows_before != d.rows_after:
            parts.append(f"rows {d.rows_before} → {d.rows_after}")
        if d.added_columns:
            parts.append("added " + ", ".join(str(x["name"]) for x in d.added_columns))
        if d.removed_columns:
            parts.append("removed " + ", ".join(str(x["name"]) for x in d.removed_columns))
        parts += [f"{r.column}: {r.before} → {r.after}" for r in d.retyped_columns]
        parts += [f"{s.column}.{s.stat}: {s.before} → {s.after}" for s in d.stat_changes[:10]]
        if d.files_added or d.files_removed or d.files_modified:
            parts.append(
                f"files +{len(d.files_added)} -{len(d.files_removed)} ~{len(d.files_modified)}"
            )
        out.append(f"{d.a} → {d.b}: " + ("; ".join(parts) or "same schema and statistics"))
    return out


#: Run ids listed per side in the Markdown (the UI links each to the run, live).
MAX_LISTED_RUNS = 50


def _runs_markdown(c: Comparison) -> list[str]:
    lines = ["", "<details><summary>Runs</summary>", ""]
    for role, side in (("base", c.base), ("head", c.head)):
        more = len(side.run_ids) - MAX_LISTED_RUNS
        ids = ", ".join(side.run_ids[:MAX_LISTED_RUNS]) + (f" and {more} more" if more > 0 else "")
        lines.append(f"- {role} ({_cell(side.label)}): {ids}")
    return [*lines, "", "</details>"]


def _charts_markdown(charts: Mapping[str, str] | None) -> list[str]:
    if not charts:
        return []
    lines = ["", "### Curves", "", "Base dashed blue, head solid orange.", ""]
    return lines + [f"![{_cell(metric)}]({link})" for metric, link in charts.items()]


def to_markdown(c: Comparison, charts: Mapping[str, str] | None = None) -> str:
    """The report as Markdown; ``charts`` maps metrics to links of their curve images."""
    lines = [
        MARKER,
        f"## keel: `{c.head.label}` vs `{c.base.label}`",
        "",
        f"Project **{c.project}** · base: {_side(c.base)} · head: {_side(c.head)}",
        "",
        "### Metrics",
        "",
    ]
    if c.metrics:
        lines += ["| metric | base | head | Δ | |", "|---|---:|---:|---:|---|"]
        lines += [
            f"| {_cell(m.key)} {_arrow(m)} | {_stat(m.base)} | {_stat(m.head)} | {_delta(m)} "
            f"| {VERDICT_MARK[m.verdict]} |"
            for m in c.metrics
        ]
    else:
        lines.append("No metrics logged on either side.")
    lines += _charts_markdown(charts)
    lines += ["", "### Parameters", ""]
    if c.params:
        lines += ["| param | base | head |", "|---|---|---|"]
        lines += [
            f"| {_cell(p.key)} | {_cell(', '.join(p.base))} | {_cell(', '.join(p.head))} |"
            for p in c.params
        ]
    else:
        lines.append("No parameter changed.")
    if c.datasets:
        lines += ["", "### Datasets", ""] + [f"- {line}" for line in _dataset_lines(c)]
    lines += _code_markdown(c)
    if c.notes:
        lines += ["", "### Notes", ""] + [f"- {n}" for n in c.notes]
    lines += _runs_markdown(c)
    where = "" if charts else "; curves are in the HTML report"
    lines += ["", f"<sub>Made by `keel report compare`{where}.</sub>", ""]
    return "\n".join(lines)


def _code_markdown(c: Comparison) -> list[str]:
    if c.code is None:
        return []
    code = c.code
    lines = ["", "### Code", "", f"`{code.base_commit[:12]}..{code.head_commit[:12]}`: {code.stat}"]
    if code.files:
        lines += ["", "<details><summary>Files</summary>", "", "| file | + | - |", "|---|--:|--:|"]
        lines += [
            f"| {_cell(f.path)} | {_num_or_bin(f.added)} | {_num_or_bin(f.removed)} |"
            for f in code.files
        ]
        lines += ["", "</details>"]
    for nb in code.notebooks:
        lines += ["", f"#### Notebook `{nb.path}`: {nb.summary}"]
        for ch in nb.changes:
            body = "\n".join(x for x in (ch.source_diff, ch.output_diff) if x)
            lines += [
                "",
                f"<details><summary>{ch.kind} cell {ch.index + 1} {ch.status}</summary>",
                "",
                "```diff",
                body.replace("```", "` ` `"),
                "```",
                "</details>",
            ]
    return lines


def _num_or_bin(value: int | None) -> str:
    return "bin" if value is None else str(value)


_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:3px 8px}
th{background:#f6f8fa;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
.better{color:#1a7f37;font-weight:600}.worse{color:#cf222e;font-weight:600}.noise,.same{color:#666}
pre{background:#f6f8fa;padding:8px;overflow:auto}.curves svg{margin:4px}
.add{color:#1a7f37}.del{color:#cf222e}small{color:#666}
"""


def _table(headers: Iterable[str], cells: Iterable[Iterable[str]]) -> str:
    """An HTML table: one header row, then a row of the given ``<td>`` cells each."""
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join(f"<tr>{''.join(row)}</tr>" for row in cells)
    return f"<table><tr>{head}</tr>{body}</table>"


def to_html(c: Comparison) -> str:
    e = escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>keel: {e(c.head.label)} vs {e(c.base.label)}</title><style>{_CSS}</style>",
        f"</head><body><h1>{e(c.head.label)} <small>vs</small> {e(c.base.label)}</h1>",
        f"<p>Project <b>{e(c.project)}</b> · base: {e(_side(c.base))} · "
        f"head: {e(_side(c.head))}</p><h2>Metrics</h2>",
    ]
    parts.append(_metrics_html(c))
    if c.curves:
        parts.append(
            f"<h2>Curves</h2><p><span style='color:{BASE_COLOUR}'>- - base</span> · "
            f"<span style='color:{HEAD_COLOUR}'>— head</span></p><div class='curves'>"
            + "".join(curve_svg(cv) for cv in c.curves)
            + "</div>"
        )
    parts.append("<h2>Parameters</h2>" + _params_html(c))
    if c.datasets:
        parts.append("<h2>Datasets</h2><ul>")
        parts += [f"<li>{e(line)}</li>" for line in _dataset_lines(c)]
        parts.append("</ul>")
    parts.append(_code_html(c))
    if c.notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{e(n)}</li>" for n in c.notes) + "</ul>")
    parts.append("<p><small>Made by keel report compare.</small></p></body></html>")
    return "".join(parts)


def _metrics_html(c: Comparison) -> str:
    e = escape
    if not c.metrics:
        return "<p>No metrics logged on either side.</p>"
    return _table(
        ["metric", "base", "head", "Δ", ""],
        (
            [
                f"<td>{e(m.key)} {_arrow(m)}</td>",
                f"<td class='num'>{e(_stat(m.base))}</td>",
                f"<td class='num'>{e(_stat(m.head))}</td>",
                f"<td class='num {m.verdict}'>{e(_delta(m))}</td>",
                f"<td class='{m.verdict}'>{e(VERDICT_MARK[m.verdict])}</td>",
            ]
            for m in c.metrics
        ),
    )


def _params_html(c: Comparison) -> str:
    e = escape
    if not c.params:
        return "<p>No parameter changed.</p>"
    return _table(
        ["param", "base", "head"],
        (
            [
                f"<td>{e(p.key)}</td>",
                f"<td>{e(', '.join(p.base))}</td>",
                f"<td>{e(', '.join(p.head))}</td>",
            ]
            for p in c.params
        ),
    )


def _diff_html(text: str) -> str:
    out = []
    for line in text.splitlines():
        cls = "add" if line.startswith("+") else "del" if line.startswith("-") else ""
        out.append(f"<span class='{cls}'>{escape(line)}</span>" if cls else escape(line))
    return "<pre>" + "\n".join(out) + "</pre>"


def _code_html(c: Comparison) -> str:
    if c.code is None:
        return ""
    code = c.code
    parts = [
        f"<h2>Code</h2><p><code>{code.base_commit[:12]}..{code.head_commit[:12]}</code>: "
        f"{escape(code.stat)}</p>"
    ]
    if code.files:
        parts.append(
            _table(
                ["file", "+", "-"],
                (
                    [
                        f"<td>{escape(f.path)}</td>",
                        f"<td class='num'>{_num_or_bin(f.added)}</td>",
                        f"<td class='num'>{_num_or_bin(f.removed)}</td>",
                    ]
                    for f in code.files
                ),
            )
        )
    for nb in code.notebooks:
        parts.append(f"<h3>Notebook {escape(nb.path)}</h3><p>{escape(nb.summary)}</p>")
        for ch in nb.changes:
            body = "\n".join(x for x in (ch.source_diff, ch.output_diff) if x)
            parts.append(
                f"<details open><summary>{escape(ch.kind)} cell {ch.index + 1} "
                f"{escape(ch.status)}</summary>{_diff_html(body)}</details>"
            )
    return "".join(parts)


__all__ = ["MARKER", "to_html", "to_markdown"]

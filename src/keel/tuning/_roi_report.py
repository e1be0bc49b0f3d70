"""The ROI report as Markdown and as one self-contained HTML page (inline CSS and SVG)."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from keel.exceptions import InvalidArgumentError

if TYPE_CHECKING:
    from keel.tuning._roi import CurvePoint, ROIReport

VERDICT = {
    "ml": "Build the ML model",
    "rule": "Ship the rule",
    "collect more data": "Collect more data first",
    "none": "Do not automate this yet",
}


def _money(x: float) -> str:
    return f"{x:,.0f}"


def markdown(report: ROIReport) -> str:
    r = report
    lines = [
        f"# Is ML worth it? `{r.target}` on `{r.data}`",
        "",
        f"**Recommendation: {VERDICT[r.recommendation]}** (`{r.recommendation}`)",
        "",
        *[f"- {reason}" for reason in r.reasons],
        "",
        f"Assumptions: {r.value_per_correct:g} per correct prediction, {r.cost_per_error:g} per "
        f"error, {r.predictions_per_month:,.0f} predictions per month; scored on "
        f"{r.test_rows} held-out rows, 95% bootstrap intervals.",
        "",
        "| option | kind | how | accuracy | value / month | 95% CI |",
        "|---|---|---|---|---|---|",
    ]
    for o in r.options:
        lines.append(
            f"| {o.name} | {o.kind} | {o.description} | {o.accuracy:.3f} | "
            f"{_money(o.value_per_month)} | {_money(o.ci_low)} to {_money(o.ci_high)} |"
        )
    lines += [
        "",
        "## Learning curve (AutoML model)",
        "",
        "| training rows | accuracy | value / month |",
    ]
    lines.append("|---|---|---|")
    lines += [f"| {p.rows} | {p.accuracy:.3f} | {_money(p.value_per_month)} |" for p in r.curve]
    lines += ["", f"AutoML runs: parent run `{r.automl_run_id}`.", ""]
    return "\n".join(lines)


def _svg(curve: list[CurvePoint]) -> str:
    """A small line chart of value per month against training rows."""
    if len(curve) < 2:
        return "<p>Too few rows for a learning curve.</p>"
    w, h, pad = 420, 180, 40
    xs = [p.rows for p in curve]
    ys = [p.value_per_month for p in curve]
    lo, hi = min(ys), max(ys)
    span = (hi - lo) or 1.0

    def at(p: CurvePoint) -> tuple[float, float]:
        x = pad + (p.rows - xs[0]) / ((xs[-1] - xs[0]) or 1) * (w - 2 * pad)
        y = h - pad - (p.value_per_month - lo) / span * (h - 2 * pad)
        return x, y

    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in map(at, curve))
    dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3"/>' for x, y in map(at, curve))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img" '
        f'aria-label="learning curve">'
        f'<polyline fill="none" stroke="#2563eb" stroke-width="2" points="{points}"/>'
        f'<g fill="#2563eb">{dots}</g>'
        f'<text x="{pad}" y="{h - 8}" font-size="11">{xs[0]} rows</text>'
        f'<text x="{w - pad}" y="{h - 8}" font-size="11" text-anchor="end">{xs[-1]} rows</text>'
        f'<text x="4" y="{pad - 8}" font-size="11">{_money(hi)}/month</text>'
        f'<text x="4" y="{h - pad + 14}" font-size="11">{_money(lo)}/month</text>'
        "</svg>"
    )


_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:860px;margin:2em auto;color:#111}"
    "table{border-collapse:collapse;width:100%}td,th{border:1px solid #ddd;padding:4px 8px;"
    "text-align:left}th{background:#f3f4f6}.verdict{font-size:1.3em;padding:.6em;"
    "background:#ecfdf5;border-left:4px solid #059669}"
)


def html(report: ROIReport) -> str:
    r = report
    rows = "".join(
        f"<tr><td>{escape(o.name)}</td><td>{escape(o.kind)}</td><td>{escape(o.description)}</td>"
        f"<td>{o.accuracy:.3f}</td><td>{_money(o.value_per_month)}</td>"
        f"<td>{_money(o.ci_low)} to {_money(o.ci_high)}</td></tr>"
        for o in r.options
    )
    reasons = "".join(f"<li>{escape(x)}</li>" for x in r.reasons)
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>ROI: {escape(r.target)}</title><style>{_CSS}</style></head><body>"
        f"<h1>Is ML worth it? {escape(r.target)} on {escape(r.data)}</h1>"
        f"<p class='verdict'>Recommendation: <b>{escape(VERDICT[r.recommendation])}</b></p>"
        f"<ul>{reasons}</ul>"
        f"<p>Assumptions: {r.value_per_correct:g} per correct prediction, "
        f"{r.cost_per_error:g} per error, {r.predictions_per_month:,.0f} predictions per month; "
        f"{r.test_rows} held-out rows, 95% bootstrap intervals.</p>"
        "<table><tr><th>option</th><th>kind</th><th>how</th><th>accuracy</th>"
        f"<th>value / month</th><th>95% CI</th></tr>{rows}</table>"
        f"<h2>Learning curve (AutoML model)</h2>{_svg(r.curve)}"
        f"<p>AutoML runs: parent run <code>{escape(r.automl_run_id)}</code>.</p>"
        "</body></html>\n"
    )


def report_format(path: str | Path) -> str:
    """``md`` or ``html`` from a report path's suffix; any other suffix is a clear error."""
    suffix = Path(path).suffix.lower()
    if suffix not in (".md", ".html", ".htm"):
        raise InvalidArgumentError(f"--out {path} must end in .md or .html")
    return "md" if suffix == ".md" else "html"


__all__ = ["html", "markdown", "report_format"]

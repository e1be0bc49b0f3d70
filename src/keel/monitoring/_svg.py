"""Tiny inline SVG charts (line charts and a heatmap), so reports need no script or CDN."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from html import escape

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563")
W, H, PAD_L, PAD_R, PAD_T, PAD_B = 640, 230, 56, 24, 40, 30


def line_chart(
    title: str,
    labels: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    hlines: Mapping[str, float | None] | None = None,
    y_format: str = "{:.3g}",
) -> str:
    """Lines over a category axis (windows); gaps where a value is None."""
    values = [v for vs in series.values() for v in vs if v is not None]
    values += [v for v in (hlines or {}).values() if v is not None]
    if not labels or not values:
        return _empty(title)
    lo, hi = _y_range(values)
    n = len(labels)

    def x(i: int) -> float:
        return PAD_L + (W - PAD_L - PAD_R) * (i / (n - 1) if n > 1 else 0.5)

    def y(v: float) -> float:
        return PAD_T + (H - PAD_T - PAD_B) * (1 - (v - lo) / (hi - lo))

    parts = [_frame(title), *_y_axis(lo, hi, y, y_format), *_x_axis(labels, x)]
    for name, line in (hlines or {}).items():
        if line is not None:
            parts.append(
                f'<line x1="{PAD_L}" x2="{W - PAD_R}" y1="{y(line):.1f}" y2="{y(line):.1f}" '
                f'stroke="#9ca3af" stroke-dasharray="4 3"/>'
                f'<text x="{W - PAD_R}" y="{y(line) - 3:.1f}" text-anchor="end" class="lb">'
                f"{escape(name)}</text>"
            )
    legend_x = float(PAD_L)
    for k, (name, vs) in enumerate(series.items()):
        color = PALETTE[k % len(PALETTE)]
        parts.extend(_polyline(vs, x, y, color))
        parts.append(
            f'<rect x="{legend_x:.0f}" y="22" width="12" height="4" fill="{color}"/>'
            f'<text x="{legend_x + 16:.0f}" y="28" class="lg">{escape(name)}</text>'
        )
        legend_x += 16 + 6.5 * len(name) + 18
    parts.append("</svg>")
    return "".join(parts)


def _y_range(values: list[float]) -> tuple[float, float]:
    """A padded value range that does not dip below zero for non-negative data."""
    lo, hi = min(values), max(values)
    if hi == lo:
        lo, hi = lo - 0.5 * (abs(lo) or 1), hi + 0.5 * (abs(hi) or 1)
    pad = (hi - lo) * 0.08
    low = lo - pad
    if lo >= 0 > low:
        low = 0.0
    return low, hi + pad


def _polyline(
    vs: Sequence[float | None], x: Callable[[int], float], y: Callable[[float], float], color: str
) -> list[str]:
    out: list[list[str]] = []
    run: list[str] = []
    for i, v in enumerate(vs):
        if v is None:
            if run:
                out.append(run)
            run = []
            continue
        run.append(f"{x(i):.1f},{y(v):.1f}")
    if run:
        out.append(run)
    svg = []
    for pts in out:
        svg.append(
            f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{" ".join(pts)}"/>'
        )
        svg.extend(
            f'<circle cx="{p.split(",")[0]}" cy="{p.split(",")[1]}" r="2.5" fill="{color}"/>'
            for p in pts
        )
    return svg


def heatmap(
    title: str,
    rows: Sequence[str],
    columns: Sequence[str],
    cells: dict[tuple[str, str], tuple[float | None, bool]],
    *,
    value_format: str = "{:.2f}",
) -> str:
    """Rows (features) x columns (windows); cell shade = value in [0, 1]; drifted cells outlined."""
    if not rows or not columns:
        return _empty(title)
    cw, ch, left, top = max(28, min(80, 560 // len(columns))), 18, 150, 34
    width, height = left + cw * len(columns) + 10, top + ch * len(rows) + 40
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img"><title>{escape(title)}</title>'
        f'<text x="4" y="16" class="tt">{escape(title)}</text>'
    ]
    for r, row in enumerate(rows):
        yy = top + r * ch
        parts.append(
            f'<text x="{left - 6}" y="{yy + 13}" text-anchor="end" class="lb">'
            f"{escape(row[:22])}</text>"
        )
        for c, col in enumerate(columns):
            value, flagged = cells.get((row, col), (None, False))
            xx = left + c * cw
            fill = "#f3f4f6" if value is None else _shade(value)
            stroke = ' stroke="#dc2626" stroke-width="2"' if flagged else ""
            tip = "no data" if value is None else value_format.format(value)
            parts.append(
                f'<rect x="{xx}" y="{yy}" width="{cw - 2}" height="{ch - 2}" fill="{fill}"{stroke}>'
                f"<title>{escape(row)} @ {escape(col)}: {escape(tip)}</title></rect>"
            )
    for c, col in enumerate(columns):
        if len(columns) <= 12 or c % max(1, len(columns) // 12) == 0:
            mid = left + c * cw + cw / 2
            parts.append(
                f'<text x="{mid:.1f}" y="{top + ch * len(rows) + 14}" text-anchor="middle" '
                f'class="lb">{escape(col[-5:])}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _shade(value: float) -> str:
    v = max(0.0, min(1.0, value))
    r = int(255 - (255 - 37) * v)
    g = int(255 - (255 - 99) * v)
    b = int(255 - (255 - 235) * v)
    return f"#{r:02x}{g:02x}{b:02x}"


def _frame(title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" '
        f'role="img"><title>{escape(title)}</title>'
        f'<text x="4" y="12" class="tt">{escape(title)}</text>'
    )


def _y_axis(lo: float, hi: float, y: Callable[[float], float], fmt: str) -> list[str]:
    out = []
    for k in range(5):
        v = lo + (hi - lo) * k / 4
        yy = y(v)
        out.append(
            f'<line x1="{PAD_L}" x2="{W - PAD_R}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#e5e7eb"/>'
            f'<text x="{PAD_L - 4}" y="{yy + 4:.1f}" text-anchor="end" class="lb">'
            f"{escape(fmt.format(v))}</text>"
        )
    return out


def _x_axis(labels: Sequence[str], x: Callable[[int], float]) -> list[str]:
    step = max(1, len(labels) // 8)
    last = len(labels) - 1
    out = []
    for i, lab in enumerate(labels):
        if i % step and i != last:
            continue
        anchor = "end" if i == last and last > 0 else "start" if i == 0 and last > 0 else "middle"
        out.append(
            f'<text x="{x(i):.1f}" y="{H - PAD_B + 16}" text-anchor="{anchor}" class="lb">'
            f"{escape(lab)}</text>"
        )
    return out


def _empty(title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} 60" width="{W}" height="60" '
        'role="img">'
        f'<title>{escape(title)}</title><text x="4" y="16" class="tt">{escape(title)}</text>'
        '<text x="4" y="40" class="lb">no data in this period</text></svg>'
    )

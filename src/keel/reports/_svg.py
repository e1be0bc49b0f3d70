"""Metric curves as small inline SVG: base runs dashed blue, head runs solid orange."""

from __future__ import annotations

import math
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from keel.reports._compare import Curve

W, H, PAD = 360, 200, 34
BASE_COLOUR, HEAD_COLOUR = "#1f77b4", "#e8710a"


def curve_svg(curve: Curve) -> str:
    """A self-contained ``<svg>`` drawing every run's history of ``curve.metric``."""
    points = [
        (s, v) for side in (curve.base, curve.head) for run in side for s, v in run
        if math.isfinite(v)
    ]  # fmt: skip
    if not points:
        return ""
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y0, y1 = min(p[1] for p in points), max(p[1] for p in points)
    sx = (W - 2 * PAD) / ((x1 - x0) or 1)
    sy = (H - 2 * PAD) / ((y1 - y0) or 1)

    def line(run: list[tuple[int, float]], colour: str, dash: str) -> str:
        coords = " ".join(
            f"{PAD + (s - x0) * sx:.1f},{H - PAD - (v - y0) * sy:.1f}"
            for s, v in run
            if math.isfinite(v)
        )
        return (
            f'<polyline fill="none" stroke="{colour}" stroke-width="1.6" '
            f'stroke-dasharray="{dash}" points="{coords}"/>'
        )

    lines = [line(r, BASE_COLOUR, "5,3") for r in curve.base]
    lines += [line(r, HEAD_COLOUR, "none") for r in curve.head]
    title = escape(curve.metric)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
        f'viewBox="0 0 {W} {H}" role="img" aria-label="{title}">'
        f'<rect width="{W}" height="{H}" fill="#fff" stroke="#ddd"/>'
        f'<text x="{PAD}" y="16" font-size="12" font-family="sans-serif">{title}</text>'
        f'<text x="4" y="{PAD + 4}" font-size="10" fill="#666">{y1:.4g}</text>'
        f'<text x="4" y="{H - PAD}" font-size="10" fill="#666">{y0:.4g}</text>'
        f'<text x="{PAD}" y="{H - 8}" font-size="10" fill="#666">step {x0}</text>'
        f'<text x="{W - PAD}" y="{H - 8}" font-size="10" fill="#666" '
        f'text-anchor="end">step {x1}</text>'
        f"{''.join(lines)}</svg>"
    )


__all__ = ["BASE_COLOUR", "HEAD_COLOUR", "curve_svg"]

"""A comparison's metric curves as files: SVG always, PNG too when matplotlib is installed
(``keel[charts]``), written to a folder and, for a stored report, uploaded as artifacts.

The Markdown of a merge-request comment cannot hold inline SVG, so it links the charts:
relative paths for files written next to it (``--charts DIR``), and for a stored report
the raw artifact URLs of the keel UI (absolute with ``KEEL_SERVER_URL``), where the report
page shows them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

from keel.reports._compare import Comparison, Curve
from keel.reports._svg import BASE_COLOUR, HEAD_COLOUR, curve_svg
from keel.tracking import TrackingClient

#: Where a stored report's charts go among the head run's artifacts.
ARTIFACT_DIR = "keel-report"
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def chart_name(metric: str) -> str:
    """A file name for ``metric``'s curve (no path separators, no dots first)."""
    return "curve-" + (_SAFE.sub("_", metric).strip("._") or "metric")


def write_charts(report: Comparison, directory: Path) -> dict[str, list[Path]]:
    """Every curve of ``report`` as ``DIR/curve-<metric>.svg`` (and ``.png`` with
    matplotlib); ``{metric: [files]}``."""
    directory.mkdir(parents=True, exist_ok=True)
    out: dict[str, list[Path]] = {}
    for curve in report.curves:
        svg = curve_svg(curve)
        if not svg:
            continue
        stem = directory / chart_name(curve.metric)
        stem.with_suffix(".svg").write_text(svg, encoding="utf-8")
        files = [stem.with_suffix(".svg")]
        png = _png(curve, stem.with_suffix(".png"))
        if png is not None:
            files.append(png)
        out[curve.metric] = files
    return out


def _png(curve: Curve, dest: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None  # SVG only without keel[charts]
    fig, ax = plt.subplots(figsize=(4.8, 2.8), dpi=100)
    for side, colour, style in ((curve.base, BASE_COLOUR, "--"), (curve.head, HEAD_COLOUR, "-")):
        for run in side:
            points = [(s, v) for s, v in run if math.isfinite(v)]
            ax.plot([p[0] for p in points], [p[1] for p in points], style, color=colour, lw=1.4)
    ax.set_title(curve.metric, fontsize=10)
    ax.set_xlabel("step", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(dest)
    plt.close(fig)
    return dest


def relative_links(files: Mapping[str, list[Path]], markdown_dir: Path) -> dict[str, str]:
    """Links to the PNG (or SVG) of each metric, relative to where the Markdown is."""
    out = {}
    for metric, paths in files.items():
        best = next((p for p in paths if p.suffix == ".png"), paths[0])
        out[metric] = quote(Path(_relpath(best, markdown_dir)).as_posix())
    return out


def _relpath(path: Path, start: Path) -> str:
    import os

    return os.path.relpath(path.resolve(), start.resolve())


def upload_charts(
    report: Comparison, files: Mapping[str, list[Path]], client: TrackingClient
) -> dict[str, str]:
    """Upload the chart files as artifacts of the head side's first run; their UI links."""
    if not files or not report.head.run_ids:
        return {}
    run_id = report.head.run_ids[0]
    links = {}
    server = (client.store.settings.server_url or "").rstrip("/")
    project = quote(client.project_name, safe="")
    for metric, paths in files.items():
        for path in paths:
            client.log_artifact(run_id, path, f"{ARTIFACT_DIR}/{path.name}")
        best = next((p for p in paths if p.suffix == ".png"), paths[0])
        links[metric] = (
            f"{server}/ui/p/{project}/runs/{run_id}/raw/{ARTIFACT_DIR}/{quote(best.name)}"
        )
    return links


__all__ = ["ARTIFACT_DIR", "chart_name", "relative_links", "upload_charts", "write_charts"]

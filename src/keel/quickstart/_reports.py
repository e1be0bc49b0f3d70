"""Tour step for review: a merge-request report of the candidates, stored, then searched."""

from __future__ import annotations

from keel.quickstart._context import TourContext
from keel.quickstart._core import EXPERIMENT
from keel.quickstart._models import MODEL_NAME


def review_candidates(ctx: TourContext) -> None:
    """Compare every candidate with the champion as a merge-request comment would, store
    the report, and find it again with full-text search."""
    from keel.reports import compare, save_report, search

    report = compare(
        f"experiment:{EXPERIMENT}", f"{MODEL_NAME}@champion", client=ctx.client, curves=False
    )
    out = ctx.settings.home / "report.html"
    out.write_text(report.to_html(), encoding="utf-8")
    (ctx.settings.home / "report.md").write_text(report.to_markdown(), encoding="utf-8")
    ctx.table(
        "Champion vs all candidates (mean ± std over the candidates)",
        ["metric", "candidates", "champion", "verdict"],
        [
            [m.key, f"{m.base.mean:.4f} ± {m.base.std:.4f}" if m.base else "-",
             f"{m.head.mean:.4f}" if m.head else "-", m.verdict]
            for m in report.metrics
        ],
    )  # fmt: skip
    stored = save_report(report, title="Champion vs the quickstart candidates", client=ctx.client)
    hits = search("quickstart candidate", client=ctx.client, limit=5)
    ctx.say(
        f"Report written to [bold]{out}[/bold] (and report.md for an MR comment), stored as "
        f"report {stored.id}; `keel search` finds {len(hits)} object(s) for "
        "[italic]quickstart candidate[/italic]"
    )

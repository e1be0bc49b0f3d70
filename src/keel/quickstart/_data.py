"""Tour step for data science: an exploration report of the versioned data."""

from __future__ import annotations

from keel.quickstart._context import TourContext


def explore_data(ctx: TourContext) -> None:
    """Explore the dataset version against its target: distributions, correlations, alerts."""
    from keel.data import DatasetClient, explore

    datasets = DatasetClient(ctx.client.store, ctx.client.project)
    ref = ctx.results["dataset"].ref
    report = explore(ref, target="target", datasets=datasets)
    out = ctx.settings.home / "reports" / "explore-breast-cancer.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    report.save(out)
    s = report.summary
    top = ", ".join(
        f"{r['column']} ({r['value']:.2f})" for r in s["target"]["ranking"][:3] if r["value"]
    )
    ctx.say(
        f"Explored [bold]{ref}[/bold]: {s['rows']} rows x {s['columns']} columns, "
        f"{len(s['alerts'])} alerts, in {s['seconds']:.1f} s; strongest links to the target: {top}"
    )
    ctx.say(f"Report: [bold]{out}[/bold] ({out.stat().st_size // 1024} KB, no rows inside)")
    ctx.results["explore_report"] = out

"""Stored reports: a comparison saved with its Markdown and the sides it compared.

The sides stay references (git refs, run ids, ``model@alias``): ``keel report compare``
with the same sides shows the live state, the stored Markdown what reviewers saw.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from keel.reports._charts import upload_charts, write_charts
from keel.reports._compare import Comparison
from keel.store.reports import ReportVersion, StoredReport
from keel.tracking import TrackingClient, get_client


def save_report(
    report: Comparison,
    *,
    title: str | None = None,
    into: int | None = None,
    charts: bool = True,
    client: TrackingClient | None = None,
) -> StoredReport:
    """Store ``report`` in its project (searchable with ``keel search --kind report``);
    ``into`` saves it as the next version of that stored report instead. Its curves are
    uploaded as artifacts of the head's first run and linked from the Markdown
    (``charts=False``: not)."""
    client = client or get_client()
    links: dict[str, str] = {}
    if charts and report.curves:
        with tempfile.TemporaryDirectory(prefix="keel-report-") as tmp:
            links = upload_charts(report, write_charts(report, Path(tmp)), client)
    markdown = report.to_markdown(links or None)
    if into is not None:
        return client.store.reports.revise(client.project.id, into, markdown, title=title or "")
    return client.store.reports.save(
        client.project.id,
        title or f"{report.head.label} vs {report.base.label}",
        markdown,
        base=report.base.spec,
        head=report.head.spec,
    )


def list_reports(*, client: TrackingClient | None = None, limit: int = 100) -> list[StoredReport]:
    client = client or get_client()
    return client.store.reports.list(client.existing_project().id, limit=limit)


def get_report(
    report_id: int, *, version: int | None = None, client: TrackingClient | None = None
) -> StoredReport:
    """A stored report, or one of its earlier versions."""
    client = client or get_client()
    return client.store.reports.get(client.existing_project().id, report_id, version=version)


def report_versions(report_id: int, *, client: TrackingClient | None = None) -> list[ReportVersion]:
    """Every save of a stored report, newest first."""
    client = client or get_client()
    return client.store.reports.versions(client.existing_project().id, report_id)


__all__ = ["get_report", "list_reports", "report_versions", "save_report"]

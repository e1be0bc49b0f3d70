"""Stored reports: a comparison saved with its Markdown and the sides it compared.

The sides stay references (git refs, run ids, ``model@alias``): ``keel report compare``
with the same sides shows the live state, the stored Markdown what reviewers saw.
"""

from __future__ import annotations

from keel.reports._compare import Comparison
from keel.store.reports import StoredReport
from keel.tracking import TrackingClient, get_client


def save_report(
    report: Comparison, *, title: str | None = None, client: TrackingClient | None = None
) -> StoredReport:
    """Store ``report`` in its project (searchable with ``keel search --kind report``)."""
    client = client or get_client()
    return client.store.reports.save(
        client.project.id,
        title or f"{report.head.label} vs {report.base.label}",
        report.to_markdown(),
        base=report.base.spec,
        head=report.head.spec,
    )


def list_reports(*, client: TrackingClient | None = None, limit: int = 100) -> list[StoredReport]:
    client = client or get_client()
    return client.store.reports.list(client.project.id, limit=limit)


def get_report(report_id: int, *, client: TrackingClient | None = None) -> StoredReport:
    client = client or get_client()
    return client.store.reports.get(client.project.id, report_id)


__all__ = ["get_report", "list_reports", "save_report"]

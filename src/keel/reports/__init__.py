"""Reports and knowledge: comparison reports for merge requests, and search (CR_1, PL_2).

::

    import keel.reports

    report = keel.reports.compare("main", "HEAD")      # git refs, run ids, model@alias ...
    open("report.md", "w").write(report.to_markdown())  # a merge-request comment
    open("report.html", "w").write(report.to_html())    # self-contained, curves inline
    keel.reports.search("churn model calibration", kinds=["run", "comment"])
"""

from __future__ import annotations

from keel.reports._charts import relative_links, upload_charts, write_charts
from keel.reports._code import CodeDiff, FileChange
from keel.reports._compare import (
    Comparison,
    Curve,
    MetricDelta,
    ParamChange,
    SideStat,
    SideSummary,
    compare,
    metric_deltas,
    param_changes,
)
from keel.reports._notebook import CellChange, NotebookDiff, diff_notebooks
from keel.reports._post import PostResult, post_comment
from keel.reports._render import MARKER
from keel.reports._search import search
from keel.reports._stored import get_report, list_reports, report_versions, save_report
from keel.store.reports import ReportVersion, StoredReport
from keel.store.search import SearchHit

__all__ = [
    "MARKER",
    "CellChange",
    "CodeDiff",
    "Comparison",
    "Curve",
    "FileChange",
    "MetricDelta",
    "NotebookDiff",
    "ParamChange",
    "PostResult",
    "ReportVersion",
    "SearchHit",
    "SideStat",
    "SideSummary",
    "StoredReport",
    "compare",
    "diff_notebooks",
    "get_report",
    "list_reports",
    "metric_deltas",
    "param_changes",
    "post_comment",
    "relative_links",
    "report_versions",
    "save_report",
    "search",
    "upload_charts",
    "write_charts",
]

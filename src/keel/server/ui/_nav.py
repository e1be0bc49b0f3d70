"""The project frame's pieces every page draws: the nav's sections and a project's URL prefix.

Below both :mod:`~keel.server.ui._render` (an error page inside a project keeps the nav) and
:mod:`~keel.server.ui._common` (every project page), so neither imports the other for them.
"""

from __future__ import annotations

from urllib.parse import quote

NAV = (
    ("experiments", "Experiments"),
    ("datasets", "Datasets"),
    ("pipelines", "Pipelines"),
    ("sweeps", "Sweeps"),
    ("models", "Models"),
    ("deployments", "Deployments"),
    ("monitoring", "Monitoring"),
    ("labeling", "Labeling"),
    ("reports", "Reports"),
)


def project_base(name: str) -> str:
    return f"/ui/p/{quote(name, safe='')}"


__all__ = ["NAV", "project_base"]

"""Value types of store areas whose repositories need SQLAlchemy (monitors, reports,
search, comments, logged models, users), apart from them: the HTTP client's wire format
(:mod:`keel.store.wire`) names these, and team mode must not import SQLAlchemy and the
schema (~0.3 s) to start.

Import them from their areas (``keel.store.monitors`` and so on).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from keel.store.entities import Lifecycle


class Role(StrEnum):
    """A user's role in one project; each includes the rights of the ones before it."""

    READER = "reader"
    WRITER = "writer"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


_RANK = {Role.READER: 1, Role.WRITER: 2, Role.ADMIN: 3}


@dataclass(frozen=True, slots=True)
class Monitor:
    """What is watched on one deployment; ``reference`` names a stored reference profile."""

    id: int
    project_id: int
    deployment: str
    reference: str
    window: str
    enabled: bool
    created_at: int
    updated_at: int
    last_run_at: int | None
    last_window_end: int | None
    config: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        on = "enabled" if self.enabled else "disabled"
        return f"Monitor({self.deployment!r}, reference={self.reference!r}, {self.window}, {on})"


@dataclass(frozen=True, slots=True)
class ReferenceInfo:
    """A stored reference profile: ``subject`` is what it describes (``model:churn/3``)."""

    id: int
    project_id: int
    subject: str
    blob_sha: str
    num_rows: int
    num_columns: int
    source: str
    created_at: int


@dataclass(frozen=True, slots=True)
class StoredReport:
    """A saved report: its Markdown and the sides it compared (re-run them for live data)."""

    id: int
    project_id: int
    title: str
    markdown: str
    base: str
    head: str
    author: str
    created_at: int
    updated_at: int
    version: int = 1


@dataclass(frozen=True, slots=True)
class ReportVersion:
    """One save of a report: the current one is the report itself, earlier ones are kept."""

    report_id: int
    version: int
    title: str
    author: str
    created_at: int


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One object found: what and where it is, why (the snippet, matches in ``**``)."""

    kind: str
    ref: str
    project_id: int
    title: str
    snippet: str
    score: float
    author: str
    updated_at: int


@dataclass(frozen=True, slots=True)
class Comment:
    id: int
    project_id: int
    subject_kind: str
    subject_id: str
    author: str
    body: str
    created_at: int
    context: str = ""


@dataclass(frozen=True, slots=True)
class LoggedModel:
    id: str
    experiment_id: int
    name: str
    source_run_id: str | None
    model_type: str
    status: str
    status_message: str
    lifecycle: Lifecycle
    created_at: int
    updated_at: int
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    is_admin: bool
    is_active: bool
    created_at: int


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A token's metadata; the secret itself is never stored."""

    id: int
    user_id: int
    name: str
    prefix: str
    created_at: int
    expires_at: int | None
    last_used_at: int | None
    revoked: bool


@dataclass(frozen=True, slots=True)
class Membership:
    project_id: int
    user_id: int
    user_name: str
    role: Role


__all__ = [
    "ApiToken",
    "Comment",
    "LoggedModel",
    "Membership",
    "Monitor",
    "ReferenceInfo",
    "ReportVersion",
    "Role",
    "SearchHit",
    "StoredReport",
    "User",
]

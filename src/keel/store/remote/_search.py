"""Search and stored reports over HTTP: the :class:`~keel.store.protocols.Search` and
:class:`~keel.store.protocols.Reports` protocols, generated from
:data:`keel.store.wire_routes.ROUTES` (every method is one request)."""

from __future__ import annotations

from keel.store.protocols import Reports, Search
from keel.store.remote._generate import remote_repository
from keel.store.wire_routes import ROUTES

RemoteSearch = remote_repository(Search, ROUTES["search"])
RemoteReports = remote_repository(Reports, ROUTES["reports"])

__all__ = ["RemoteReports", "RemoteSearch"]

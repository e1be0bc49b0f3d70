"""Labeling, search, stored reports and sweeps over HTTP, generated from their protocols
and :data:`keel.store.wire_routes.ROUTES`; nothing is written by hand (NaN checks of
free-form attributes are declared on the routes)."""

from __future__ import annotations

from keel.store.protocols import Labeling, Reports, Search, Sweeps
from keel.store.remote._generate import remote_repository
from keel.store.wire_routes import ROUTES

RemoteLabeling = remote_repository(Labeling, ROUTES["labeling"])
RemoteSearch = remote_repository(Search, ROUTES["search"])
RemoteReports = remote_repository(Reports, ROUTES["reports"])
RemoteSweeps = remote_repository(Sweeps, ROUTES["sweeps"])

__all__ = ["RemoteLabeling", "RemoteReports", "RemoteSearch", "RemoteSweeps"]

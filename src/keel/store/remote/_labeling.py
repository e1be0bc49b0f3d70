"""Labeling over HTTP: the :class:`~keel.store.protocols.Labeling` protocol, generated from
:data:`keel.store.wire_routes.ROUTES` (every method is one request)."""

from __future__ import annotations

from keel.store.protocols import Labeling
from keel.store.remote._generate import remote_repository
from keel.store.wire_routes import ROUTES

RemoteLabeling = remote_repository(Labeling, ROUTES["labeling"])

__all__ = ["RemoteLabeling"]

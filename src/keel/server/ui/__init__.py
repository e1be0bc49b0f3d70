"""The web UI served by ``keel server``: server-rendered pages, small vanilla scripts.

:func:`include` adds every page, the sign-in flow and the static files to an app built by
:func:`keel.server.create_app`. Pages reuse the server's access decisions (``reader``,
``writer`` ...) with the caller taken from a sealed session cookie; every state change
needs the session's CSRF token. Templates and static files ship inside the package (no
build step, no CDN).
"""

from __future__ import annotations

from types import SimpleNamespace

from fastapi import Depends, FastAPI

from keel.server._state import AppState
from keel.server.ui import _static
from keel.server.ui._series_cache import SeriesCache
from keel.server.ui._session import SessionCodec, load_session

SESSION_KEY = "ui-session"


def _routers() -> list[object]:
    from keel.server.ui import (
        _compare,
        _datasets,
        _discussion,
        _labeling,
        _lineage,
        _login,
        _models,
        _notfound,
        _ops,
        _pipelines,
        _reports,
        _run,
        _runs,
        _search,
        _sweeps,
    )

    return [
        _login.router,
        _runs.router,
        _run.router,
        _compare.router,
        _discussion.router,
        _lineage.router,
        _datasets.router,
        _pipelines.router,
        _models.router,
        _ops.router,
        _search.router,
        _reports.router,
        _sweeps.router,
        _labeling.router,
        _notfound.router,  # last: it answers every /ui/ path no other route took
    ]


def include(app: FastAPI) -> None:
    """Mount the UI on ``app`` (after ``app.state.keel`` is set by ``create_app``)."""
    st: AppState = app.state.keel
    app.state.keel_ui = SimpleNamespace(
        codec=SessionCodec(st.store.credentials.server_key(SESSION_KEY)),
        series_cache=SeriesCache(),
    )
    app.include_router(_static.router())
    for router in _routers():
        app.include_router(router, dependencies=[Depends(load_session)])  # type: ignore[arg-type]


__all__ = ["include"]

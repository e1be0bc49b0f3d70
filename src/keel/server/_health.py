"""``/api/v1/health``: the server answers and its database does too.

A server whose database is down or black-holed must say so (503) rather than report
``ok`` while every real request fails. One probe runs at a time, in a worker thread, and
a caller waits for it at most ``timeout_s``: a hung database never piles up threads.
"""

from __future__ import annotations

import asyncio

from starlette.concurrency import run_in_threadpool

from keel.exceptions import KeelError
from keel.store.protocols import Db

#: How long a health check waits for the database's answer.
PROBE_TIMEOUT_S = 3.0


class HealthProbe:
    """Asks the database ``SELECT 1``; shared by every health request of one app."""

    def __init__(self, db: Db, *, timeout_s: float = PROBE_TIMEOUT_S) -> None:
        self._db = db
        self._timeout_s = timeout_s
        self._task: asyncio.Future[str | None] | None = None

    async def database_problem(self) -> str | None:
        """``None`` when the database answered, else one line saying what is wrong."""
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(run_in_threadpool(self._ping))
        try:
            return await asyncio.wait_for(asyncio.shield(self._task), self._timeout_s)
        except TimeoutError:
            return f"the metadata database did not answer within {self._timeout_s:g} s"

    def _ping(self) -> str | None:
        try:
            with self._db.cursor(write=False) as cur:
                cur.execute("SELECT 1")
                cur.fetchone()
        except KeelError as exc:
            return str(exc)
        return None


__all__ = ["PROBE_TIMEOUT_S", "HealthProbe"]

"""Encoded chart series kept between requests of one server process, and prefetched.

Drawing the same comparison again (another tab, a reload) should not sample a hundred
histories again, and the first drawing should not wait for the browser to ask: when the
compare page is rendered, its series start being sampled in a background thread, and a
request for one that is being computed waits for that result instead of computing it
twice. An entry is reused only while the runs' newest points (``latest_metrics``: step and
time per run) are those it was built from, so a run that logs more is sampled afresh; a
point backfilled at an older step and time than the newest is the one change this does not
see until the entry ages out. Bounded by bytes; each worker keeps its own.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor

MAX_BYTES = 64 << 20
WAIT_S = 120.0
PREFETCH_THREADS = 2


class SeriesCache:
    """A byte-bounded LRU of response bodies, each valid for one fingerprint."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self._max = max_bytes
        self._size = 0
        self._items: OrderedDict[Hashable, tuple[Hashable, bytes]] = OrderedDict()
        self._pending: dict[tuple[Hashable, Hashable], Future[bytes]] = {}
        self._lock = threading.Lock()
        # two threads: SQLite releases the GIL while it reads, so sampling overlaps
        self._background = ThreadPoolExecutor(
            PREFETCH_THREADS, thread_name_prefix="keel-ui-prefetch"
        )

    def get(self, key: Hashable, fingerprint: Hashable) -> bytes | None:
        with self._lock:
            return self._hit(key, fingerprint)

    def _hit(self, key: Hashable, fingerprint: Hashable) -> bytes | None:
        found = self._items.get(key)
        if found is None or found[0] != fingerprint:
            return None
        self._items.move_to_end(key)
        return found[1]

    def put(self, key: Hashable, fingerprint: Hashable, body: bytes) -> None:
        if len(body) > self._max // 4:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._size -= len(old[1])
            self._items[key] = (fingerprint, body)
            self._size += len(body)
            while self._size > self._max:
                _key, (_fp, dropped) = self._items.popitem(last=False)
                self._size -= len(dropped)

    def compute(self, key: Hashable, fingerprint: Hashable, make: Callable[[], bytes]) -> bytes:
        """The cached body, or the one another thread is making, or ``make()``'s."""
        with self._lock:
            body = self._hit(key, fingerprint)
            if body is not None:
                return body
            pending = self._pending.get((key, fingerprint))
            if pending is None:
                mine: Future[bytes] = Future()
                self._pending[(key, fingerprint)] = mine
        if pending is not None:
            return pending.result(timeout=WAIT_S)
        try:
            body = make()
        except BaseException as exc:
            mine.set_exception(exc)
            raise
        finally:
            with self._lock:
                self._pending.pop((key, fingerprint), None)
        self.put(key, fingerprint, body)
        mine.set_result(body)
        return body

    def prefetch(self, job: Callable[[], object]) -> None:
        """Run ``job`` (which fills the cache through :meth:`compute`) in the background."""
        self._background.submit(_quietly, job)


def _quietly(job: Callable[[], object]) -> None:
    try:
        job()
    except Exception:  # a request for the same series reports the error to its caller
        return


__all__ = ["SeriesCache"]

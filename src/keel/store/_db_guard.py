"""A client-side deadline for PostgreSQL transactions.

PostgreSQL's ``statement_timeout`` stops a slow query, but only a server that answers can
send that error: when the database host hangs or the link is black-holed, the driver waits
on its socket for as long as TCP allows (many minutes). :class:`Deadlines` watches the
connections that are inside a transaction and shuts down the socket of one that has not
finished within its deadline; the driver then fails at once with a connection error, the
pool throws that connection away, and the caller gets a clear "did not answer" instead
of a hang.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class _Watch:
    fd: int
    deadline: float
    expired: bool = field(default=False)


class Deadlines:
    """Cut the socket of any watched connection still busy after ``limit_s`` seconds.

    One daemon thread per instance, started on first use and asleep while nothing is
    watched; safe to share between threads.
    """

    def __init__(self, limit_s: float, *, tick_s: float = 0.25) -> None:
        self.limit_s = limit_s
        self._tick_s = tick_s
        self._lock = threading.Lock()
        self._busy = threading.Condition(self._lock)
        self._watches: dict[int, _Watch] = {}
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def watch(self, fd: int) -> Iterator[_Watch]:
        """Watch the socket ``fd`` for the block; the yielded watch says if it was cut."""
        w = _Watch(fd, time.monotonic() + self.limit_s)
        key = id(w)
        with self._lock:
            self._watches[key] = w
            self._start()
            self._busy.notify()
        try:
            yield w
        finally:
            with self._lock:  # once out, the socket is never cut for this block
                self._watches.pop(key, None)

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="keel-db-deadlines", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._busy:
                self._busy.wait_for(lambda: bool(self._watches))
            time.sleep(self._tick_s)
            now = time.monotonic()
            with self._lock:
                for w in self._watches.values():
                    if not w.expired and now > w.deadline:
                        w.expired = True
                        _shutdown(w.fd)


def _shutdown(fd: int) -> None:
    """Shut down (not close: the driver still owns the descriptor) the socket ``fd``."""
    import socket

    try:
        sock = socket.socket(fileno=fd)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    finally:
        sock.detach()  # leave the descriptor open for its owner


__all__ = ["Deadlines"]

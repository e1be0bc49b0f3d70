"""What keel's two HTTP servers (``keel server`` and ``keel serve``) share under uvicorn.

- :class:`GuardedProtocol`: uvicorn's HTTP protocol with ``TCP_NODELAY`` on each accepted
  connection (a small response written in two parts would otherwise wait ~40 ms for the
  client's delayed ACK) and deadlines on reading a request. uvicorn itself never times out
  a client that sends half a request and stops, so a few hundred such connections hold
  every file descriptor the process may open; here a request's headers must arrive within
  :data:`HEADER_TIMEOUT_S` and its body may not stall for :data:`BODY_IDLE_TIMEOUT_S`
  (a slow but moving upload is fine), else the connection is answered 408 and closed.
- :func:`uvicorn_options`: the uvicorn settings both servers use.
- :func:`raise_open_files_limit`: lift the soft file-descriptor limit to the hard one, so
  a burst of connections does not lock valid clients out before the deadlines free them.
- :func:`exit_with_parent`: a worker process stops when the process that started it dies,
  even by SIGKILL (both servers' worker processes call it first thing).

A module of its own below every layer (it imports only uvicorn), so both the server and
serving packages use it; worker processes import the protocol by :data:`PROTOCOL_PATH`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import threading
import time
from typing import Any

from uvicorn.protocols.http.auto import AutoHTTPProtocol

#: A request's start line and headers must have arrived this long after it began.
HEADER_TIMEOUT_S = 10.0
#: A request body may go this long without a byte (while the app waits for one).
BODY_IDLE_TIMEOUT_S = 30.0
#: An idle keep-alive connection is closed after this long (uvicorn's default).
KEEP_ALIVE_S = 5
#: Connections the kernel queues before the server accepts them.
BACKLOG = 2048
#: The soft file-descriptor limit keel asks for (never above the hard limit).
OPEN_FILES = 65536
PROTOCOL_PATH = "keel._uvicorn:GuardedProtocol"
_TIMEOUT_408 = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 35\r\nconnection: close\r\n\r\nthe request did not arrive in time\n"
)


class GuardedProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
    """uvicorn's HTTP protocol with TCP_NODELAY and request-read deadlines."""

    header_timeout_s = HEADER_TIMEOUT_S
    body_idle_timeout_s = BODY_IDLE_TIMEOUT_S

    def connection_made(self, transport: Any) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
        self._deadline: asyncio.TimerHandle | None = None
        self._seen_cycle: Any = None
        self._arm(self.header_timeout_s)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.transport.get_protocol() is not self:  # upgraded (websocket): not ours now
            self._disarm()
            return
        cycle = self.cycle
        if cycle is None or (cycle is self._seen_cycle and not cycle.more_body):
            return  # still reading headers (the header deadline runs), or nothing new
        self._seen_cycle = cycle
        if cycle.more_body and not cycle.response_complete:
            self._arm(self.body_idle_timeout_s)  # the body moves: a fresh idle deadline
        else:
            self._disarm()  # the whole request is in; the app's time is its own

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm(self.header_timeout_s)  # the next request on this connection

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if getattr(self, "_deadline", None) is not None:
            self._deadline.cancel()  # type: ignore[union-attr]
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        waiting_for_app = cycle is not None and cycle.more_body and self.flow.read_paused
        if waiting_for_app:  # the app has not read what came; not the client's fault
            self._arm(self.body_idle_timeout_s)
            return
        if cycle is None or cycle.response_complete or not cycle.response_started:
            self.transport.write(_TIMEOUT_408)
        self.transport.close()


def uvicorn_options() -> dict[str, Any]:
    """uvicorn settings both servers add to their own (pass the protocol by class or path)."""
    return {"timeout_keep_alive": KEEP_ALIVE_S, "backlog": BACKLOG}


def raise_open_files_limit(target: int = OPEN_FILES) -> int:
    """Lift this process's soft limit on open files towards ``target``; returns the limit."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Windows
        return -1
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = target if hard == resource.RLIM_INFINITY else min(target, hard)
    if soft != resource.RLIM_INFINITY and soft < want:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
            return want
    return soft


def exit_with_parent(parent_pid: int | None) -> None:
    """Make this worker stop when the process that started it dies, even by SIGKILL:
    a worker left behind would keep serving and hold the port against a restart.

    Linux delivers SIGTERM on the parent's death (``PR_SET_PDEATHSIG``; uvicorn then
    finishes requests in flight); elsewhere a thread watches the parent's pid.
    """
    if not parent_pid:
        return
    if sys.platform == "linux":
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGTERM))
        if os.getppid() != parent_pid:  # it died before we asked to be told
            os._exit(1)
        return

    def watch() -> None:  # pragma: no cover - not Linux
        while os.getppid() == parent_pid:
            time.sleep(1)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="keel-parent-watch", daemon=True).start()


__all__ = [
    "BODY_IDLE_TIMEOUT_S",
    "HEADER_TIMEOUT_S",
    "PROTOCOL_PATH",
    "GuardedProtocol",
    "exit_with_parent",
    "raise_open_files_limit",
    "uvicorn_options",
]

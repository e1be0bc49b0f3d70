"""Network faults for tests and ``benchmarks/faults.py``: real sockets, no mocks.

- :class:`BlackHole`: a TCP port that accepts connections and never answers (a hung or
  black-holed database host).
- :class:`TcpProxy`: forwards a port to a real server (PostgreSQL) until told to black-hole
  the link (bytes stop flowing both ways, sockets stay open) or to drop it (connections
  closed and refused, as when the database is down).
- :func:`slow_clients`: connections that send the start of a request and then nothing.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time
from collections.abc import Iterator


class BlackHole:
    """A listening port whose connections complete and then hear nothing, ever."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(512)
        self.port = int(self._sock.getsockname()[1])
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self._sock.settimeout(0.2)
        while not self._stop.is_set():
            with contextlib.suppress(OSError):
                conn, _ = self._sock.accept()
                self._held.append(conn)  # read nothing, answer nothing

    def close(self) -> None:
        self._stop.set()
        for conn in self._held:
            conn.close()
        self._sock.close()


class TcpProxy:
    """``127.0.0.1:<port>`` forwarded to ``target`` until :meth:`blackhole` or :meth:`drop`."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self._listener.setblocking(False)
        self.port = int(self._listener.getsockname()[1])
        self.mode = "forward"
        self._pairs: dict[socket.socket, socket.socket] = {}
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._listener, selectors.EVENT_READ)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def blackhole(self) -> None:
        """Stop moving bytes (both ways) on every connection, old and new."""
        self.mode = "blackhole"

    def drop(self) -> None:
        """Close every connection and refuse new ones (the database is down)."""
        with self._lock:
            self.mode = "drop"
            for a in list(self._pairs):
                self._close(a)

    def restore(self) -> None:
        """Forward again (connections cut meanwhile stay cut)."""
        with self._lock:
            for a in list(self._pairs):
                self._close(a)
            self.mode = "forward"

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        with self._lock:
            for a in list(self._pairs):
                self._close(a)
        self._listener.close()

    def _close(self, a: socket.socket) -> None:
        b = self._pairs.pop(a, None)
        for s in (a, b):
            if s is not None:
                with contextlib.suppress(KeyError, ValueError):
                    self._sel.unregister(s)
                s.close()
        if b is not None:
            self._pairs.pop(b, None)

    def _loop(self) -> None:
        while not self._stop.is_set():
            for key, _ in self._sel.select(0.1):
                with self._lock:
                    if key.fileobj is self._listener:
                        self._accept()
                    elif self.mode == "forward":
                        self._pump(key.fileobj)  # type: ignore[arg-type]
            if self.mode == "blackhole":
                time.sleep(0.05)  # bytes wait in the kernel buffers, unread

    def _accept(self) -> None:
        with contextlib.suppress(BlockingIOError):
            client, _ = self._listener.accept()
            if self.mode == "drop":
                client.close()
                return
            upstream = socket.create_connection(self.target)
            for s in (client, upstream):
                s.setblocking(False)
                self._sel.register(s, selectors.EVENT_READ)
            self._pairs[client], self._pairs[upstream] = upstream, client

    def _pump(self, src: socket.socket) -> None:
        dst = self._pairs.get(src)
        if dst is None:
            return
        try:
            data = src.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._close(src)
            return
        dst.setblocking(True)
        try:
            dst.sendall(data)
        except OSError:
            self._close(src)
        finally:
            with contextlib.suppress(OSError):
                dst.setblocking(False)


@contextlib.contextmanager
def slow_clients(port: int, n: int, first_bytes: bytes) -> Iterator[list[socket.socket]]:
    """``n`` connections to ``port`` that send ``first_bytes`` and then nothing."""
    socks: list[socket.socket] = []
    try:
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(first_bytes)
            socks.append(s)
        yield socks
    finally:
        for s in socks:
            s.close()


def closed_by_peer(sock: socket.socket) -> bool:
    """Whether the server has closed ``sock`` (without waiting)."""
    sock.setblocking(False)
    try:
        data = sock.recv(65536)
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        sock.setblocking(True)
    return data == b"" or data.startswith(b"HTTP/1.1 408") or data.startswith(b"HTTP/1.1 4")


__all__ = ["BlackHole", "TcpProxy", "closed_by_peer", "slow_clients"]

"""uvicorn's HTTP protocol with TCP_NODELAY on every accepted connection.

Without it, a small response written in two parts waits for the client's delayed ACK
(~40 ms per keep-alive request with several workers). Module-level so worker processes
can import it by name (``keel.server._nodelay:NoDelayProtocol``).
"""

from __future__ import annotations

import contextlib
import socket
from typing import Any

from uvicorn.protocols.http.auto import AutoHTTPProtocol

IMPORT_PATH = "keel.server._nodelay:NoDelayProtocol"


class NoDelayProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
    """Send small responses at once: no Nagle wait on keep-alive connections."""

    def connection_made(self, transport: Any) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)


__all__ = ["IMPORT_PATH", "NoDelayProtocol"]

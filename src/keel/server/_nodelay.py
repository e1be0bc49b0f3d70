"""uvicorn's HTTP protocol for ``keel server``: TCP_NODELAY and request-read deadlines.

The class lives in :mod:`keel._uvicorn` (``keel serve`` uses the same one); this name stays
for worker processes and callers that import it from here.
"""

from __future__ import annotations

from keel._uvicorn import PROTOCOL_PATH, GuardedProtocol

IMPORT_PATH = PROTOCOL_PATH
NoDelayProtocol = GuardedProtocol

__all__ = ["IMPORT_PATH", "NoDelayProtocol"]

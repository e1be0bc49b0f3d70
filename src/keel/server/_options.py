"""How one ``keel server`` behaves: authentication, allowed hosts and request limits."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
MIB = 1 << 20


@dataclass(frozen=True)
class ServerOptions:
    """Options passed to :func:`keel.server.create_app` (the CLI builds them from flags).

    ``allowed_hosts`` is the Host header allowlist (``"*"`` allows any); ``max_body_bytes``
    caps JSON bodies and ``max_upload_bytes`` artifact uploads; ``max_results`` caps every
    page size a client may ask for.
    """

    auth: bool = False
    allowed_hosts: tuple[str, ...] = LOOPBACK_NAMES
    max_body_bytes: int = 32 * MIB
    max_upload_bytes: int = 5 * 1024 * MIB
    max_results: int = 50_000
    default_project: str = "default"


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server reachable from this machine only."""
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


__all__ = ["ServerOptions", "is_loopback"]

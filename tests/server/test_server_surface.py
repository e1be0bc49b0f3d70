"""The server's public surface is deliberate: these lists change only on purpose."""

from __future__ import annotations

import keel.server
import keel.store.remote
from keel.server import ServerOptions, is_loopback


def test_server_surface_is_pinned() -> None:
    assert set(keel.server.__all__) == {
        "DOCS_URL", "OPENAPI_URL", "ServerOptions", "check_bind", "create_app", "is_loopback",
        "serve",
    }  # fmt: skip
    assert set(keel.store.remote.__all__) == {
        "RemoteBlobStore", "RemoteDatabase", "open_remote_store",
    }  # fmt: skip


def test_defaults_are_the_safe_ones() -> None:
    options = ServerOptions()
    assert options.auth is False  # with auth off, only loopback binds are allowed
    assert set(options.allowed_hosts) == {"localhost", "127.0.0.1", "::1"}
    assert options.max_results == 50_000 and options.max_body_bytes == 32 << 20
    assert is_loopback("127.0.0.2") and not is_loopback("")

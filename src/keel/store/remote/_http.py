"""One HTTP session to a ``keel server``, turning error answers back into keel exceptions.

The server names the exception class in ``keel_error``; the client raises that same
type (looked up in :mod:`keel.exceptions` only, never imported by name from elsewhere).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from keel import exceptions as errors
from keel.exceptions import (
    AlreadyExistsError,
    AuthenticationError,
    ConfigError,
    InvalidArgumentError,
    KeelError,
    NotFoundError,
    PermissionDeniedError,
    StoreError,
)
from keel.store import wire

#: Where keel's own API lives on a server.
V1 = "/api/v1"
_JSON_BODY = {"Content-Type": "application/json"}

_BY_CODE: dict[str, type[KeelError]] = {
    "RESOURCE_DOES_NOT_EXIST": NotFoundError,
    "RESOURCE_ALREADY_EXISTS": AlreadyExistsError,
    "INVALID_PARAMETER_VALUE": InvalidArgumentError,
    "BAD_REQUEST": InvalidArgumentError,
    "UNAUTHENTICATED": AuthenticationError,
    "PERMISSION_DENIED": PermissionDeniedError,
}


def _error(status: int, body: Any, url: str) -> KeelError:
    message = f"keel server answered {status} for {url}"
    kind: type[KeelError] = StoreError
    if isinstance(body, dict):
        message = str(body.get("message") or message)
        named = getattr(errors, str(body.get("keel_error", "")), None)
        if (
            isinstance(named, type)
            and issubclass(named, KeelError)
            and named.__name__ in errors.__all__
        ):
            return named(message)
        kind = _BY_CODE.get(str(body.get("error_code")), kind)
    if status == 401:
        kind = AuthenticationError
    elif status == 404 and kind is StoreError:
        kind = NotFoundError
    return kind(message)


class Http:
    """A thread-safe httpx client bound to one server URL and token.

    ``receipts`` remembers the server's upload receipts (blob hash -> receipt) so that
    recording an artifact can prove this client uploaded the bytes.
    """

    def __init__(self, base_url: str, token: str | None, *, timeout_s: float = 60.0) -> None:
        try:
            import httpx
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise ConfigError(
                "KEEL_SERVER_URL is set but httpx is missing; pip install keel"
            ) from exc
        headers = {"User-Agent": "keel-remote"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.base_url = base_url.rstrip("/")
        self._httpx = httpx
        self.client = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout_s)
        self.receipts: dict[str, str] = {}
        self._lock = threading.Lock()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            resp = self.client.request(method, path, **kwargs)
        except self._httpx.TransportError as exc:
            raise StoreError(f"cannot reach keel server at {self.base_url}: {exc}") from exc
        if resp.status_code >= 400:
            try:
                body = resp.json()
            except ValueError:
                body = None
            raise _error(resp.status_code, body, f"{method} {path}")
        return resp.json() if resp.content else {}

    def get(self, path: str, /, **params: Any) -> Any:
        clean = {k: v for k, v in params.items() if v is not None}
        return self.request("GET", path, params=clean)

    def head(self, path: str) -> dict[str, str] | None:
        """The headers of a HEAD answer, or None when the server says 404."""
        try:
            resp = self.client.request("HEAD", path)
        except self._httpx.TransportError as exc:
            raise StoreError(f"cannot reach keel server at {self.base_url}: {exc}") from exc
        if resp.status_code == 404:
            return None
        if resp.status_code >= 400:
            raise _error(resp.status_code, None, f"HEAD {path}")
        return dict(resp.headers)

    def send(self, method: str, path: str, body: Any) -> Any:
        """``body`` (entities welcome) in the wire format of :mod:`keel.store.wire`."""
        return self.request(method, path, content=wire.encode(body), headers=_JSON_BODY)

    def post(self, path: str, body: Any) -> Any:
        return self.send("POST", path, body)

    def put(self, path: str, body: Any) -> Any:
        return self.send("PUT", path, body)

    def patch(self, path: str, body: Any) -> Any:
        return self.send("PATCH", path, body)

    def delete(self, path: str, /, **params: Any) -> Any:
        return self.request("DELETE", path, params=params)

    def upload(self, path: str, src: IO[bytes]) -> Any:
        def chunks() -> Iterator[bytes]:
            while chunk := src.read(1 << 20):
                yield chunk

        headers = {"Content-Type": "application/octet-stream"}
        return self.request("PUT", path, content=chunks(), headers=headers)

    @contextmanager
    def stream(self, path: str) -> Iterator[Any]:
        try:
            with self.client.stream("GET", path) as resp:
                if resp.status_code >= 400:
                    resp.read()
                    try:
                        body = resp.json()
                    except ValueError:
                        body = None
                    raise _error(resp.status_code, body, f"GET {path}")
                yield resp
        except self._httpx.TransportError as exc:
            raise StoreError(f"cannot reach keel server at {self.base_url}: {exc}") from exc

    def remember(self, sha: str, receipt: str) -> None:
        with self._lock:
            self.receipts[sha] = receipt

    def receipt(self, sha: str) -> str | None:
        with self._lock:
            return self.receipts.get(sha)

    def close(self) -> None:
        self.client.close()


__all__ = ["V1", "Http"]

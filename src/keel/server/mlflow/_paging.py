"""Page tokens and page-size caps for the MLflow API (opaque offsets, checked on the way in)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from keel.exceptions import InvalidArgumentError
from keel.server.mlflow._context import Ctx

T = TypeVar("T")


def decode(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = int(json.loads(base64.urlsafe_b64decode(token.encode()).decode())["offset"])
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidArgumentError(
            f"page_token {token[:40]!r} was not issued by this server; pass next_page_token"
        ) from exc
    if not 0 <= offset < 2**53:
        raise InvalidArgumentError(f"page_token {token[:40]!r} is out of range")
    return offset


def encode(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def page(
    items: Sequence[T], key: str, token: str | None, size: int, convert: Callable[[T], Any]
) -> dict[str, Any]:
    """The page of ``items`` that starts at the offset ``token`` holds, ``size`` long, each
    through ``convert``, under ``key``; with ``next_page_token`` when more follow."""
    offset = decode(token)
    out: dict[str, Any] = {key: [convert(x) for x in items[offset : offset + size]]}
    if offset + size < len(items):
        out["next_page_token"] = encode(offset + size)
    return out


def check_max(ctx: Ctx, max_results: int) -> None:
    cap = ctx.st.options.max_results
    if max_results > cap:
        raise InvalidArgumentError(
            f"Invalid value {max_results} for parameter 'max_results' supplied: it is over "
            f"this server's cap of {cap}; page with page_token instead."
        )

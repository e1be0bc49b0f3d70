"""Page tokens of run search: an opaque offset (no SQLAlchemy, so a plain listing that
pages with driver-level SQL need not import it)."""

from __future__ import annotations

import base64
import binascii
import json

from keel.exceptions import InvalidArgumentError

MAX_RESULTS_LIMIT = 50_000


def check_max_results(max_results: int) -> None:
    if not 1 <= max_results <= MAX_RESULTS_LIMIT:
        raise InvalidArgumentError(
            f"max_results must be between 1 and {MAX_RESULTS_LIMIT}, got {max_results}; "
            "page through larger results with page_token"
        )


def decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()).decode())
        offset = int(data["offset"])
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidArgumentError(
            f"page token {token[:40]!r} is not one keel issued; pass the next_page_token "
            "from the previous page"
        ) from exc
    if offset < 0:
        raise InvalidArgumentError(f"page token {token[:40]!r} has a negative offset")
    return offset


def encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()

"""Page tokens of run search (no SQLAlchemy, so a plain listing that pages with
driver-level SQL need not import it).

A token is the sort key of the last run of the page (see :mod:`keel.store._run_keyset`)
and a digest of the filter and order it belongs to: the next page starts after that run
whatever its depth. Offset tokens of earlier keel versions are refused with a clear error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from keel.exceptions import InvalidArgumentError

MAX_RESULTS_LIMIT = 50_000


def check_max_results(max_results: int) -> None:
    if not 1 <= max_results <= MAX_RESULTS_LIMIT:
        raise InvalidArgumentError(
            f"max_results must be between 1 and {MAX_RESULTS_LIMIT}, got {max_results}; "
            "page through larger results with page_token"
        )


def search_digest(filter_string: str | None, order_by: Sequence[str] | str | None) -> str:
    """What a token is bound to: the search's filter and order, as given."""
    import hashlib  # here, like json and base64: the first page of a listing needs neither
    import json

    order = [order_by] if isinstance(order_by, str) else list(order_by or ())
    text = json.dumps([filter_string or "", order])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def decode_token(token: str | None, digest: str) -> list[Any] | None:
    """The sort key to start after (None: the first page)."""
    if not token:
        return None
    import base64
    import binascii
    import json

    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()).decode())
        key, bound = data["after"], data["q"]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        stale = " (an offset token of an older keel)" if '"offset"' in _text(token) else ""
        raise InvalidArgumentError(
            f"page token {token[:40]!r} is not one keel issued{stale}; pass the "
            "next_page_token from the previous page, or start again from the first page"
        ) from exc
    if not _well_formed(key):
        raise InvalidArgumentError(f"page token {token[:40]!r} is not one keel issued")
    if bound != digest:
        raise InvalidArgumentError(
            f"page token {token[:40]!r} belongs to another filter or order; pass the same "
            "filter and order_by as the search that returned it"
        )
    return key


def _well_formed(key: Any) -> bool:
    """Scalars ending with the tie-breakers (a start time and a run id)."""
    return (
        isinstance(key, list)
        and len(key) >= 2
        and type(key[-2]) is int
        and isinstance(key[-1], str)
        and all(v is None or type(v) in (int, float, str) for v in key)
    )


def _text(token: str) -> str:
    import base64
    import binascii

    try:
        return base64.urlsafe_b64decode(token.encode()).decode(errors="replace")
    except (ValueError, binascii.Error):
        return ""


def encode_token(key: Sequence[Any], digest: str) -> str:
    import base64
    import json

    text = json.dumps({"after": list(key), "q": digest}, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode()

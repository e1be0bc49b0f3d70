"""Sizes in Kubernetes units, shared by deployment specs (serving) and resource budgets
(monitoring), which stay independent of each other."""

from __future__ import annotations

import re

from keel.exceptions import InvalidArgumentError

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtKMGT]i?)?[bB]?\s*$")
_UNITS = {
    "": 1,
    "k": 10**3,
    "m": 10**6,
    "g": 10**9,
    "t": 10**12,
    "ki": 2**10,
    "mi": 2**20,
    "gi": 2**30,
    "ti": 2**40,
}


def parse_memory(value: str | int | float) -> int:
    """Bytes from ``512Mi``, ``2Gi``, ``1.5G`` or a positive byte count (Kubernetes units)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return int(value)
    m = _SIZE.match(str(value))
    if m is None or float(m.group(1)) <= 0:
        raise InvalidArgumentError(
            f"memory {value!r} is not a size; write it like 512Mi, 2Gi or a number of bytes"
        )
    return int(float(m.group(1)) * _UNITS[(m.group(2) or "").lower()])

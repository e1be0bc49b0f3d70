"""What a step asks of the machine it runs on, and the local check of that request.

A request is never silently ignored: a runner either honours it (Dask worker resources)
or refuses the pipeline before any step runs, naming the step and what is missing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keel.exceptions import InvalidArgumentError

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "t": 1000**4,
    "tb": 1000**4,
    "ki": 1024,
    "kib": 1024,
    "mi": 1024**2,
    "mib": 1024**2,
    "gi": 1024**3,
    "gib": 1024**3,
    "ti": 1024**4,
    "tib": 1024**4,
}
_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_memory(value: str | int | float) -> int:
    """Bytes from ``8GiB``, ``512 MB``, ``1.5G`` or a plain number of bytes."""
    if isinstance(value, bool):
        raise InvalidArgumentError(f"memory must be a size such as '8GiB', got {value!r}")
    if isinstance(value, (int, float)):
        if value < 0:
            raise InvalidArgumentError(f"memory must not be negative, got {value!r}")
        return int(value)
    match = _MEMORY.match(str(value))
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS:
        raise InvalidArgumentError(
            f"memory {value!r} is not a size; write it like '8GiB', '512MB' or a number of bytes"
        )
    return int(float(match.group(1)) * _UNITS[unit])


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024
    return f"{n}B"  # pragma: no cover


@dataclass(frozen=True)
class Resources:
    """Hardware one step needs: ``keel.Resources(cpus=4, memory="8GiB", gpus=1)``.

    ``custom`` names further Dask worker resources (``{"TPU": 1}``) a worker must offer.
    """

    cpus: float | None = None
    memory: int | str | None = None
    gpus: int = 0
    custom: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.cpus is not None and (isinstance(self.cpus, bool) or self.cpus <= 0):
            raise InvalidArgumentError(f"cpus must be a positive number, got {self.cpus!r}")
        if self.memory is not None:
            object.__setattr__(self, "memory", parse_memory(self.memory))
        if isinstance(self.gpus, bool) or not isinstance(self.gpus, int) or self.gpus < 0:
            raise InvalidArgumentError(f"gpus must be a whole number >= 0, got {self.gpus!r}")
        for name, amount in self.custom.items():
            if not isinstance(amount, (int, float)) or amount <= 0:
                raise InvalidArgumentError(
                    f"resource {name!r} needs a positive amount, not {amount!r}"
                )
        object.__setattr__(self, "custom", dict(self.custom))

    @property
    def memory_bytes(self) -> int | None:
        return None if self.memory is None else int(self.memory)

    @property
    def is_empty(self) -> bool:
        return self.cpus is None and self.memory is None and not self.gpus and not self.custom

    def describe(self) -> str:
        parts = []
        if self.cpus is not None:
            parts.append(f"cpus={self.cpus:g}")
        if self.memory is not None:
            parts.append(f"memory={format_bytes(int(self.memory))}")
        if self.gpus:
            parts.append(f"gpus={self.gpus}")
        parts.extend(f"{k}={v:g}" for k, v in sorted(self.custom.items()))
        return ", ".join(parts) or "none"

    def as_dict(self) -> dict[str, Any]:
        return {
            "cpus": self.cpus,
            "memory": self.memory_bytes,
            "gpus": self.gpus,
            "custom": dict(self.custom),
        }


def local_gpu_count() -> int:
    """GPUs the NVIDIA driver exposes on this machine (0 without one)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    gpus = Path("/proc/driver/nvidia/gpus")
    found = len(list(gpus.iterdir())) if gpus.is_dir() else 0
    if visible is not None and found:
        return min(found, len([d for d in visible.split(",") if d.strip() not in ("", "-1")]))
    return found


def local_shortfall(resources: Resources) -> str | None:
    """Why this machine cannot meet ``resources``, or None when it can."""
    if resources.cpus is not None and resources.cpus > (os.cpu_count() or 1):
        return f"cpus={resources.cpus:g} but this machine has {os.cpu_count()} CPUs"
    if resources.memory_bytes is not None:
        import psutil

        total = psutil.virtual_memory().total
        if resources.memory_bytes > total:
            return (
                f"memory={format_bytes(resources.memory_bytes)} but this machine has "
                f"{format_bytes(total)}"
            )
    if resources.gpus:
        have = local_gpu_count()
        if resources.gpus > have:
            return f"gpus={resources.gpus} but this machine has {have} GPU(s)"
    if resources.custom:
        names = ", ".join(sorted(resources.custom))
        return f"custom resources ({names}) exist only on Dask workers started with --resources"
    return None

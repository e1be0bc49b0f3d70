"""Does this environment run the frameworks a model was packaged with?

A package records the versions it was saved with (``frameworks``) and the pins it needs
(``requirements``). Serving with other versions often works and sometimes predicts
differently without a word, so ``keel serve`` compares them first: one warning line per
mismatch, or a refusal under ``--strict-env``. The same pins are what an exported image
installs (:func:`runtime_requirements`), so an image built by ``keel deploy export``
passes the check by construction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from importlib import metadata
from typing import TYPE_CHECKING

from keel.exceptions import ConfigError, InvalidArgumentError

if TYPE_CHECKING:
    from keel.models import Manifest

_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._\-]*)\s*(?:\[[^\]]*\])?\s*==\s*([^\s;,]+)\s*$")
#: What serving an ONNX twin needs beyond the native flavor's pins.
_ONNX_RUNTIME = "onnxruntime"


def _norm(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist).lower()


def runtime_requirements(manifest: Manifest) -> list[str]:
    """The pins serving ``manifest`` needs: its requirements, plus the ONNX runtime when the
    verified ONNX twin is what serves."""
    reqs = [r.strip() for r in manifest.requirements if r.strip()]
    runtime = manifest.frameworks.get(_ONNX_RUNTIME)
    onnx = manifest.serve_flavor == "onnx" and runtime
    if onnx and not any(_norm(_name(r)) == _ONNX_RUNTIME for r in reqs):
        reqs.append(f"{_ONNX_RUNTIME}=={runtime}")
    return reqs


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;,]", requirement.strip(), maxsplit=1)[0]


def pinned_versions(manifest: Manifest) -> dict[str, str]:
    """``{distribution: version}`` of every exact pin serving ``manifest`` needs."""
    out: dict[str, str] = {}
    for req in runtime_requirements(manifest):
        match = _PIN.match(req)
        if match:
            out[match.group(1)] = match.group(2)
    return out


def mismatches(manifest: Manifest, label: str) -> list[str]:
    """One line per pinned framework whose installed version differs (or is missing)."""
    lines = []
    for dist, wanted in sorted(pinned_versions(manifest).items()):
        try:
            installed: str | None = metadata.version(dist)
        except metadata.PackageNotFoundError:
            installed = None
        if installed == wanted:
            continue
        here = f"{dist} {installed} is installed" if installed else f"{dist} is not installed"
        lines.append(f"{label} was packaged with {dist}=={wanted} but {here}")
    return lines


def merged_requirements(pins: Iterable[tuple[str, list[str]]]) -> list[str]:
    """One requirement list for several packages; two different pins of one distribution
    cannot share an image and are refused, naming both packages."""
    chosen: dict[str, tuple[str, str]] = {}
    for label, reqs in pins:
        for req in reqs:
            key = _norm(_name(req))
            seen = chosen.get(key)
            if seen is not None and seen[0].replace(" ", "") != req.replace(" ", ""):
                raise InvalidArgumentError(
                    f"{seen[1]} needs {seen[0]} but {label} needs {req}; one image cannot "
                    "hold both: export them as separate deployments"
                )
            chosen.setdefault(key, (req, label))
    return [req for req, _label in sorted(chosen.values())]


def check_environment(labelled: Iterable[tuple[str, Manifest]], *, strict: bool) -> list[str]:
    """The mismatch lines of every served package; under ``strict`` any mismatch is a
    :class:`~keel.exceptions.ConfigError` (one line, naming the first and the count)."""
    lines = [line for label, manifest in labelled for line in mismatches(manifest, label)]
    if strict and lines:
        more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
        raise ConfigError(
            f"--strict-env: {lines[0]}{more}; install the package's pinned requirements "
            "or serve without --strict-env"
        )
    return lines


__all__ = [
    "check_environment",
    "merged_requirements",
    "mismatches",
    "pinned_versions",
    "runtime_requirements",
]

"""``keel serve`` as one use case: check the environment, record the deployment, serve.

Before binding a port the frameworks the served packages were saved with are compared with
this environment (a warning line per mismatch, or a refusal under ``strict_env``). The
server then registers its deployment in the store (ad hoc unless it serves an applied one)
and keeps it seen until it exits; see :mod:`keel.serving._presence`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from keel.exceptions import InvalidArgumentError
from keel.serving._bundle import PackageSource, served_versions
from keel.serving._deploy import get_spec
from keel.serving._envcheck import check_environment
from keel.serving._presence import Presence
from keel.serving._spec import DeploymentSpec, load_spec, spec_for_refs

if TYPE_CHECKING:
    from keel.config import Settings
    from keel.models import Manifest
    from keel.store import Store


def served_manifests(
    spec: DeploymentSpec, store: Store, project: str, packages: PackageSource | None
) -> list[tuple[str, Manifest]]:
    """``(name/version, manifest)`` of every version ``spec`` serves now."""
    if packages is None:
        return [(sv.key, sv.manifest) for sv in served_versions(store, project, spec)]
    seen: dict[str, Manifest] = {}
    for ep in spec.endpoints:
        for v in ep.versions:
            version = packages.resolve(v.ref)
            seen.setdefault(f"{v.ref.name}/{version}", packages.manifest(v.ref.name, version))
    return list(seen.items())


def launch(
    spec: DeploymentSpec,
    settings: Settings,
    store: Store,
    *,
    applied: bool,
    packages: Path | None = None,
    strict_env: bool = False,
    warn: Callable[[str], None] = print,
    host: str | None = None,
    port: int | None = None,
    workers: int | None = None,
    log_level: str = "warning",
    command: str = "",
    ready: Callable[[str], None] | None = None,
) -> None:
    """Serve ``spec`` until SIGTERM/Ctrl-C; ``applied`` when it is a stored deployment
    (served with ``--deployment``: it follows new revisions). ``ready`` gets the address
    once the app started."""
    from keel.serving._server import serve

    if not applied:  # recorded with the ad hoc deployment (an applied one keeps its revision)
        spec = spec.with_trust(settings.model_trust)
    source = PackageSource(packages) if packages is not None else None
    for line in check_environment(
        served_manifests(spec, store, settings.project, source), strict=strict_env
    ):
        warn(f"warning: {line}")
    note = f"ad hoc: {command}" if command else "ad hoc"
    presence = Presence(settings, spec, adhoc=not applied, note=note, store=store)
    serve(
        spec,
        settings,
        host=host,
        port=port,
        workers=workers,
        follow_store=applied,
        log_level=log_level,
        source=source,
        presence=presence,
        ready=ready,
    )


__all__ = ["launch", "served_manifests"]


def resolve_spec(
    store: Store,
    project: str,
    *,
    models: list[str] | None = None,
    file: Path | None = None,
    deployment: str | None = None,
    packages: Path | None = None,
    name: str = "default",
    threads: int | None = None,
    sizing: dict[str, int | None] | None = None,
) -> DeploymentSpec:
    """The spec ``keel serve`` serves: built from model references (with ``threads`` and
    ``sizing``: concurrency, queue, timeout_ms), read from ``file``, or the stored
    ``deployment``. Exactly one of the three; ``packages`` only with references or a file."""
    if sum([bool(models), file is not None, deployment is not None]) != 1:
        raise InvalidArgumentError(
            "give exactly one of: model references (keel serve churn@champion), "
            "--file deploy.yaml, or --deployment NAME"
        )
    if packages is not None and deployment is not None:
        raise InvalidArgumentError(
            "--packages serves a frozen export and cannot follow a stored --deployment; "
            "give the exported deploy.yaml with -f"
        )
    if models:
        return spec_for_refs(list(models), name=name, threads=threads, **(sizing or {}))
    if file is not None:
        return load_spec(file)
    assert deployment is not None
    return get_spec(store, project, deployment)

"""Deployment specs: what ``keel deploy apply deploy.yaml`` reads and ``keel serve`` runs.

::

    name: churn
    endpoints:
      - name: churn
        versions:
          - {model: churn@champion, weight: 90}
          - {model: churn@challenger, weight: 10}
          - {model: churn/3, shadow: true}       # gets a copy of traffic, never answers
        route_key: customer_id                   # sticky split by this column (or header)
        transforms: {pre: [myproj.features:prepare], post: [myproj.features:to_label]}
        batching: {max_batch_size: 64, max_wait_ms: 2}
        resources: {concurrency: 64, queue: 256, timeout_ms: 2000, threads: 1,
                    workers: 1, cpu: 1, memory: 2Gi, gpu: 0}

A spec may also say ``trust: strict | warn | off``: the signature policy its models are
loaded under (unset: the server's, ``KEEL_MODEL_TRUST`` or ``--trust``). The server writes the
opt-out in effect (``warn``/``off``) into the ad hoc deployment it records, and the policy in
effect into every prediction log file it writes, so an opt-out is never silent.

Unknown keys are errors (a typo must not silently fall back to a default), weights are
normalised per endpoint, and a GPU request on a machine without one is refused here,
before anything is loaded.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from keel._units import parse_memory
from keel._yaml import load_yaml
from keel.exceptions import InvalidArgumentError, ResourceUnavailableError
from keel.models._uri import ModelRef, parse_model_ref

if TYPE_CHECKING:
    from keel.store.deployments import DeploymentTarget

_NAME = re.compile(r"^[a-z0-9]([a-z0-9\-]{0,61}[a-z0-9])?$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VersionSpec(_Strict):
    model: str
    weight: float | None = Field(default=None, ge=0)
    shadow: bool = False

    @field_validator("model")
    @classmethod
    def _ref(cls, v: str) -> str:
        parse_model_ref(v)
        return v

    @property
    def ref(self) -> ModelRef:
        return parse_model_ref(self.model)


class BatchingSpec(_Strict):
    max_batch_size: int = Field(default=64, ge=1, le=100_000)
    max_wait_ms: float = Field(default=2.0, ge=0, le=10_000)
    adaptive: bool = True


class ResourceSpec(_Strict):
    concurrency: int = Field(default=128, ge=1)
    queue: int = Field(default=1024, ge=0)
    timeout_ms: int = Field(default=10_000, ge=1)
    threads: int = Field(default=1, ge=1, le=256)
    workers: int = Field(default=1, ge=1, le=256)
    cpu: float | None = Field(default=None, gt=0)
    memory: str | int | None = None
    gpu: int = Field(default=0, ge=0)

    @field_validator("memory")
    @classmethod
    def _memory(cls, v: str | int | None) -> str | int | None:
        if v is not None:
            parse_memory(v)
        return v

    @property
    def memory_bytes(self) -> int | None:
        return None if self.memory is None else parse_memory(self.memory)


class TransformSpec(_Strict):
    pre: list[str] = Field(default_factory=list)
    post: list[str] = Field(default_factory=list)


class EndpointSpec(_Strict):
    name: str
    versions: list[VersionSpec] = Field(min_length=1)
    route_key: str | None = None
    transforms: TransformSpec = Field(default_factory=TransformSpec)
    batching: BatchingSpec = Field(default_factory=BatchingSpec)
    resources: ResourceSpec = Field(default_factory=ResourceSpec)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not re.match(r"^[A-Za-z0-9][\w.\-]{0,254}$", v):
            raise ValueError(f"endpoint name {v!r} must be letters, digits, '.', '_' or '-'")
        return v

    def weights(self) -> list[tuple[VersionSpec, float]]:
        """Non-shadow versions with weights summing to 1 (unweighted: the first takes all)."""
        live = [v for v in self.versions if not v.shadow]
        if not live:
            raise InvalidArgumentError(
                f"endpoint {self.name!r} has only shadow versions; give it one version that "
                "answers (shadow: false)"
            )
        if all(v.weight is None for v in live):
            ws = [100.0] + [0.0] * (len(live) - 1)
        else:
            ws = [v.weight or 0.0 for v in live]
        total = sum(ws)
        if total <= 0:
            raise InvalidArgumentError(
                f"endpoint {self.name!r}: the traffic weights add up to 0; give at least one "
                "version a positive weight"
            )
        return [(v, w / total) for v, w in zip(live, ws, strict=True)]


class ServerSpec(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    max_body_mb: float = Field(default=16.0, gt=0)


class LogSpec(_Strict):
    enabled: bool = True
    sample: float = Field(default=1.0, ge=0, le=1)
    flush_s: float = Field(default=2.0, gt=0)
    buffer_rows: int = Field(default=200_000, ge=100)


class DeploymentSpec(_Strict):
    name: str
    endpoints: list[EndpointSpec] = Field(min_length=1)
    server: ServerSpec = Field(default_factory=ServerSpec)
    log: LogSpec = Field(default_factory=LogSpec)
    poll_s: float = Field(default=5.0, gt=0)
    #: the signature policy its models load under; None: the server's (KEEL_MODEL_TRUST)
    trust: Literal["strict", "warn", "off"] | None = None

    def with_trust(self, default: str) -> DeploymentSpec:
        """This spec with an opt-out in effect written in: its own policy, else ``default``
        when that is ``warn`` or ``off`` (unset stays unset for ``strict``, the default, so
        the same spec served the same way stays the same deployment)."""
        if self.trust is not None or default == "strict":
            return self
        return self.model_copy(update={"trust": default})

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(
                f"deployment name {v!r} must be lower-case letters, digits and '-' (at most 63, "
                "as Kubernetes names are)"
            )
        return v

    @field_validator("endpoints")
    @classmethod
    def _unique(cls, v: list[EndpointSpec]) -> list[EndpointSpec]:
        names = [e.name for e in v]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"endpoint names must be unique; repeated: {dup}")
        for e in v:
            e.weights()
        return v

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_defaults=False)


def targets_of(spec: DeploymentSpec) -> list[DeploymentTarget]:
    """The traffic rows the store keeps beside a spec (lineage queries read them)."""
    from keel.store.deployments import DeploymentTarget

    out = []
    for ep in spec.endpoints:
        weights = {id(v): w for v, w in ep.weights()}
        for v in ep.versions:
            out.append(
                DeploymentTarget(
                    endpoint=ep.name,
                    model_ref=v.model,
                    model_name=v.ref.name,
                    weight=round(weights.get(id(v), 0.0) * 100, 6),
                    shadow=v.shadow,
                )
            )
    return out


def load_spec(source: str | os.PathLike[str] | Mapping[str, Any]) -> DeploymentSpec:
    """A validated spec from a YAML file, a YAML string or a mapping."""
    if isinstance(source, Mapping):
        data: Any = dict(source)
        where = "the deployment spec"
    else:
        path = Path(source)
        where = str(path)
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise InvalidArgumentError(f"deployment spec {where} does not exist") from None
        data = load_yaml(text, where)
    if not isinstance(data, Mapping):
        raise InvalidArgumentError(f"{where} must be a YAML mapping with name and endpoints")
    try:
        return DeploymentSpec.model_validate(data)
    except ValidationError as exc:
        raise InvalidArgumentError(
            f"{where} is not a valid deployment spec: {_explain(exc)}"
        ) from None


def _explain(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling)"
        lines.append(f"{loc}: {msg}")
    return "; ".join(lines)


def spec_for_refs(refs: list[str], *, name: str = "default", **resources: Any) -> DeploymentSpec:
    """The spec ``keel serve churn@champion fraud/7`` implies: one endpoint per model name,
    the first reference of each name taking all traffic, the others reachable by version."""
    by_model: dict[str, list[VersionSpec]] = {}
    for text in refs:
        ref = parse_model_ref(text)
        by_model.setdefault(ref.name, []).append(VersionSpec(model=text))
    try:
        res = ResourceSpec(**{k: v for k, v in resources.items() if v is not None})
    except ValidationError as exc:
        raise InvalidArgumentError(f"bad serving option: {_explain(exc)}") from None
    endpoints = [EndpointSpec(name=n, versions=vs, resources=res) for n, vs in by_model.items()]
    return DeploymentSpec(name=name, endpoints=endpoints)


def local_gpu_count() -> int:
    """NVIDIA GPUs visible to this process (0 without a driver or with none made visible)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return 0
    gpus = Path("/proc/driver/nvidia/gpus")
    found = len(list(gpus.iterdir())) if gpus.is_dir() else 0
    if visible is not None and found:
        return min(found, len([d for d in visible.split(",") if d.strip()]))
    return found


def check_resources(spec: DeploymentSpec, *, gpus: int | None = None) -> None:
    """Refuse a spec this machine cannot honour (GPUs, memory) with a reason per endpoint."""
    have = local_gpu_count() if gpus is None else gpus
    for ep in spec.endpoints:
        want = ep.resources.gpu
        if want > have:
            raise ResourceUnavailableError(
                f"endpoint {ep.name!r} of deployment {spec.name!r} asks for {want} GPU(s) but "
                f"this machine has {have} (no NVIDIA driver or CUDA_VISIBLE_DEVICES hides them); "
                "set resources.gpu: 0 to serve on CPU, or run it on a GPU node "
                "(`keel deploy export --format kubernetes` requests nvidia.com/gpu)"
            )
        mem = ep.resources.memory_bytes
        if mem is not None:
            import psutil

            total = psutil.virtual_memory().total
            if mem > total:
                raise ResourceUnavailableError(
                    f"endpoint {ep.name!r} asks for memory {ep.resources.memory} but this "
                    f"machine has {total / 2**30:.1f} GiB; lower resources.memory"
                )


__all__ = [
    "BatchingSpec",
    "DeploymentSpec",
    "EndpointSpec",
    "LogSpec",
    "ResourceSpec",
    "ServerSpec",
    "TransformSpec",
    "VersionSpec",
    "check_resources",
    "load_spec",
    "local_gpu_count",
    "parse_memory",
    "spec_for_refs",
    "targets_of",
]

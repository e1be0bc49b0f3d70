"""Export a deployment for other platforms (CF_3): Kubernetes, KServe, a Dockerfile.

Every format runs the same thing, ``keel serve`` on the deployment, with the resources the
spec declares (CPU, memory, GPU as ``nvidia.com/gpu``), the v2 health routes as probes and
Prometheus scrape annotations, so nothing ties a deployment to one cloud.

:func:`export_deployment` resolves the versions the spec serves and renders an image that
installs their packages' pinned requirements plus keel and carries the packages themselves
(``COPY models``), served with ``keel serve --packages --strict-env``: the image needs no
registry and refuses to start if its frameworks drift from the packages'. The store (for
the prediction log and the deployment's liveness) is reached through ``KEEL_DB_URI`` /
``KEEL_ARTIFACTS_URI`` from an optional Secret the cluster provides. Rendering a spec alone
(:func:`export`) gives the older form that serves a stored deployment by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from keel.exceptions import InvalidArgumentError
from keel.serving._spec import DeploymentSpec, EndpointSpec

if TYPE_CHECKING:
    from pathlib import Path

    from keel.store import Store

FORMATS = ("kubernetes", "kserve", "dockerfile")
DEFAULT_IMAGE = "keel-serving:latest"
SPEC_FILE = "deploy.yaml"
MODELS_DIR = "models"


@dataclass(frozen=True)
class ImageContents:
    """What an image installs and carries beside the spec."""

    keel: str  # the keel requirement, e.g. keel[redis]==0.1.0
    requirements: list[str] = field(default_factory=list)  # the packages' merged pins
    packages: list[str] = field(default_factory=list)  # name/version of each package inside


def export(
    spec: DeploymentSpec,
    fmt: str,
    *,
    image: str = DEFAULT_IMAGE,
    contents: ImageContents | None = None,
) -> str:
    """The manifest text of ``spec`` in ``fmt`` (one of :data:`FORMATS`); with ``contents``
    the image carries the packages and installs their pins."""
    if fmt == "kubernetes":
        return _yaml_docs(kubernetes(spec, image, contents))
    if fmt == "kserve":
        return _yaml_docs(kserve(spec, image, contents))
    if fmt == "dockerfile":
        return dockerfile(spec, contents)
    raise InvalidArgumentError(f"export format {fmt!r} is unknown; use one of {', '.join(FORMATS)}")


def _serve_args(spec: DeploymentSpec, contents: ImageContents | None) -> list[str]:
    port = str(spec.server.port or 8080)
    where = ["--host", "0.0.0.0", "--port", port]
    if contents is None:
        return ["serve", "--deployment", spec.name, *where]
    packages = f"/srv/{MODELS_DIR}"
    return ["serve", "-f", f"/srv/{SPEC_FILE}", "--packages", packages, "--strict-env", *where]


def _yaml_docs(docs: list[dict[str, Any]]) -> str:
    import yaml

    return yaml.safe_dump_all(docs, sort_keys=False)


def _resources(endpoints: list[EndpointSpec]) -> dict[str, Any]:
    """Kubernetes requests/limits: the sum of what the endpoints declare."""
    cpu = sum(ep.resources.cpu or 0 for ep in endpoints)
    memory = sum(ep.resources.memory_bytes or 0 for ep in endpoints)
    gpu = sum(ep.resources.gpu for ep in endpoints)
    requests: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    if cpu:
        requests["cpu"] = limits["cpu"] = f"{int(cpu * 1000)}m"
    if memory:
        requests["memory"] = limits["memory"] = f"{max(1, memory // 2**20)}Mi"
    if gpu:
        limits["nvidia.com/gpu"] = gpu
    out: dict[str, Any] = {}
    if requests:
        out["requests"] = requests
    if limits:
        out["limits"] = limits
    return out


def _container(
    spec: DeploymentSpec,
    image: str,
    endpoints: list[EndpointSpec],
    contents: ImageContents | None = None,
) -> dict[str, Any]:
    port = spec.server.port or 8080
    probe = {"httpGet": {"path": "/v2/health/ready", "port": port}, "periodSeconds": 5}
    secret: dict[str, Any] = {"name": "keel-store"}
    if contents is not None:  # the image carries its models; the store is optional
        secret["optional"] = True
    return {
        "name": "keel-serve",
        "image": image,
        "args": _serve_args(spec, contents),
        "ports": [{"containerPort": port, "name": "http"}],
        "envFrom": [{"secretRef": secret}],
        "resources": _resources(endpoints),
        "readinessProbe": probe,
        "livenessProbe": {
            "httpGet": {"path": "/v2/health/live", "port": port},
            "periodSeconds": 10,
        },
    }


def _labels(spec: DeploymentSpec) -> dict[str, str]:
    return {"app.kubernetes.io/name": spec.name, "app.kubernetes.io/managed-by": "keel"}


def kubernetes(
    spec: DeploymentSpec, image: str = DEFAULT_IMAGE, contents: ImageContents | None = None
) -> list[dict[str, Any]]:
    """A Deployment (replicas = the largest ``workers``) and a Service."""
    labels = _labels(spec)
    replicas = max(ep.resources.workers for ep in spec.endpoints)
    port = spec.server.port or 8080
    annotations = {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(port),
        "prometheus.io/path": "/metrics",
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": spec.name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels, "annotations": annotations},
                "spec": {
                    "terminationGracePeriodSeconds": 40,
                    "containers": [_container(spec, image, spec.endpoints, contents)],
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": spec.name, "labels": labels},
        "spec": {"selector": labels, "ports": [{"name": "http", "port": 80, "targetPort": port}]},
    }
    return [deployment, service]


def kserve(
    spec: DeploymentSpec, image: str = DEFAULT_IMAGE, contents: ImageContents | None = None
) -> list[dict[str, Any]]:
    """One KServe InferenceService per endpoint, speaking the v2 protocol."""
    docs = []
    for ep in spec.endpoints:
        container = _container(spec, image, [ep], contents)
        container["name"] = "kserve-container"
        docs.append(
            {
                "apiVersion": "serving.kserve.io/v1beta1",
                "kind": "InferenceService",
                "metadata": {
                    "name": f"{spec.name}-{ep.name}".lower().replace("_", "-")[:63],
                    "labels": _labels(spec),
                    "annotations": {"serving.kserve.io/deploymentMode": "RawDeployment"},
                },
                "spec": {
                    "predictor": {
                        "minReplicas": ep.resources.workers,
                        "containerConcurrency": ep.resources.concurrency,
                        "timeout": max(1, ep.resources.timeout_ms // 1000),
                        "containers": [container],
                    }
                },
            }
        )
    return docs


def dockerfile(spec: DeploymentSpec, contents: ImageContents | None = None) -> str:
    """A Dockerfile that serves the spec (copied in as ``deploy.yaml``); with ``contents`` it
    installs the packages' pinned requirements and copies the packages in (``models/``)."""
    port = spec.server.port or 8080
    gpu = any(ep.resources.gpu for ep in spec.endpoints)
    base = "nvidia/cuda:12.4.1-runtime-ubuntu22.04" if gpu else "python:3.11-slim"
    wanted = [contents.keel, *contents.requirements] if contents else ["keel[redis]"]
    lines = [
        f"# keel deployment {spec.name}: build next to {SPEC_FILE}, then",
        f"#   docker run -p {port}:{port} --env-file keel.env IMAGE",
        f"FROM {base}",
        "ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 KEEL_HOME=/srv/keel",
        "RUN pip install " + " ".join(f'"{r}"' for r in wanted),
        "WORKDIR /srv",
        f"COPY {SPEC_FILE} /srv/{SPEC_FILE}",
    ]
    if contents is not None:
        lines.append(f"# the packages: {', '.join(contents.packages)}")
        lines.append(f"COPY {MODELS_DIR} /srv/{MODELS_DIR}")
    args = _serve_args(spec, contents)
    if contents is None:  # the older form serves the spec file against the store
        args = ["serve", "-f", f"/srv/{SPEC_FILE}", *args[3:]]
    entry = ", ".join(f'"{a}"' for a in ["keel", *args])
    lines += [
        f"EXPOSE {port}",
        f'HEALTHCHECK CMD python -c "import urllib.request as u; '
        f"u.urlopen('http://127.0.0.1:{port}/v2/health/ready')\"",
        f"ENTRYPOINT [{entry}]",
    ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Exported:
    """What :func:`export_deployment` produced: the text, and the files when written."""

    text: str
    files: list[Path] = field(default_factory=list)


def default_keel_requirement() -> str:
    from importlib.metadata import version

    return f"keel[redis]=={version('keel')}"


def export_deployment(
    store: Store,
    project: str,
    spec: DeploymentSpec,
    fmt: str,
    *,
    image: str = DEFAULT_IMAGE,
    keel: str | None = None,
    output: Path | None = None,
) -> Exported:
    """Render ``spec`` as ``fmt`` for an image that carries the packages it serves; with
    ``output`` also write the build context there (Dockerfile, deploy.yaml, models/ and the
    manifests), ready for ``docker build``."""
    import yaml

    from keel.models import Registry
    from keel.serving._bundle import served_versions, write_bundle
    from keel.serving._envcheck import merged_requirements, runtime_requirements

    if fmt not in FORMATS:
        export(spec, fmt)  # raises the one-line error naming the formats
    versions = served_versions(store, project, spec)
    contents = ImageContents(
        keel=keel or default_keel_requirement(),
        requirements=merged_requirements(
            (sv.key, runtime_requirements(sv.manifest)) for sv in versions
        ),
        packages=[sv.key for sv in versions],
    )
    text = export(spec, fmt, image=image, contents=contents)
    if output is None:
        return Exported(text)
    if output.exists() and any(output.iterdir()):
        raise InvalidArgumentError(f"{output} exists and is not empty; choose a new folder")
    keys = Registry(store, project).keyring.trusted_dir
    write_bundle(versions, output / MODELS_DIR, trusted_keys=keys)
    files = [output / "Dockerfile", output / SPEC_FILE]
    files[0].write_text(dockerfile(spec, contents))
    files[1].write_text(yaml.safe_dump(spec.to_dict(), sort_keys=False))
    if fmt != "dockerfile":
        files.append(output / f"{fmt}.yaml")
        files[-1].write_text(text)
    return Exported(text, [*files, output / MODELS_DIR])


__all__ = [
    "FORMATS",
    "Exported",
    "ImageContents",
    "dockerfile",
    "export",
    "export_deployment",
    "kserve",
    "kubernetes",
]

"""Export a deployment for other platforms (CF_3): Kubernetes, KServe, a Dockerfile.

Every format runs the same thing, ``keel serve`` on the deployment, with the resources the
spec declares (CPU, memory, GPU as ``nvidia.com/gpu``), the v2 health routes as probes and
Prometheus scrape annotations, so nothing ties a deployment to one cloud. The store is
reached through ``KEEL_DB_URI`` / ``KEEL_ARTIFACTS_URI`` from a Secret the cluster provides.
"""

from __future__ import annotations

from typing import Any

from keel.exceptions import InvalidArgumentError
from keel.serving._spec import DeploymentSpec, EndpointSpec

FORMATS = ("kubernetes", "kserve", "dockerfile")
DEFAULT_IMAGE = "keel-serving:latest"


def export(spec: DeploymentSpec, fmt: str, *, image: str = DEFAULT_IMAGE) -> str:
    """The manifest text of ``spec`` in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "kubernetes":
        return _yaml_docs(kubernetes(spec, image))
    if fmt == "kserve":
        return _yaml_docs(kserve(spec, image))
    if fmt == "dockerfile":
        return dockerfile(spec)
    raise InvalidArgumentError(f"export format {fmt!r} is unknown; use one of {', '.join(FORMATS)}")


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


def _container(spec: DeploymentSpec, image: str, endpoints: list[EndpointSpec]) -> dict[str, Any]:
    port = spec.server.port or 8080
    probe = {"httpGet": {"path": "/v2/health/ready", "port": port}, "periodSeconds": 5}
    return {
        "name": "keel-serve",
        "image": image,
        "args": ["serve", "--deployment", spec.name, "--host", "0.0.0.0", "--port", str(port)],
        "ports": [{"containerPort": port, "name": "http"}],
        "envFrom": [{"secretRef": {"name": "keel-store"}}],
        "resources": _resources(endpoints),
        "readinessProbe": probe,
        "livenessProbe": {
            "httpGet": {"path": "/v2/health/live", "port": port},
            "periodSeconds": 10,
        },
    }


def _labels(spec: DeploymentSpec) -> dict[str, str]:
    return {"app.kubernetes.io/name": spec.name, "app.kubernetes.io/managed-by": "keel"}


def kubernetes(spec: DeploymentSpec, image: str = DEFAULT_IMAGE) -> list[dict[str, Any]]:
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
                    "containers": [_container(spec, image, spec.endpoints)],
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


def kserve(spec: DeploymentSpec, image: str = DEFAULT_IMAGE) -> list[dict[str, Any]]:
    """One KServe InferenceService per endpoint, speaking the v2 protocol."""
    docs = []
    for ep in spec.endpoints:
        container = _container(spec, image, [ep])
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


def dockerfile(spec: DeploymentSpec) -> str:
    """A Dockerfile that serves the spec (copied in as ``deploy.yaml``)."""
    port = spec.server.port or 8080
    gpu = any(ep.resources.gpu for ep in spec.endpoints)
    base = "nvidia/cuda:12.4.1-runtime-ubuntu22.04" if gpu else "python:3.11-slim"
    lines = [
        f"# keel deployment {spec.name}: build next to deploy.yaml, then",
        f"#   docker run -p {port}:{port} --env-file keel.env IMAGE",
        f"FROM {base}",
        "ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1",
        'RUN pip install "keel[redis]"',
        "WORKDIR /srv",
        "COPY deploy.yaml /srv/deploy.yaml",
        f"EXPOSE {port}",
        f'HEALTHCHECK CMD python -c "import urllib.request as u; '
        f"u.urlopen('http://127.0.0.1:{port}/v2/health/ready')\"",
        f'ENTRYPOINT ["keel", "serve", "-f", "/srv/deploy.yaml", "--host", "0.0.0.0", '
        f'"--port", "{port}"]',
    ]
    return "\n".join(lines) + "\n"


__all__ = ["FORMATS", "dockerfile", "export", "kserve", "kubernetes"]

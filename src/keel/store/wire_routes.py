"""Where each protocol method travels on ``/api/v1``: one declarative table.

``ROUTES[aggregate][method]`` gives, for a method of the aggregate's protocol
(:data:`keel.store.protocols.PROTOCOLS`), the HTTP verb and the path below ``/api/v1``.
Path fields name the method's parameters (``{run_id}``) or an attribute of one
(``{dataset.id}``); the other parameters go in the query string for GET and DELETE and in
the JSON body otherwise. The answer is the whole JSON, the value under one key, or a tuple
of the values under several keys; the method's return annotation decides its type.

:mod:`keel.store.remote` builds its HTTP repositories from this table (methods that do
more than one request stay hand-written there), and a test checks that every entry names
a route the server really has. It lives below both so that the server may read it too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Route:
    """One protocol method on the wire."""

    verb: str
    path: str
    #: The answer's key holding the result, or keys whose values make a tuple; None: all.
    answer: str | tuple[str, ...] | None = None
    #: Read each item of a list answer (JSON objects) as the tuple of these keys.
    row: tuple[str, ...] = ()
    #: Parameter -> its name on the wire, where they differ.
    names: Mapping[str, str] = field(default_factory=dict)
    #: A parameter sent as the whole JSON body (an entity such as ``NewAlert``).
    body: str | None = None
    #: Mappings whose values go as strings (the server's tag and param fields are strings).
    strs: tuple[str, ...] = ()
    #: Parameter (or ``param.attribute``) -> what it is: refused when it holds NaN or
    #: infinity, which strict JSON cannot carry inside a free-form attribute.
    finite: Mapping[str, str] = field(default_factory=dict)
    #: Values always sent beside the parameters (``info_only=True``).
    fixed: Mapping[str, object] = field(default_factory=dict)


def route(spec: str, answer: str | tuple[str, ...] | None = None, **options: object) -> Route:
    """``route("GET projects/{project_id}/deployments", "deployments")``."""
    verb, path = spec.split(" ", 1)
    return Route(verb, path, answer, **options)  # type: ignore[arg-type]


_DEPLOYMENTS = "projects/{project_id}/deployments"
_MONITORS = "projects/{project_id}/monitors"
_REFERENCES = "projects/{project_id}/references"
_ALERT = "projects/{project_id}/alerts/{alert_id}"
_NOTIFIERS = "projects/{project_id}/notifiers"
_MODELS = "projects/{project_id}/models"
_VERSION = "model-versions/{version_id}"
_RUN = "runs/{run_id}"

ROUTES: dict[str, dict[str, Route]] = {
    "projects": {
        "get_or_create": route("POST projects"),
        "get": route("GET projects/lookup"),
        "get_by_id": route("GET projects/{project_id}"),
        "list": route("GET projects", "projects"),
    },
    "experiments": {
        "create": route("POST experiments"),
        "get_or_create": route("POST experiments/get-or-create"),
        "get": route("GET experiments/{experiment_id}"),
        "get_by_name": route("GET experiments/lookup"),
        "list": route("GET experiments", "experiments"),
        "rename": route("PATCH experiments/{experiment_id}", names={"new_name": "name"}),
        "set_description": route("PATCH experiments/{experiment_id}"),
        "delete": route("DELETE experiments/{experiment_id}"),
        "restore": route("POST experiments/{experiment_id}/restore"),
        "set_tag": route("POST experiments/{experiment_id}/tags"),
        "delete_tag": route("DELETE experiments/{experiment_id}/tags"),
    },
    "runs": {
        "create": route("POST runs", strs=("tags",)),
        "get_info": route(f"GET {_RUN}", fixed={"info_only": True}),
        "get": route(f"GET {_RUN}"),
        "get_many": route("POST runs/get-many", "runs"),
        "update": route(f"PATCH {_RUN}"),
        "delete": route(f"DELETE {_RUN}"),
        "restore": route(f"POST {_RUN}/restore"),
        "children": route(f"GET {_RUN}/children", "runs"),
        "log_batch": route(f"POST {_RUN}/batch", strs=("params", "tags")),
        "delete_tag": route(f"DELETE {_RUN}/tags"),
        "metric_history": route(f"GET {_RUN}/metric-history", "metrics"),
        "metric_keys": route(f"GET {_RUN}/metric-keys", "keys"),
        "link_dataset": route(f"POST {_RUN}/datasets"),
        "dataset_links": route(f"GET {_RUN}/datasets", "links", row=("version_id", "direction")),
    },
    "artifacts": {
        "list": route(f"GET {_RUN}/artifacts", "artifacts"),
        "get": route(f"GET {_RUN}/artifact-info"),
        "delete": route(f"DELETE {_RUN}/artifacts", "deleted"),
    },
    "datasets": {
        "get_or_create": route("POST datasets"),
        "get": route("GET datasets/lookup"),
        "list_with_latest": route("GET datasets", "datasets", row=("dataset", "latest")),
        "get_version": route("GET datasets/version"),
        "get_version_by_id": route("GET dataset-versions/{version_id}"),
        "versions": route("GET datasets/versions", "versions"),
        "files": route("GET dataset-versions/{version_id}/files", "files"),
        "runs_of": route(
            "GET dataset-versions/{version_id}/runs", "runs", row=("run_id", "direction")
        ),
    },
}

__all__ = ["ROUTES", "Route", "route"]

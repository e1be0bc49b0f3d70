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

import functools
import string
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from keel.store.pipelines import manifest_blobs


@functools.cache
def path_fields(path: str) -> tuple[str, ...]:
    """The parameters a path template names, in order (``{dataset.id}`` names ``dataset``)."""
    return tuple(f.split(".")[0] for _, f, _, _ in string.Formatter().parse(path) if f)


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
    #: A parameter (an entity such as ``NewVersion``) whose fields go in the JSON body
    #: beside the other parameters, each encoded as a parameter of its name would be.
    spread: str | None = None
    #: Mappings whose values go as strings (the server's tag and param fields are strings).
    strs: tuple[str, ...] = ()
    #: Sequences sent as JSON lists (a lone string as a list of one, None as an empty list).
    lists: tuple[str, ...] = ()
    #: Sequences of (name, entity) pairs sent as JSON objects: the entity's fields with the
    #: name under this key (``[("m.pkl", BlobRef)]`` as ``[{"path": "m.pkl", "sha": ...}]``).
    pairs: Mapping[str, str] = field(default_factory=dict)
    #: Parameter (or ``param.attribute``) -> what it is: refused when it holds NaN or
    #: infinity, which strict JSON cannot carry inside a free-form attribute.
    finite: Mapping[str, str] = field(default_factory=dict)
    #: Values always sent beside the parameters (``info_only=True``).
    fixed: Mapping[str, object] = field(default_factory=dict)
    #: The hashes of the blobs a call records, from its arguments (by parameter name): the
    #: caller's upload receipt of each goes along as ``receipts: {sha: receipt}``, proof
    #: that it sent those bytes (see ``PUT /api/v1/blobs``).
    blobs: Callable[[Mapping[str, Any]], Iterable[str]] | None = None


def route(spec: str, answer: str | tuple[str, ...] | None = None, **options: object) -> Route:
    """``route("GET projects/{project_id}/deployments", "deployments")``."""
    verb, path = spec.split(" ", 1)
    return Route(verb, path, answer, **options)  # type: ignore[arg-type]


def _item_blobs(args: Mapping[str, Any]) -> list[str]:
    """The blobs of files recorded as (path, :class:`~keel.store.blobs.BlobRef`) items."""
    return [ref.sha for _, ref in args["items"]]


_FILES = {"pairs": {"items": "path"}, "blobs": _item_blobs}
_DEPLOYMENTS = "projects/{project_id}/deployments"
_MONITORS = "projects/{project_id}/monitors"
_REFERENCES = "projects/{project_id}/references"
_ALERT = "projects/{project_id}/alerts/{alert_id}"
_NOTIFIERS = "projects/{project_id}/notifiers"
_MODELS = "projects/{project_id}/models"
_VERSION = "model-versions/{version_id}"
_RUN = "runs/{run_id}"
_PIPELINE_RUN = "pipeline-runs/{run_id}"
_CACHE = "projects/{project_id}/step-cache"
_SCHEDULES = "projects/{project_id}/schedules"
_SCHEDULE = "schedules/{schedule_id}"
_LOGGED = "logged-models/{model_id}"
_LABELING = "projects/{project_id}/labeling"
_TASK = "projects/{project_id}/labeling/{name}/tasks/{task_id}"
_REPORTS = "projects/{project_id}/reports"
_SWEEPS = "projects/{project_id}/sweeps"
_TRIAL = "projects/{project_id}/trials/{trial_id}"
_TRIAL_ATTRS = {"patch.user_attrs": "trial attributes", "patch.system_attrs": "trial attributes"}

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
        "search": route(
            "POST runs/search",
            names={"filter_string": "filter"},
            lists=("experiment_ids", "order_by"),
        ),
        "delete_tag": route(f"DELETE {_RUN}/tags"),
        "metric_history": route(f"GET {_RUN}/metric-history", "metrics"),
        "metric_keys": route(f"GET {_RUN}/metric-keys", "keys"),
        "link_dataset": route(f"POST {_RUN}/datasets"),
        "dataset_links": route(f"GET {_RUN}/datasets", "links", row=("version_id", "direction")),
    },
    "artifacts": {
        "add": route(f"POST {_RUN}/artifacts", "artifacts", **_FILES),
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
        "add_version": route(
            "POST datasets/{dataset.id}/versions",
            ("version", "created"),
            blobs=lambda args: [f.blob_sha for f in args["files"]],
        ),
        "files": route("GET dataset-versions/{version_id}/files", "files"),
        "runs_of": route(
            "GET dataset-versions/{version_id}/runs", "runs", row=("run_id", "direction")
        ),
    },
    "registry": {
        "create_model": route(f"POST {_MODELS}", strs=("tags",)),
        "get_or_create_model": route(f"POST {_MODELS}/get-or-create"),
        "get_model": route(f"GET {_MODELS}/lookup"),
        "list_models": route(f"GET {_MODELS}", "models"),
        "update_model": route(f"PATCH {_MODELS}"),
        "set_model_tags": route(f"POST {_MODELS}/tags", strs=("tags",)),
        "delete_model_tag": route(f"DELETE {_MODELS}/tags"),
        "rename_model": route(f"POST {_MODELS}/rename"),
        "delete_model": route(f"DELETE {_MODELS}"),
        "create_version": route(
            f"POST {_MODELS}/versions",
            spread="new",
            strs=("tags",),
            blobs=lambda args: [args["new"].blob_sha],
        ),
        "get_version_by_id": route(f"GET {_VERSION}"),
        "get_version": route(f"GET {_MODELS}/version"),
        "get_by_alias": route(f"GET {_MODELS}/alias"),
        "latest_version": route(f"GET {_MODELS}/latest"),
        "versions": route(f"GET {_MODELS}/versions", "versions"),
        "update_version": route(f"PATCH {_VERSION}"),
        "set_version_tags": route(f"POST {_VERSION}/tags", strs=("tags",)),
        "delete_version_tag": route(f"DELETE {_VERSION}/tags"),
        "delete_version": route(f"DELETE {_VERSION}"),
        "set_alias": route(f"PUT {_MODELS}/alias"),
        "delete_alias": route(f"DELETE {_MODELS}/alias"),
        "search_versions": route(
            "POST projects/{project_id}/model-versions/search",
            "versions",
            names={"filter_string": "filter"},
        ),
    },
    "deployments": {
        "apply": route(
            f"POST {_DEPLOYMENTS}", ("deployment", "changed"), finite={"spec": "a deployment spec"}
        ),
        "register": route(
            f"POST {_DEPLOYMENTS}/register",
            ("deployment", "changed"),
            finite={"spec": "a deployment spec"},
        ),
        "heartbeat": route(f"POST {_DEPLOYMENTS}/heartbeat", "seen"),
        "stop": route(f"POST {_DEPLOYMENTS}/stop"),
        "get": route(f"GET {_DEPLOYMENTS}/lookup"),
        "find": route(f"GET {_DEPLOYMENTS}/find", "deployment"),
        "current_revision": route(f"GET {_DEPLOYMENTS}/current-revision", "revision"),
        "list": route(f"GET {_DEPLOYMENTS}", "deployments"),
        "revisions": route(f"GET {_DEPLOYMENTS}/revisions", "revisions"),
        "revision": route(f"GET {_DEPLOYMENTS}/revision"),
        "rollback": route(f"POST {_DEPLOYMENTS}/rollback"),
        "delete": route(f"DELETE {_DEPLOYMENTS}"),
        "all_targets": route(
            "GET projects/{project_id}/deployment-targets",
            "targets",
            row=("deployment", "revision", "target"),
        ),
    },
    "monitors": {
        "upsert": route(f"PUT {_MONITORS}", finite={"config": "a monitor config"}),
        "get": route(f"GET {_MONITORS}/lookup"),
        "find": route(f"GET {_MONITORS}/find", "monitor"),
        "get_by_id": route("GET monitors/{monitor_id}"),
        "list": route(f"GET {_MONITORS}", "monitors"),
        "delete": route(f"DELETE {_MONITORS}"),
        "mark_run": route("POST monitors/{monitor_id}/mark-run"),
        "get_reference": route(f"GET {_REFERENCES}/lookup"),
        "find_reference": route(f"GET {_REFERENCES}/find", "reference"),
        "list_references": route(f"GET {_REFERENCES}", "references"),
        "put_reference": route(f"PUT {_REFERENCES}", blobs=lambda args: [args["blob_sha"]]),
    },
    "alerts": {
        "record": route(
            "POST projects/{project_id}/alerts",
            ("alert", "event"),
            body="new",
            finite={"new.evidence": "alert evidence"},
        ),
        "acknowledge": route(f"POST {_ALERT}/acknowledge"),
        "resolve": route(f"POST {_ALERT}/resolve"),
        "resolve_absent": route("POST projects/{project_id}/alerts/resolve-absent", "alerts"),
        "get": route(f"GET {_ALERT}"),
        "list": route("GET projects/{project_id}/alerts", "alerts"),
        "latest_id": route("GET projects/{project_id}/alerts/latest-id", "id"),
        "add_notifier": route(f"POST {_NOTIFIERS}", finite={"config": "a notifier config"}),
        "get_notifier": route(f"GET {_NOTIFIERS}/lookup"),
        "get_notifier_by_id": route("GET notifiers/{notifier_id}"),
        "list_notifiers": route(f"GET {_NOTIFIERS}", "notifiers"),
        "remove_notifier": route(f"DELETE {_NOTIFIERS}"),
        "enqueue": route(
            "POST projects/{alert.project_id}/alerts/{alert.id}/enqueue", "deliveries"
        ),
        "deliveries": route("GET alerts/{alert_id}/deliveries", "deliveries"),
    },
    "pipeline_runs": {
        "start": route("POST projects/{project_id}/pipeline-runs"),
        "finish": route(f"POST {_PIPELINE_RUN}/finish"),
        "get": route(f"GET {_PIPELINE_RUN}"),
        "list": route("GET projects/{project_id}/pipeline-runs", "runs"),
        "steps": route(f"GET {_PIPELINE_RUN}/steps", "steps"),
        "record_steps": route(
            "POST pipeline-runs/{pipeline_run_id}/steps", lists=("steps", "new_runs")
        ),
    },
    "step_cache": {
        "get": route(f"GET {_CACHE}", "entry"),
        "put": route(f"PUT {_CACHE}", blobs=lambda args: manifest_blobs(args["manifest"])),
        "delete": route(f"POST {_CACHE}/delete", "deleted", lists=("keys",)),
        "clear": route(f"POST {_CACHE}/clear", "deleted"),
        "latest_for_step": route(f"GET {_CACHE}/latest", "entry"),
        "stats": route(f"GET {_CACHE}/stats", "steps"),
    },
    "schedules": {
        "add": route(f"POST {_SCHEDULES}"),
        "get": route(f"GET {_SCHEDULES}/lookup"),
        "get_by_id": route(f"GET {_SCHEDULE}"),
        "remove": route(f"DELETE {_SCHEDULES}"),
        "set_enabled": route(f"POST {_SCHEDULES}/enabled"),
        "claim": route(f"POST {_SCHEDULE}/claim", "fire"),
        "get_fire": route("GET schedule-fires/{fire_id}"),
        "update_fire": route("PATCH schedule-fires/{fire_id}"),
        "fires": route(f"GET {_SCHEDULE}/fires", "fires"),
        "last_due": route(f"GET {_SCHEDULE}/last-due", "due_at"),
        "has_occurrence": route(f"GET {_SCHEDULE}/occurrence", "exists"),
        "schedulers": route("GET schedulers", "schedulers"),
    },
    "users": {
        "create_user": route("POST users"),
        "get_user": route("GET users/{name}"),
        "list_users": route("GET users", "users"),
        "update_user": route("PATCH users/{name}"),
        "delete_user": route("DELETE users/{name}"),
        "revoke_token": route("DELETE users/tokens/{token_id}"),
    },
    "comments": {
        "add": route("POST projects/{project_id}/comments"),
        "get": route("GET projects/{project_id}/comments/{comment_id}"),
        "list": route("GET projects/{project_id}/comments", "comments"),
        "delete": route("DELETE projects/{project_id}/comments/{comment_id}"),
    },
    "logged_models": {
        "create": route("POST logged-models", strs=("params", "tags")),
        "get": route(f"GET {_LOGGED}"),
        "finalize": route(f"POST {_LOGGED}/finalize"),
        "set_tags": route(f"POST {_LOGGED}/tags", names={"tags": "items"}),
        "delete_tag": route(f"DELETE {_LOGGED}/tags"),
        "log_params": route(f"POST {_LOGGED}/params", names={"params": "items"}),
        "delete": route(f"DELETE {_LOGGED}"),
        "search": route("POST logged-models/search", ("models", "has_more")),
        "add_files": route(f"POST {_LOGGED}/files", "files", **_FILES),
        "list_files": route(f"GET {_LOGGED}/files", "files"),
        "delete_files": route(f"DELETE {_LOGGED}/files", "deleted"),
    },
    "labeling": {
        "create_project": route(f"POST {_LABELING}"),
        "get_project": route(f"GET {_LABELING}/{{name}}"),
        "list_projects": route(f"GET {_LABELING}", "projects"),
        "add_tasks": route(f"POST {_LABELING}/{{name}}/tasks", "ids"),
        "get_task": route(f"GET {_TASK}"),
        "list_tasks": route(f"GET {_LABELING}/{{name}}/tasks", "tasks"),
        "next_task": route(f"POST {_LABELING}/{{name}}/next", "task"),
        "submit": route(f"POST {_TASK}/annotations"),
        "skip": route(f"POST {_TASK}/skip"),
        "undo": route(f"POST {_TASK}/undo", "annotation"),
        "annotations": route(f"GET {_LABELING}/{{name}}/annotations", "annotations"),
        "has_answered": route(f"GET {_TASK}/answered", "answered"),
        "progress": route(f"GET {_LABELING}/{{name}}/progress"),
    },
    "search": {
        "search": route(
            "GET projects/{project_id}/search", "hits", names={"query": "q", "kinds": "kind"}
        ),
        "refresh": route("POST projects/{project_id}/search/refresh", "indexed"),
        "rebuild": route("POST projects/{project_id}/search/rebuild", "indexed"),
    },
    "reports": {
        "save": route(f"POST {_REPORTS}"),
        "revise": route(f"POST {_REPORTS}/{{report_id}}/versions"),
        "get": route(f"GET {_REPORTS}/{{report_id}}"),
        "versions": route(f"GET {_REPORTS}/{{report_id}}/versions", "versions"),
        "list": route(f"GET {_REPORTS}", "reports"),
    },
    "sweeps": {
        "create": route(f"POST {_SWEEPS}", finite={"spec": "a sweep spec"}),
        "get": route(f"GET {_SWEEPS}/lookup"),
        "find": route(f"GET {_SWEEPS}/find", "sweep"),
        "get_by_id": route(f"GET {_SWEEPS}/{{sweep_id}}"),
        "list": route(f"GET {_SWEEPS}", "sweeps"),
        "update": route(
            f"PATCH {_SWEEPS}/{{sweep_id}}",
            finite={"user_attrs": "sweep attributes", "system_attrs": "sweep attributes"},
        ),
        "mark_stale": route(f"POST {_SWEEPS}/{{sweep_id}}/stale"),
        "delete": route(f"DELETE {_SWEEPS}/{{sweep_id}}"),
        "add_trial": route(
            f"POST {_SWEEPS}/{{sweep_id}}/trials", body="patch", finite=_TRIAL_ATTRS
        ),
        "claim_trial": route(f"POST {_TRIAL}/claim", "claimed"),
        "update_trial": route(f"PATCH {_TRIAL}", body="patch", finite=_TRIAL_ATTRS),
        "get_trial": route(f"GET {_TRIAL}"),
        "trials": route(f"POST {_SWEEPS}/{{sweep_id}}/trials/search", "trials"),
        "outline": route(f"GET {_SWEEPS}/{{sweep_id}}/outline", "trials"),
        "pick": route(f"POST {_SWEEPS}/{{sweep_id}}/trials/pick", "trials"),
        "counts": route(f"GET {_SWEEPS}/counts", "counts"),
    },
}

__all__ = ["ROUTES", "Route", "route"]

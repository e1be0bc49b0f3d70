"""The wire format of ``/api/v1``: each entity's JSON shape, defined once by its dataclass.

A cached pydantic :class:`~pydantic.TypeAdapter` per type does both directions: the
server's routes declare the entity (or an :func:`envelope` of it) as their response model,
so FastAPI serializes it and the OpenAPI document describes it; the HTTP client
:func:`encode`\\ s request bodies and :func:`load`\\ s answers with the same adapters.

Floats JSON cannot hold (NaN, infinities) travel as the strings ``"NaN"``,
``"Infinity"`` and ``"-Infinity"`` (protobuf JSON style) and are read back as floats.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, TypeVar, cast, get_args, get_origin, get_type_hints

from pydantic import BaseModel, ConfigDict, TypeAdapter, create_model

from keel.store._area_values import Monitor, ReferenceInfo, ReportVersion, SearchHit, StoredReport
from keel.store._labeling_entities import (
    Annotation,
    LabelProgress,
    LabelProject,
    LabelTask,
    NewTask,
)
from keel.store._sweep_types import Sweep, Trial, TrialPatch
from keel.store.alerts import Alert, Delivery, NewAlert, Notifier
from keel.store.deployments import Deployment, DeploymentRevision, DeploymentTarget
from keel.store.entities import (
    ArtifactInfo,
    Dataset,
    DatasetFile,
    DatasetVersion,
    Experiment,
    Metric,
    Project,
    Run,
    RunInfo,
    RunPage,
)
from keel.store.pipelines import (
    CacheEntry,
    ChildRun,
    PipelineRunInfo,
    Schedule,
    ScheduleFire,
    SchedulerInfo,
    StepRunInfo,
)
from keel.store.registry import ModelVersion, NewVersion, RegisteredModel

T = TypeVar("T")

CONFIG = ConfigDict(ser_json_inf_nan="strings")

#: Every dataclass that crosses the wire; each carries :data:`CONFIG`, so FastAPI's own
#: adapters (built from the response models) write non-finite floats the same way.
ENTITIES: tuple[type, ...] = (
    Alert,
    ArtifactInfo,
    CacheEntry,
    ChildRun,
    Dataset,
    DatasetFile,
    DatasetVersion,
    Delivery,
    Deployment,
    DeploymentRevision,
    DeploymentTarget,
    Experiment,
    Metric,
    ModelVersion,
    Monitor,
    NewAlert,
    NewVersion,
    Notifier,
    PipelineRunInfo,
    Project,
    ReferenceInfo,
    RegisteredModel,
    Run,
    RunInfo,
    RunPage,
    Schedule,
    ScheduleFire,
    SchedulerInfo,
    StepRunInfo,
    SearchHit,
    StoredReport,
    ReportVersion,
    Sweep,
    Trial,
    TrialPatch,
    Annotation,
    LabelProgress,
    LabelProject,
    LabelTask,
    NewTask,
)
for _cls in ENTITIES:
    _cls.__pydantic_config__ = CONFIG  # type: ignore[attr-defined]


@functools.cache
def _entity_names() -> dict[str, Any]:
    names: dict[str, Any] = {}
    for module in {sys.modules[cls.__module__] for cls in ENTITIES}:
        names.update(vars(module))
    return names


def protocol_hints(fn: Callable[..., Any], *names: str) -> dict[str, Any]:
    """The resolved annotations of protocol method ``fn`` (only ``names`` when given). The
    protocols import entity types for type checkers only, so their names resolve in the
    entities' own modules (the protocol's module wins where both define one)."""
    annotations = fn.__annotations__
    holder = SimpleNamespace(__annotations__={n: annotations[n] for n in names or annotations})
    namespace = _entity_names() | vars(sys.modules[fn.__module__])
    return get_type_hints(holder, globalns=namespace)


@functools.cache
def adapter(tp: Any) -> TypeAdapter[Any]:
    """The one adapter of ``tp`` (an entity, ``list[Entity]``, ``Entity | None``...)."""
    return TypeAdapter(tp)


_ANY: TypeAdapter[Any] = TypeAdapter(Any, config=CONFIG)


def load(tp: type[T], data: Any) -> T:
    """``data`` (decoded JSON) as ``tp``; the inverse of what the server sends."""
    found: Any = tp
    return cast(T, adapter(found).validate_python(data))


def encode(body: Any) -> bytes:
    """A request body (mappings, lists, entities, scalars) as JSON bytes; values JSON has
    no form for (a date in a model card, a numpy scalar) go as their ``str``."""
    return _ANY.dump_json(body, fallback=str)


def jsonable(body: Any) -> Any:
    """``body`` as plain JSON values, the way :func:`encode` sends it."""
    return json.loads(encode(body))


def _type_name(tp: Any) -> str:
    args = [a for a in get_args(tp) if a is not type(None)]
    if not args:
        name = str(getattr(tp, "__name__", "Value"))
        return name[:1].upper() + name[1:]
    inner = "".join(_type_name(a) for a in args)
    if get_origin(tp) is list:
        return f"{inner}List"
    return f"Optional{inner}" if type(None) in get_args(tp) else inner


@functools.cache
def envelope(key: str, tp: Any) -> type[BaseModel]:
    """The response model ``{key: tp}`` (a list or an optional entity under one name)."""
    name = f"{key.title().replace('_', '')}Of{_type_name(tp)}"
    fields: dict[str, Any] = {key: (tp, ...)}
    return create_model(name, __config__=CONFIG, **fields)


class Empty(BaseModel):
    """The answer of a command that returns nothing: ``{}``."""


__all__ = ["CONFIG", "ENTITIES", "Empty", "adapter", "encode", "envelope", "jsonable", "load"]


# -- users, comments, logged models (appended) ---------------------------------------------
def _register(*classes: type) -> None:
    """Give more entities the wire :data:`CONFIG` (appended areas call this)."""
    global ENTITIES
    for cls in classes:
        cls.__pydantic_config__ = CONFIG  # type: ignore[attr-defined]
    ENTITIES = (*ENTITIES, *classes)


def _register_accounts() -> None:
    from keel.store._area_values import ApiToken, Comment, LoggedModel, Membership, User

    _register(ApiToken, Comment, LoggedModel, Membership, User)


_register_accounts()

"""Label Studio JSON, both ways: its task export format and its labeling config XML.

An exported task is ``{"id", "data", "meta", "annotations": [{"id", "completed_by",
"result": [...], "created_at", "lead_time", "was_cancelled", ...}]}``; each result item is
``{"from_name", "to_name", "type", "value"}`` with ``type`` one of ``choices`` (single and
multi-label), ``labels`` (text spans), ``rectanglelabels`` (boxes, in percent of the image,
with ``original_width``/``original_height``) and ``textarea``. Label Studio names
annotators by a numeric user id; keel writes its annotator name beside it
(``completed_by_name``) so a round trip keeps it, and reads ``ls-user-<id>`` otherwise.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, BinaryIO
from xml.sax.saxutils import quoteattr

import orjson

from keel.exceptions import InvalidArgumentError
from keel.labeling._config import LabelConfig
from keel.store.labeling import Annotation, LabelTask

FROM_NAME = "label"
#: Tasks built and encoded at once by :func:`write_tasks`: few enough that their objects
#: are gone before the garbage collector's older generations ever scan them.
CHUNK = 256


def config_xml(config: LabelConfig) -> str:
    """The Label Studio labeling config for ``config``."""
    field = config.field
    if config.kind == "boxes":
        obj = f'<Image name="image" value="${field}"/>'
        target = "image"
    else:
        obj = f'<Text name="text" value="${field}"/>'
        target = "text"
    opts = "".join(f"<Choice value={quoteattr(x)}/>" for x in config.labels)
    marks = "".join(f"<Label value={quoteattr(x)}/>" for x in config.labels)
    control = {
        "classification": f'<Choices name="{FROM_NAME}" toName="{target}" choice="single">'
        f"{opts}</Choices>",
        "multilabel": f'<Choices name="{FROM_NAME}" toName="{target}" choice="multiple">'
        f"{opts}</Choices>",
        "spans": f'<Labels name="{FROM_NAME}" toName="{target}">{marks}</Labels>',
        "boxes": f'<RectangleLabels name="{FROM_NAME}" toName="{target}">{marks}</RectangleLabels>',
        "text": f'<TextArea name="{FROM_NAME}" toName="{target}"/>',
    }[config.kind]
    return f"<View>{obj}{control}</View>"


@functools.lru_cache(maxsize=4096)
def _second(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def _iso(ms: int) -> str:
    """Label Studio's timestamp form (UTC, microseconds, ``Z``)."""
    return f"{_second(ms // 1000)}.{ms % 1000:03d}000Z"


def _size(config: LabelConfig, data: Mapping[str, Any]) -> tuple[float, float]:
    return float(data[config.width_field]), float(data[config.height_field])


def to_ls_result(config: LabelConfig, data: Mapping[str, Any], result: Any) -> list[dict[str, Any]]:
    """A keel answer as Label Studio result items."""
    to = "image" if config.kind == "boxes" else "text"
    base = {"from_name": FROM_NAME, "to_name": to, "origin": "manual"}
    if config.kind == "classification":
        return [{**base, "id": "r0", "type": "choices", "value": {"choices": [result["label"]]}}]
    if config.kind == "multilabel":
        return [{**base, "id": "r0", "type": "choices", "value": {"choices": result["labels"]}}]
    if config.kind == "text":
        return [{**base, "id": "r0", "type": "textarea", "value": {"text": [result["text"]]}}]
    if config.kind == "spans":
        text = str(data.get(config.field, ""))
        return [
            {
                **base,
                "id": f"r{i}",
                "type": "labels",
                "value": {
                    "start": s["start"],
                    "end": s["end"],
                    "text": text[s["start"] : s["end"]],
                    "labels": [s["label"]],
                },
            }
            for i, s in enumerate(result["spans"])
        ]
    width, height = _size(config, data)
    return [
        {
            **base,
            "id": f"r{i}",
            "type": "rectanglelabels",
            "original_width": width,
            "original_height": height,
            "image_rotation": 0,
            "value": {
                "x": b["x"] / width * 100,
                "y": b["y"] / height * 100,
                "width": b["width"] / width * 100,
                "height": b["height"] / height * 100,
                "rotation": 0,
                "rectanglelabels": [b["label"]],
            },
        }
        for i, b in enumerate(result["boxes"])
    ]


def _pixels(value: float) -> float:
    return round(value, 6)


def from_ls_result(
    config: LabelConfig, data: Mapping[str, Any], items: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Label Studio result items as one keel answer (checked afterwards by the caller)."""
    kinds = {"classification": "choices", "multilabel": "choices", "spans": "labels"}
    wanted = kinds.get(
        config.kind, {"boxes": "rectanglelabels", "text": "textarea"}.get(config.kind)
    )
    mine = [i for i in items if i.get("type") == wanted]
    if config.kind in ("classification", "multilabel"):
        choices = [c for i in mine for c in i.get("value", {}).get("choices", [])]
        if config.kind == "multilabel":
            return {"labels": choices}
        if len(choices) != 1:
            raise InvalidArgumentError(f"a classification answer needs one choice, got {choices}")
        return {"label": choices[0]}
    if config.kind == "text":
        texts = [t for i in mine for t in i.get("value", {}).get("text", [])]
        return {"text": "\n".join(texts)}
    if config.kind == "spans":
        spans = []
        for i in mine:
            v = i.get("value", {})
            for label in v.get("labels", []):
                spans.append({"start": v.get("start"), "end": v.get("end"), "label": label})
        return {"spans": spans}
    boxes = []
    for i in mine:
        v = i.get("value", {})
        width = float(i.get("original_width") or data[config.width_field])
        height = float(i.get("original_height") or data[config.height_field])
        for label in v.get("rectanglelabels", []):
            boxes.append(
                {
                    "x": _pixels(v["x"] * width / 100),
                    "y": _pixels(v["y"] * height / 100),
                    "width": _pixels(v["width"] * width / 100),
                    "height": _pixels(v["height"] * height / 100),
                    "label": label,
                }
            )
    return {"boxes": boxes}


def _answer_key(kind: str, result: Mapping[str, Any]) -> Any:
    """What the result items of a ``kind`` answer depend on (hashable), or ``None`` when
    they depend on the task's data too (spans quote the text, boxes are scaled by size)."""
    if kind == "classification":
        return result["label"]
    if kind == "multilabel":
        return tuple(result["labels"])
    if kind == "text":
        return result["text"]
    return None


def _result_items(
    config: LabelConfig,
    shared: dict[Any, list[dict[str, Any]]] | None,
    data: Mapping[str, Any],
    result: Any,
) -> list[dict[str, Any]]:
    key = None if shared is None else _answer_key(config.kind, result)
    if key is None:
        return to_ls_result(config, data, result)
    assert shared is not None
    items = shared.get(key)
    if items is None:
        items = shared[key] = to_ls_result(config, data, result)
    return items


def export_tasks(
    config: LabelConfig,
    tasks: Sequence[LabelTask],
    answers: Mapping[int, Sequence[Annotation]],
    *,
    users: dict[str, int] | None = None,
    shared: dict[Any, list[dict[str, Any]]] | None = None,
) -> list[dict[str, Any]]:
    """Tasks and their annotations in Label Studio's JSON export format. Annotators get
    user ids in order of appearance; pass the same ``users`` to number them across pages.
    With ``shared``, equal answers share one list of result items (for output that is
    encoded at once, never handed to a caller who might change one of them)."""
    user_ids: dict[str, int] = {} if users is None else users
    result = functools.partial(_result_items, config, shared)
    out = []
    for task in tasks:
        anns = []
        for ann in answers.get(task.id, ()):
            uid = user_ids.setdefault(ann.annotator, len(user_ids) + 1)
            anns.append(
                {
                    "id": ann.id,
                    "completed_by": uid,
                    "completed_by_name": ann.annotator,
                    "result": result(task.data, ann.result),
                    "was_cancelled": False,
                    "ground_truth": False,
                    "created_at": _iso(ann.created_at),
                    "updated_at": _iso(ann.created_at),
                    "lead_time": (ann.lead_ms or 0) / 1000,
                    "task": task.id,
                }
            )
        out.append(
            {
                "id": task.id,
                "data": task.data,
                "meta": {"source_ref": task.source_ref, "request_id": task.request_id},
                "annotations": anns,
                "predictions": [],
                "created_at": _iso(task.created_at),
            }
        )
    return out


def _encode(items: list[dict[str, Any]]) -> bytes:
    """A JSON list as UTF-8: orjson, or the standard library (ASCII escapes) for what orjson
    refuses (integers beyond 64 bits, lone surrogates)."""
    try:
        return orjson.dumps(items)
    except TypeError:
        return json.dumps(items, allow_nan=False).encode("ascii")


def write_tasks(
    config: LabelConfig,
    pages: Iterable[Sequence[LabelTask]],
    answers: Mapping[int, Sequence[Annotation]],
    out: BinaryIO,
) -> int:
    """:func:`export_tasks` over ``pages`` of tasks, written to ``out`` as one JSON list
    (UTF-8) :data:`CHUNK` tasks at a time, so only a chunk's output objects are ever alive;
    returns how many tasks were written."""
    users: dict[str, int] = {}
    shared: dict[Any, list[dict[str, Any]]] = {}
    count = 0
    out.write(b"[")
    for page in pages:
        for start in range(0, len(page), CHUNK):
            chunk = page[start : start + CHUNK]
            if count:
                out.write(b",")
            items = export_tasks(config, chunk, answers, users=users, shared=shared)
            out.write(_encode(items)[1:-1])
            count += len(chunk)
    out.write(b"]")
    return count


def annotator_of(ann: Mapping[str, Any]) -> str:
    """Who made a Label Studio annotation: keel's name, an email, or ``ls-user-<id>``."""
    if ann.get("completed_by_name"):
        return str(ann["completed_by_name"])
    who = ann.get("completed_by")
    if isinstance(who, Mapping):
        return str(who.get("email") or f"ls-user-{who.get('id')}")
    return f"ls-user-{who}"


__all__ = [
    "annotator_of",
    "config_xml",
    "export_tasks",
    "from_ls_result",
    "to_ls_result",
    "write_tasks",
]

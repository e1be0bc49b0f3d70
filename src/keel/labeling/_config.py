"""Label configs (what annotators answer) and the check of every answer against its config.

A config is plain JSON, stored with the labeling project::

    {"kind": "classification", "labels": ["cat", "dog"], "field": "text"}

Kinds and the result each one takes:

- ``classification``: ``{"label": "cat"}``
- ``multilabel``: ``{"labels": ["cat", "dog"]}`` (possibly empty)
- ``spans`` (NER): ``{"spans": [{"start": 0, "end": 5, "label": "PER"}]}``, character
  offsets into the task's ``field`` text, ``end`` exclusive
- ``boxes``: ``{"boxes": [{"x": 10, "y": 20, "width": 30, "height": 40, "label": "car"}]}``
  in pixels of the image whose size is the task's ``width`` and ``height``
- ``text``: ``{"text": "free answer"}``
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from keel.exceptions import InvalidArgumentError

KINDS = ("classification", "multilabel", "spans", "boxes", "text")
_DEFAULT_FIELD = {"boxes": "image"}
MAX_TEXT = 65_535


@dataclass(frozen=True, slots=True)
class LabelConfig:
    """A checked label config."""

    kind: str
    labels: tuple[str, ...]
    field: str
    width_field: str = "width"
    height_field: str = "height"

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "labels": list(self.labels), "field": self.field}
        if self.kind == "boxes":
            out |= {"width_field": self.width_field, "height_field": self.height_field}
        return out

    @property
    def categorical(self) -> bool:
        """Whether answers are labels from a fixed set (agreement and aggregation apply)."""
        return self.kind in ("classification", "multilabel")


def parse_config(raw: Mapping[str, Any]) -> LabelConfig:
    """Check a config; the error says which part is wrong."""
    if not isinstance(raw, Mapping):
        raise InvalidArgumentError("a label config must be a JSON object")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise InvalidArgumentError(f"label config kind {kind!r} is not one of {', '.join(KINDS)}")
    labels = raw.get("labels", [])
    if not isinstance(labels, list) or not all(isinstance(x, str) and x for x in labels):
        raise InvalidArgumentError("label config 'labels' must be a list of non-empty strings")
    if len(set(labels)) != len(labels):
        dupes = sorted({x for x in labels if labels.count(x) > 1})
        raise InvalidArgumentError(f"label config repeats labels: {dupes}")
    if kind != "text" and not labels:
        raise InvalidArgumentError(f"a {kind} config needs at least one label in 'labels'")
    field = raw.get("field", _DEFAULT_FIELD.get(kind, "text"))
    if not isinstance(field, str) or not field:
        raise InvalidArgumentError("label config 'field' must name a task data field")
    return LabelConfig(
        kind=kind,
        labels=tuple(labels),
        field=field,
        width_field=str(raw.get("width_field", "width")),
        height_field=str(raw.get("height_field", "height")),
    )


def _known(config: LabelConfig, label: Any, where: str) -> str:
    if not isinstance(label, str) or label not in config.labels:
        raise InvalidArgumentError(
            f"{where}: unknown label {label!r}; this project's labels are "
            f"{', '.join(config.labels)}"
        )
    return label


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidArgumentError(f"{what} must be a finite number, got {value!r}")
    return float(value)


def _spans(config: LabelConfig, data: Mapping[str, Any], spans: Any) -> list[dict[str, Any]]:
    text = data.get(config.field)
    if not isinstance(text, str):
        raise InvalidArgumentError(f"the task has no text in field {config.field!r} to label")
    if not isinstance(spans, list):
        raise InvalidArgumentError("'spans' must be a list of {start, end, label}")
    out = []
    for i, span in enumerate(spans):
        if not isinstance(span, Mapping):
            raise InvalidArgumentError(f"span {i} must be an object with start, end and label")
        start, end = span.get("start"), span.get("end")
        if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool):
            raise InvalidArgumentError(f"span {i}: start and end must be integers")
        if not 0 <= start < end <= len(text):
            raise InvalidArgumentError(
                f"span {i} [{start}, {end}) is outside the text (0-{len(text)} characters)"
            )
        label = _known(config, span.get("label"), f"span {i}")
        out.append({"start": start, "end": end, "label": label})
    return sorted(out, key=lambda s: (s["start"], s["end"], s["label"]))


def _boxes(config: LabelConfig, data: Mapping[str, Any], boxes: Any) -> list[dict[str, Any]]:
    width = _number(data.get(config.width_field), f"the task's image {config.width_field!r}")
    height = _number(data.get(config.height_field), f"the task's image {config.height_field!r}")
    if not isinstance(boxes, list):
        raise InvalidArgumentError("'boxes' must be a list of {x, y, width, height, label}")
    out = []
    for i, box in enumerate(boxes):
        if not isinstance(box, Mapping):
            raise InvalidArgumentError(f"box {i} must be an object with x, y, width, height, label")
        x, y = _number(box.get("x"), f"box {i} x"), _number(box.get("y"), f"box {i} y")
        w = _number(box.get("width"), f"box {i} width")
        h = _number(box.get("height"), f"box {i} height")
        if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > width or y + h > height:
            raise InvalidArgumentError(
                f"box {i} (x={x:g}, y={y:g}, {w:g}x{h:g}) is outside the {width:g}x{height:g} image"
            )
        label = _known(config, box.get("label"), f"box {i}")
        out.append({"x": x, "y": y, "width": w, "height": h, "label": label})
    return out


def check_result(config: LabelConfig, data: Mapping[str, Any], result: Any) -> dict[str, Any]:
    """``result`` checked against ``config`` and the task's ``data``, in canonical form."""
    if not isinstance(result, Mapping):
        raise InvalidArgumentError(f"an annotation result must be a JSON object, got {result!r}")
    key = {
        "classification": "label",
        "multilabel": "labels",
        "spans": "spans",
        "boxes": "boxes",
        "text": "text",
    }[config.kind]
    if key not in result:
        raise InvalidArgumentError(f"a {config.kind} answer needs {key!r}, got {sorted(result)}")
    value = result[key]
    if config.kind == "classification":
        return {"label": _known(config, value, "answer")}
    if config.kind == "multilabel":
        if not isinstance(value, list):
            raise InvalidArgumentError("'labels' must be a list of labels")
        return {"labels": sorted({_known(config, v, "answer") for v in value})}
    if config.kind == "spans":
        return {"spans": _spans(config, data, value)}
    if config.kind == "boxes":
        return {"boxes": _boxes(config, data, value)}
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise InvalidArgumentError(f"'text' must be a string of at most {MAX_TEXT} characters")
    return {"text": value}


def answer_key(config: LabelConfig, result: Mapping[str, Any]) -> str:
    """One comparable value per answer, for agreement and majority vote: the label, the
    sorted label set, or the exact set of spans/boxes/text."""
    import json

    if config.kind == "classification":
        return str(result["label"])
    if config.kind == "multilabel":
        return "|".join(result["labels"])
    return json.dumps(result, sort_keys=True)


__all__ = ["KINDS", "LabelConfig", "answer_key", "check_result", "parse_config"]

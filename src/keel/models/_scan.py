"""Scan pickle-family files before anything loads them; never execute a byte of them.

The scanner walks the opcodes with :func:`pickletools.genops` and simulates the pickle
stack just enough to know every global a load would import: ``GLOBAL``/``INST`` carry the
name in their argument, ``STACK_GLOBAL`` takes two strings from the stack (which must be
literal strings, possibly through the memo; anything else is reported as unsafe).
Every global must be on the allowlist (:mod:`keel.models._allowlist`); a parse error,
an extension-registry code or a global built at run time counts as unsafe.

Files are recognised by content, not by name: a pickle saved as ``weights.txt`` is still
a pickle. Handled: pickle protocols 0-5 (and several pickles in a row), joblib files
(compressed or not, with numpy arrays written between the opcodes), zip archives
(PyTorch ``.pt``/``.bin``, ``.npz``, skops) member by member, and ``.npy`` arrays of
dtype object (which hold a pickle after the header).
"""

from __future__ import annotations

import ast
import bz2
import gzip
import io
import lzma
import pickletools
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from keel.exceptions import UnsafeModelError
from keel.models._allowlist import global_verdict

_JOBLIB_WRAPPER = ("joblib.numpy_pickle", "NumpyArrayWrapper")
_MAX_DECOMPRESSED = 2 << 30  # larger is refused as unscannable (decompression bombs)
_MAX_ZIP_MEMBERS = 100_000
_STRING_OPS = frozenset(
    {
        "STRING",
        "BINSTRING",
        "SHORT_BINSTRING",
        "UNICODE",
        "BINUNICODE",
        "SHORT_BINUNICODE",
        "BINUNICODE8",
    }
)
_CONST_OPS = frozenset(
    {
        "INT",
        "BININT",
        "BININT1",
        "BININT2",
        "LONG",
        "LONG1",
        "LONG4",
        "FLOAT",
        "BINFLOAT",
        "BINBYTES",
        "SHORT_BINBYTES",
        "BINBYTES8",
    }
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One reason a file is unsafe: a forbidden global, or why it could not be scanned."""

    file: str
    issue: str


@dataclass(frozen=True, slots=True)
class ScanResult:
    """What a scan saw: the format, every global it imports, and what is wrong with it."""

    file: str
    kind: str  # "pickle", "joblib", "zip", "npy", "other"
    globals: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()

    @property
    def is_pickle_family(self) -> bool:
        return self.kind != "other" and (self.kind != "zip" or bool(self.globals))

    @property
    def safe(self) -> bool:
        return not self.findings

    def raise_if_unsafe(self) -> None:
        if self.findings:
            issues = "; ".join(f.issue for f in self.findings[:5])
            raise UnsafeModelError(
                f"{self.file} is not safe to load: {issues}. keel refused to load it; "
                "re-save the model in a safe format (skops, ONNX, native XGBoost/LightGBM) "
                "or, if you trust the author, pass the extra globals as trusted_globals"
            )


class _Mark:
    pass


class _Unknown:
    pass


_MARK = _Mark()
_UNKNOWN = _Unknown()


@dataclass(slots=True)
class _Global:
    module: str
    name: str


@dataclass(slots=True)
class _Obj:
    """An object a load would build: ``callable(*args)`` then ``BUILD(state)``."""

    factory: Any
    args: Any
    state: Any = None


@dataclass
class _Scan:
    """Simulated pickle machine state for one stream."""

    label: str
    trusted: frozenset[str]
    globals: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    stack: list[Any] = field(default_factory=list)
    memo: dict[int, Any] = field(default_factory=dict)

    def add_global(self, module: str, name: str) -> _Global:
        if not (_IDENT.match(module) and _IDENT.match(name)):
            # A loader fails to import such a name before running anything.
            raise ValueError(f"{module!r} {name!r} is not an importable name")
        dotted = f"{module}.{name}"
        self.globals.append(dotted)
        verdict = global_verdict(module, name, self.trusted)
        if verdict is not None:
            self.findings.append(Finding(self.label, f"imports {dotted} ({verdict})"))
        return _Global(module, name)

    def fail(self, issue: str) -> None:
        self.findings.append(Finding(self.label, issue))

    def pop(self) -> Any:
        if not self.stack:
            raise ValueError("stack underflow")
        return self.stack.pop()

    def pop_mark(self) -> list[Any]:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i] is _MARK:
                items = self.stack[i + 1 :]
                del self.stack[i:]
                return items
        raise ValueError("no MARK on the stack")


def scan_file(
    path: str | Path, *, label: str | None = None, trusted_globals: frozenset[str] = frozenset()
) -> ScanResult:
    """Scan one file on disk (format sniffed from its first bytes)."""
    path = Path(path)
    label = label or path.name
    try:
        with open(path, "rb") as f:
            return _scan_stream(f, label, trusted_globals)
    except OSError as exc:
        return ScanResult(label, "other", (), (Finding(label, f"cannot be read: {exc}"),))


def scan_bytes(
    data: bytes, *, label: str = "<bytes>", trusted_globals: frozenset[str] = frozenset()
) -> ScanResult:
    return _scan_stream(io.BytesIO(data), label, trusted_globals)


def _scan_stream(f: IO[bytes], label: str, trusted: frozenset[str]) -> ScanResult:
    head = f.read(16)
    f.seek(0)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _scan_zip(f, label, trusted)
    if head.startswith(b"\x93NUMPY"):
        return _scan_npy(f, label, trusted)
    opener = _decompressor(head)
    if opener is not None:
        try:
            with opener(f) as inner:
                data = inner.read(_MAX_DECOMPRESSED + 1)
        except (OSError, EOFError, lzma.LZMAError, zlib.error, ValueError):
            return ScanResult(label, "other")  # not a compressed stream after all
        if len(data) > _MAX_DECOMPRESSED:
            return ScanResult(label, "joblib", (), (Finding(label, "decompresses too large"),))
        inner = _scan_stream(io.BytesIO(data), label, trusted)
        if inner.kind in ("pickle", "joblib"):
            return ScanResult(label, "joblib", inner.globals, inner.findings)
        if inner.findings or inner.is_pickle_family:  # a compressed zip or .npy of objects
            return ScanResult(label, inner.kind, inner.globals, inner.findings)
        return ScanResult(label, "other")
    return _scan_pickles(f, label, trusted)


def _decompressor(head: bytes) -> Any:
    if head.startswith(b"\x1f\x8b"):
        return lambda f: gzip.GzipFile(fileobj=f)
    if head.startswith(b"BZh"):
        return lambda f: bz2.BZ2File(f)
    if head.startswith(b"\xfd7zXZ\x00") or head.startswith(b"\x5d\x00\x00"):
        return lambda f: lzma.LZMAFile(f)
    if head[:1] == b"x" and len(head) > 1 and (head[0] * 256 + head[1]) % 31 == 0:
        return lambda f: _ZlibReader(f)
    return None


class _ZlibReader(io.RawIOBase):
    """A zlib stream (joblib's ``compress=('zlib', n)``) read as a file."""

    def __init__(self, f: IO[bytes]) -> None:
        self._data = zlib.decompress(f.read(), bufsize=1 << 20)
        self._pos = 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size < 0 else self._pos + size
        out = self._data[self._pos : end]
        self._pos += len(out)
        return out

    def __enter__(self) -> _ZlibReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self._data = b""


def _scan_pickles(f: IO[bytes], label: str, trusted: frozenset[str]) -> ScanResult:
    """One or more pickles in a row; anything that does not start like a pickle is 'other'."""
    start = f.read(2)
    f.seek(0)
    is_proto = len(start) == 2 and start[0] == 0x80 and start[1] <= 5
    state = _Scan(label, trusted)
    joblib = False
    try:
        end = _run(f, 0, state)
    except _NotPickle:
        if is_proto:
            return ScanResult(label, "pickle", (), (Finding(label, "is a malformed pickle"),))
        return ScanResult(label, "other")
    except _Malformed as exc:
        state.fail(f"could not be scanned to the end ({exc})")
        return ScanResult(label, "pickle", tuple(state.globals), tuple(state.findings))
    joblib = any(g == ".".join(_JOBLIB_WRAPPER) for g in state.globals)
    # Further pickles may follow (legacy torch files, pickle.dump called twice).
    while end is not None:
        f.seek(end)
        if not f.read(1):
            break
        try:
            end = _run(f, end, _Scan(label, trusted, state.globals, state.findings))
        except (_NotPickle, _Malformed):
            break  # trailing data that is not a pickle: no loader reads it as one
    kind = "joblib" if joblib else "pickle"
    return ScanResult(label, kind, tuple(dict.fromkeys(state.globals)), tuple(state.findings))


class _NotPickle(Exception):
    pass


class _Malformed(Exception):
    pass


_SIMPLE_DESCR = re.compile(r"""['"]descr['"]\s*:\s*['"]([^'"]*)['"]""")
_CALLS = frozenset({"REDUCE", "OBJ", "NEWOBJ", "NEWOBJ_EX", "BUILD"})
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def _run(f: IO[bytes], offset: int, state: _Scan) -> int | None:
    """Scan one pickle from ``offset``; returns where the next byte after STOP is.

    Raises _NotPickle when the first opcode does not parse, _Malformed when a later one
    does not (a real loader would already have run the opcodes before it).
    """
    f.seek(offset)
    known = len(state.globals)
    active = False
    try:
        for op, arg, pos in pickletools.genops(f):
            skip_to = _step(state, op, arg, f, pos or 0)
            # A call counts only once the simulated stack accepted it: a real loader fails
            # on the same malformed stack before it calls anything.
            active = active or op.name in _CALLS
            if op.name == "STOP":
                return f.tell()
            if skip_to is not None:
                return _run_resume(f, skip_to, state)
    except (ValueError, IndexError, KeyError, TypeError, UnicodeDecodeError, EOFError) as exc:
        if not active and len(state.globals) == known:
            raise _NotPickle() from exc
        raise _Malformed(str(exc)[:200]) from exc
    raise _Malformed("the stream ends without STOP")


def _run_resume(f: IO[bytes], offset: int, state: _Scan) -> int | None:
    try:
        return _run(f, offset, state)
    except _NotPickle as exc:
        raise _Malformed("opcodes after a joblib array do not parse") from exc


def _step(state: _Scan, op: Any, arg: Any, f: IO[bytes], pos: int) -> int | None:
    """Apply one opcode to the simulated stack; returns an offset to jump to, if any."""
    name = op.name
    stack = state.stack
    if name in _STRING_OPS or name in _CONST_OPS:
        stack.append(arg)
    elif name in ("NONE", "NEWTRUE", "NEWFALSE"):
        stack.append({"NONE": None, "NEWTRUE": True, "NEWFALSE": False}[name])
    elif name == "MARK":
        stack.append(_MARK)
    elif name in ("GLOBAL", "INST"):
        module, _, gname = str(arg).partition(" ")
        g = state.add_global(module, gname)
        if name == "GLOBAL":
            stack.append(g)
        else:
            stack.append(_Obj(g, tuple(state.pop_mark())))
    elif name == "STACK_GLOBAL":
        gname, module = state.pop(), state.pop()
        if not (isinstance(module, str) and isinstance(gname, str)):
            state.fail("imports a global whose name is computed at load time (STACK_GLOBAL)")
            stack.append(_UNKNOWN)
        else:
            stack.append(state.add_global(module, gname))
    elif name in ("EXT1", "EXT2", "EXT4"):
        state.fail(f"imports a global through the copyreg extension registry (code {arg})")
        stack.append(_UNKNOWN)
    else:
        return _step_structure(state, name, op, arg, f, pos)
    return None


def _step_structure(state: _Scan, name: str, op: Any, arg: Any, f: IO[bytes], pos: int) -> Any:
    stack = state.stack
    if name in ("PUT", "BINPUT", "LONG_BINPUT"):
        state.memo[int(arg)] = stack[-1]
    elif name == "MEMOIZE":
        state.memo[len(state.memo)] = stack[-1]
    elif name in ("GET", "BINGET", "LONG_BINGET"):
        if int(arg) not in state.memo:
            raise ValueError(f"memo key {arg} read before it is written")
        stack.append(state.memo[int(arg)])
    elif name == "EMPTY_TUPLE":
        stack.append(())
    elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
        n = int(name[-1])
        items = [state.pop() for _ in range(n)][::-1]
        stack.append(tuple(items))
    elif name == "TUPLE":
        stack.append(tuple(state.pop_mark()))
    elif name in ("EMPTY_DICT", "DICT"):
        items = state.pop_mark() if name == "DICT" else []
        stack.append(_pairs({}, items))
    elif name in ("SETITEM", "SETITEMS"):
        items = state.pop_mark() if name == "SETITEMS" else [state.pop() for _ in range(2)][::-1]
        target = stack[-1]
        if isinstance(target, dict):
            _pairs(target, items)
    elif name in ("REDUCE", "NEWOBJ"):
        args = state.pop()
        stack.append(_Obj(state.pop(), args))
    elif name == "NEWOBJ_EX":
        state.pop()
        args = state.pop()
        stack.append(_Obj(state.pop(), args))
    elif name == "OBJ":
        items = state.pop_mark()
        stack.append(_Obj(items[0] if items else _UNKNOWN, tuple(items[1:])))
    elif name == "BUILD":
        build_state = state.pop()
        target = stack[-1] if stack else None
        if isinstance(target, _Obj):
            target.state = build_state
            if _is_joblib_wrapper(target):
                return _skip_joblib_array(state, target, f, pos + 1)
    elif name == "STOP":
        return None
    else:
        _generic(state, op)
    return None


def _pairs(target: dict[Any, Any], items: list[Any]) -> dict[Any, Any]:
    for k, v in zip(items[::2], items[1::2], strict=False):
        try:
            target[k] = v
        except TypeError:  # an unhashable simulated key; the value does not matter here
            continue
    return target


def _generic(state: _Scan, op: Any) -> None:
    """Stack effect of an opcode whose values the scan does not need."""
    before = list(op.stack_before)
    if pickletools.markobject in before:
        state.pop_mark()
        before = before[: before.index(pickletools.markobject)]
    for _ in before:
        state.pop()
    for item in op.stack_after:
        state.stack.append(_MARK if item is pickletools.markobject else _UNKNOWN)


def _is_joblib_wrapper(obj: _Obj) -> bool:
    g = obj.factory
    return isinstance(g, _Global) and (g.module, g.name) == _JOBLIB_WRAPPER


def _skip_joblib_array(state: _Scan, wrapper: _Obj, f: IO[bytes], offset: int) -> int:
    """joblib writes an array's bytes right after its wrapper's BUILD; step over them."""
    meta = wrapper.state if isinstance(wrapper.state, dict) else {}
    shape, dtype = meta.get("shape"), meta.get("dtype")
    itemsize, has_object = _dtype_size(dtype)
    if not isinstance(shape, tuple) or not all(isinstance(n, int) and n >= 0 for n in shape):
        raise ValueError("a joblib array wrapper without a readable shape")
    if has_object:
        # Object arrays are a nested pickle; scan it with its own stack.
        nested = _Scan(state.label, state.trusted, state.globals, state.findings)
        end = _run(f, offset, nested)
        if end is None:
            raise ValueError("nested joblib pickle without STOP")
        return end
    count = 1
    for n in shape:
        count *= n
    f.seek(offset)
    if meta.get("numpy_array_alignment_bytes") is not None:
        pad = f.read(1)
        if len(pad) != 1:
            raise ValueError("joblib array padding is cut short")
        offset += 1 + pad[0]
    return offset + count * itemsize


def _dtype_size(dtype: Any) -> tuple[int, bool]:
    """Item size and object-ness of a simulated ``numpy.dtype(spec, ...)`` value."""
    import numpy as np

    if not (isinstance(dtype, _Obj) and isinstance(dtype.factory, _Global)):
        raise ValueError("a joblib array with an unreadable dtype")
    if (dtype.factory.module.split(".")[0], dtype.factory.name) != ("numpy", "dtype"):
        raise ValueError("a joblib array whose dtype is not numpy.dtype")
    args = dtype.args if isinstance(dtype.args, tuple) else ()
    spec = args[0] if args else None
    if not isinstance(spec, str) or len(spec) > 16:
        raise ValueError("a joblib array with an unreadable dtype")
    st = dtype.state if isinstance(dtype.state, tuple) else ()
    elsize = st[5] if len(st) > 5 and isinstance(st[5], int) and st[5] > 0 else None
    flags = st[7] if len(st) > 7 and isinstance(st[7], int) else 0
    base = np.dtype(spec)  # a short type code string; builds nothing else
    has_object = base.hasobject or bool(flags & 1)
    return (elsize or base.itemsize), has_object


def _scan_zip(f: IO[bytes], label: str, trusted: frozenset[str]) -> ScanResult:
    globals_: list[str] = []
    findings: list[Finding] = []
    kinds: set[str] = set()
    try:
        with zipfile.ZipFile(f) as zf:
            infos = zf.infolist()
            if len(infos) > _MAX_ZIP_MEMBERS:
                findings.append(Finding(label, f"holds {len(infos)} members; too many to scan"))
            for info in infos[:_MAX_ZIP_MEMBERS]:
                if info.is_dir():
                    continue
                member = f"{label}:{info.filename}"
                result = _scan_member(zf, info, member, trusted)
                if result.kind != "other":
                    kinds.add(result.kind)
                globals_.extend(result.globals)
                findings.extend(result.findings)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError) as exc:
        findings.append(Finding(label, f"is a zip archive that cannot be read ({exc})"))
        return ScanResult(label, "zip", (), tuple(findings))
    kind = "zip" if not kinds else ("pickle" if kinds & {"pickle", "joblib"} else "zip")
    return ScanResult(label, kind, tuple(dict.fromkeys(globals_)), tuple(findings))


def _stored_head(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes | None:
    """The first bytes of an uncompressed member, read without zipfile's per-member setup.

    Returns None (use the slow path) for compressed or encrypted members, or when the
    local header does not name the same file as the central directory.
    """
    if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1 or zf.fp is None:
        return None
    fp = zf.fp
    fp.seek(info.header_offset)
    local = fp.read(30)
    if len(local) != 30 or local[:4] != b"PK\x03\x04":
        return None
    name_len = int.from_bytes(local[26:28], "little")
    extra_len = int.from_bytes(local[28:30], "little")
    name = fp.read(name_len)
    if name.decode("utf-8", "replace") != info.filename and name != info.filename.encode(
        "cp437", "replace"
    ):
        return None
    fp.seek(extra_len, io.SEEK_CUR)
    return bytes(fp.read(min(4096, info.file_size)))


def _scan_member(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, label: str, trusted: frozenset[str]
) -> ScanResult:
    head = _stored_head(zf, info)
    if head is not None and head.startswith(b"\x93NUMPY"):
        header = _npy_header(io.BytesIO(head))
        if header is not None and "O" not in str(header[0]):
            return ScanResult(label, "other")  # a plain numeric array: nothing to unpickle
    with zf.open(info) as m:
        head = m.read(4096)
        if head.startswith(b"\x93NUMPY"):
            return _scan_npy_member(head, m, label, trusted)
    if head.startswith(b"PK\x03\x04") or _could_be_pickle(head[:16]):
        return _scan_stream(io.BytesIO(zf.read(info)), label, trusted)
    return ScanResult(label, "other")


def _scan_npy_member(
    head: bytes, rest: IO[bytes], label: str, trusted: frozenset[str]
) -> ScanResult:
    """An .npy inside a zip: parse the header from the first bytes; read on only for objects."""
    buf = io.BytesIO(head)
    header = _npy_header(buf)
    if header is None:  # a header longer than the first read
        buf = io.BytesIO(head + rest.read())
        header = _npy_header(buf)
    if header is None:
        return ScanResult(label, "npy", (), (Finding(label, "has an unreadable .npy header"),))
    descr, start = header
    if "O" not in str(descr):
        return ScanResult(label, "other")
    data = buf.getvalue()[start:] + rest.read()
    inner = _scan_pickles(io.BytesIO(data), label, trusted)
    findings = list(inner.findings)
    if inner.kind == "other":
        findings.append(Finding(label, "holds an object array that is not a readable pickle"))
    return ScanResult(label, "npy", inner.globals, tuple(findings))


def _could_be_pickle(head: bytes) -> bool:
    """Cheap pre-check so large binary members (tensor storages) are not read whole."""
    if not head:
        return False
    if head[0] == 0x80:
        return True
    return head[:1] in b"(]}cIFSVNLKJMGTUXBC)" or _decompressor(head) is not None


def _scan_npy(f: IO[bytes], label: str, trusted: frozenset[str]) -> ScanResult:
    header = _npy_header(f)
    if header is None:
        return ScanResult(label, "npy", (), (Finding(label, "has an unreadable .npy header"),))
    descr, _data_start = header
    if "O" not in str(descr):
        return ScanResult(label, "other")
    rest = f.read()  # an object array: the data is a pickle after the header
    inner = _scan_pickles(io.BytesIO(rest), label, trusted)
    findings = list(inner.findings)
    if inner.kind == "other":
        findings.append(Finding(label, "holds an object array that is not a readable pickle"))
    return ScanResult(label, "npy", inner.globals, tuple(findings))


def _npy_header(f: IO[bytes]) -> tuple[Any, int] | None:
    """The ``descr`` of an .npy file and where its data starts, read with literal_eval."""
    magic = f.read(8)
    if len(magic) != 8 or not magic.startswith(b"\x93NUMPY"):
        return None
    major = magic[6]
    size_bytes = 2 if major == 1 else 4
    raw_len = f.read(size_bytes)
    if len(raw_len) != size_bytes:
        return None
    length = int.from_bytes(raw_len, "little")
    if length > 1 << 20:
        return None
    text = f.read(length).decode("latin1")
    simple = _SIMPLE_DESCR.search(text)
    if simple is not None and text.count("descr") == 1:
        return simple.group(1), 8 + size_bytes + length  # a plain dtype string: no eval needed
    try:
        header = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    if not isinstance(header, dict) or "descr" not in header:
        return None
    return header["descr"], 8 + size_bytes + length


def iter_scan(root: Path, *, trusted_globals: frozenset[str] = frozenset()) -> Iterator[ScanResult]:
    """Scan every file under a folder (package files, in path order)."""
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        yield scan_file(
            path, label=path.relative_to(root).as_posix(), trusted_globals=trusted_globals
        )


__all__ = ["Finding", "ScanResult", "iter_scan", "scan_bytes", "scan_file"]

"""Scan pickle-family files before anything loads them, with the parsers that would load them.

Files are recognised by content, not by name: a pickle saved as ``weights.txt`` is still
a pickle. Each format is read by its real parser under a budget:

- pickles (protocols 0-5, several in a row) and joblib files run through Python's own
  unpickler restricted to the allowlist (:mod:`keel.models._unpickle`): scanning *is* a
  restricted load, so the scanner and the loader cannot disagree;
- compressed streams (gzip, bz2, xz/lzma, zlib as joblib writes them) are inflated up
  to :data:`MAX_INFLATED_BYTES` per file, then scanned;
- zip archives (PyTorch ``.pt``, ``.npz``, skops) member by member, with declared sizes
  checked before anything is read;
- ``.npy`` headers are read by numpy's own header parser (bounded); object arrays hold a
  pickle after the header and are scanned as one.

Any error once a file looks like one of these formats counts as unsafe; only bytes that
no unpickler would get past the first opcode of are "other".
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import pickle
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

from keel.exceptions import UnsafeModelError
from keel.models._unpickle import NotPickle, Refused, Trace, restricted_load

#: Bytes one file may inflate to, over all its compressed streams and zip members.
MAX_INFLATED_BYTES = 1 << 30
MAX_ZIP_MEMBERS = 100_000
#: numpy's own default limit on an .npy header.
MAX_NPY_HEADER = 10_000
_OPCODES = frozenset(getattr(pickle, "_Unpickler").dispatch)  # noqa: B009
_CHUNK = 1 << 20


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
            issues = "; ".join(f"{f.file} {f.issue}" for f in self.findings[:5])
            raise UnsafeModelError(
                f"{self.file} is not safe to load: {issues}. keel refused to load it; "
                "re-save the model in a safe format (skops, ONNX, native XGBoost/LightGBM) "
                "or, if you trust the author, pass the extra globals as trusted_globals"
            )


@dataclass
class _Ctx:
    """One top-level file's scan: its label, trusted extras, and the bytes left to inflate."""

    trusted: frozenset[str]
    left: int
    budget: int
    keep: list[Any] | None = None
    findings: list[Finding] = field(default_factory=list)
    globals: list[str] = field(default_factory=list)

    def charge(self, label: str, nbytes: int) -> None:
        self.left -= nbytes
        if self.left < 0:
            raise _OverBudget(f"{label} inflates past {self.budget} bytes")


class _OverBudget(Exception):
    pass


def scan_file(
    path: str | Path,
    *,
    label: str | None = None,
    trusted_globals: frozenset[str] = frozenset(),
    budget: int = MAX_INFLATED_BYTES,
) -> ScanResult:
    """Scan one file on disk (format sniffed from its first bytes)."""
    path = Path(path)
    label = label or path.name
    try:
        with open(path, "rb") as f:
            return scan_stream(f, label, trusted_globals, budget)
    except OSError as exc:
        return ScanResult(label, "other", (), (Finding(label, f"cannot be read: {exc}"),))


def scan_bytes(
    data: bytes,
    *,
    label: str = "<bytes>",
    trusted_globals: frozenset[str] = frozenset(),
    budget: int = MAX_INFLATED_BYTES,
) -> ScanResult:
    return scan_stream(io.BytesIO(data), label, trusted_globals, budget)


def scan_stream(
    f: IO[bytes],
    label: str,
    trusted: frozenset[str] = frozenset(),
    budget: int = MAX_INFLATED_BYTES,
    keep: list[Any] | None = None,
) -> ScanResult:
    """Scan a seekable binary stream; ``keep`` receives the objects of a clean pickle."""
    ctx = _Ctx(trusted, budget, budget, keep)
    kind = _scan(f, _size(f), label, ctx)
    findings = tuple(ctx.findings)
    return ScanResult(label, kind, tuple(dict.fromkeys(ctx.globals)), findings)


def _size(f: IO[bytes]) -> int:
    here = f.tell()
    end = f.seek(0, io.SEEK_END)
    f.seek(here)
    return end - here


def _scan(f: IO[bytes], size: int, label: str, ctx: _Ctx) -> str:
    head = f.read(16)
    f.seek(-len(head), io.SEEK_CUR)
    try:
        if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
            return _scan_zip(f, label, ctx)
        if head.startswith(b"\x93NUMPY"):
            return _scan_npy(f, label, ctx)
        codec = _codec(head)
        if codec is not None:
            return _scan_compressed(f, codec, label, ctx)
        return _scan_pickles(f, size, label, ctx)
    except _OverBudget as exc:
        ctx.findings.append(Finding(label, f"was refused: {exc} (a decompression bomb?)"))
        return "zip" if head.startswith(b"PK") else "joblib"


def _scan_pickles(f: IO[bytes], size: int, label: str, ctx: _Ctx) -> str:
    trace = Trace()
    start = f.tell()
    try:
        objects = restricted_load(f, start + size, trusted=ctx.trusted, trace=trace)
    except NotPickle:
        return "other"
    except Refused as exc:
        ctx.findings.append(Finding(label, str(exc)))
        objects = None
    except ValueError as exc:
        ctx.findings.append(Finding(label, str(exc)))
        objects = None
    finally:
        ctx.globals.extend(trace.globals)
    if objects is not None and ctx.keep is not None:
        ctx.keep.extend(objects)
    return "joblib" if trace.joblib else "pickle"


def _codec(head: bytes) -> str | None:
    """The compression joblib would detect from these first bytes, if any."""
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"BZh") and head[3:4].isdigit():
        return "bz2"
    if head.startswith(b"\xfd7zXZ\x00") or head.startswith(b"]\x00\x00"):
        return "lzma"
    if len(head) >= 2 and head[0] == 0x78 and (head[0] << 8 | head[1]) % 31 == 0:
        return "zlib"
    if head.startswith(b'\x04"M\x18'):
        return "lz4"
    return None


def _scan_compressed(f: IO[bytes], codec: str, label: str, ctx: _Ctx) -> str:
    try:
        data = _inflate(f, codec, label, ctx)
    except (OSError, EOFError, lzma.LZMAError, zlib.error, ValueError) as exc:
        ctx.findings.append(
            Finding(label, f"looks {codec}-compressed but does not inflate ({exc})")
        )
        return "joblib"
    kind = _scan(io.BytesIO(data), len(data), label, ctx)
    if kind in ("pickle", "joblib"):
        return "joblib"
    return kind


def _inflate(f: IO[bytes], codec: str, label: str, ctx: _Ctx) -> bytes:
    limit = max(ctx.left, 0)
    if codec == "lz4":
        raise ValueError("lz4 streams are not read by keel")
    if codec == "zlib":
        data = _inflate_zlib(f, limit)
    else:
        opener: Any = {"gzip": gzip.GzipFile, "bz2": bz2.BZ2File, "lzma": lzma.LZMAFile}[codec]
        with opener(fileobj=f) if codec == "gzip" else opener(f) as inner:
            data = inner.read(limit + 1)
    ctx.charge(label, len(data))
    return data


def _inflate_zlib(f: IO[bytes], limit: int) -> bytes:
    d = zlib.decompressobj()
    out = bytearray()
    while not d.eof and len(out) <= limit:
        chunk = d.unconsumed_tail or f.read(_CHUNK)
        if not chunk:
            raise zlib.error("the stream is cut short")
        out += d.decompress(chunk, limit + 1 - len(out))
    return bytes(out)


def _scan_zip(f: IO[bytes], label: str, ctx: _Ctx) -> str:
    kinds: set[str] = set()
    try:
        with zipfile.ZipFile(f) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
            if len(infos) > MAX_ZIP_MEMBERS:
                raise _OverBudget(f"{label} holds {len(infos)} members (over {MAX_ZIP_MEMBERS})")
            declared = sum(i.file_size for i in infos)
            if declared > ctx.left:
                raise _OverBudget(f"{label} declares {declared} bytes once inflated")
            for info in infos:
                kinds.add(_scan_member(zf, info, f"{label}:{info.filename}", ctx))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, RuntimeError,
            NotImplementedError, ValueError, zlib.error, lzma.LZMAError) as exc:  # fmt: skip
        ctx.findings.append(Finding(label, f"is a zip archive that cannot be read ({exc})"))
        return "zip"
    return "pickle" if kinds & {"pickle", "joblib"} else "zip"


def _scan_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, label: str, ctx: _Ctx) -> str:
    with zf.open(info) as m:
        head = m.read(16)
        if head.startswith(b"\x93NUMPY"):
            return _scan_npy(cast(IO[bytes], _Prefixed(head, m)), label, ctx)
        if not head or not (
            head[0] in _OPCODES or head.startswith(b"PK") or _codec(head) is not None
        ):
            return "other"  # no unpickler gets past this first byte
        ctx.charge(label, info.file_size)
        data = head + m.read(info.file_size)
    return _scan(io.BytesIO(data), len(data), label, ctx)


class _Prefixed(io.RawIOBase):
    """A stream's already-read first bytes followed by the rest of it (read-only)."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            out, self._head = self._head + self._rest.read(), b""
            return out
        out, self._head = self._head[:n], self._head[n:]
        return out + (self._rest.read(n - len(out)) if len(out) < n else b"")


def _scan_npy(f: IO[bytes], label: str, ctx: _Ctx) -> str:
    """numpy's own header parser; object arrays are a pickle after the header."""
    import importlib

    try:  # numpy's own reader, as np.load uses it (private name; public in 1.x's format)
        impl: Any = importlib.import_module("numpy.lib._format_impl")
    except ImportError:
        impl = importlib.import_module("numpy.lib.format")
    read_magic, _read_array_header = impl.read_magic, impl._read_array_header

    try:
        version = read_magic(f)
        _shape, _fortran, dtype = _read_array_header(f, version, max_header_size=MAX_NPY_HEADER)
    except (ValueError, OSError, EOFError, SyntaxError, TypeError) as exc:
        ctx.findings.append(Finding(label, f"has an .npy header numpy refuses ({exc})"))
        return "npy"
    if not dtype.hasobject:
        return "other"  # a numeric array: nothing to unpickle
    data = f.read(max(ctx.left, 0) + 1)
    ctx.charge(label, len(data))
    kind = _scan_pickles(io.BytesIO(data), len(data), label, ctx)
    if kind == "other":
        ctx.findings.append(Finding(label, "holds an object array that is not a readable pickle"))
    return "npy"


def iter_scan(root: Path, *, trusted_globals: frozenset[str] = frozenset()) -> Iterator[ScanResult]:
    """Scan every file under a folder (package files, in path order)."""
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        yield scan_file(
            path, label=path.relative_to(root).as_posix(), trusted_globals=trusted_globals
        )


__all__ = [
    "MAX_INFLATED_BYTES",
    "Finding",
    "ScanResult",
    "iter_scan",
    "scan_bytes",
    "scan_file",
    "scan_stream",
]

"""The one pickle parser: Python's own unpickler, restricted to the allowlist, under a budget.

Scanning and loading are the same operation. The stream runs through the standard
library's unpickler with ``find_class`` answering only for exact allowlisted names
(:mod:`keel.models._allowlist`), and every call the stream makes (``REDUCE``, ``NEWOBJ``,
``OBJ``/``INST``) is checked against the shape its entry allows before it happens. So
there is no second parser to disagree with the real one: what is refused here is what
would have run. joblib's array wrapper is read here too (numeric data bounded by the
bytes left in the stream, object arrays as a nested restricted pickle), because joblib's
own reader would unpickle nested object arrays without these checks.

Memory: a stream cannot allocate more than it spells out; calls that copy containers or
array state count against a work budget proportional to the stream's length.
"""

from __future__ import annotations

import _compat_pickle
import pickle
import re
import struct
from dataclasses import dataclass, field
from typing import IO, Any, Literal

from keel.models._allowlist import EMPTY, VALUE, rule_of

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_WORK_FLOOR = 16 << 20
_PROTO = pickle.PROTO[0]


class Refused(Exception):
    """The stream asked for something the allowlist does not grant (never ran it)."""


class NotPickle(Exception):
    """The bytes failed before any import or call: no unpickler runs anything from them."""


@dataclass
class Trace:
    """What one restricted load saw: every global, and whether joblib arrays were read."""

    globals: list[str] = field(default_factory=list)
    joblib: bool = False
    work: int = 0


#: The pure-Python unpickler (joblib's base too): its opcode table can be extended.
_Base: Any = getattr(pickle, "_Unpickler")  # noqa: B009


class _Restricted(_Base):
    dispatch: dict[int, Any] = dict(_Base.dispatch)

    def __init__(self, file: IO[bytes], size: int, trusted: frozenset[str], trace: Trace) -> None:
        super().__init__(file)
        self._raw = file
        self._size = size
        self._trusted = trusted
        self._trace = trace
        self._rules: dict[int, tuple[str, Any, Any]] = {}
        self._work_limit = max(_WORK_FLOOR, 4 * size)
        self._acted = False

    # -- imports ----------------------------------------------------------------------------
    def find_class(self, module: str, name: str) -> Any:
        if self.proto < 3 and self.fix_imports:
            if (module, name) in _compat_pickle.NAME_MAPPING:
                module, name = _compat_pickle.NAME_MAPPING[(module, name)]
            elif module in _compat_pickle.IMPORT_MAPPING:
                module = _compat_pickle.IMPORT_MAPPING[module]
        if not (_IDENT.match(module) and _IDENT.match(name)):
            error = ValueError if self._acted else NotPickle
            raise error(f"imports {module!r} {name!r}, which is not an importable name")
        dotted = f"{module}.{name}"
        self._trace.globals.append(dotted)
        self._acted = True
        try:
            rule = rule_of(module, name, self._trusted)
        except LookupError as exc:
            raise Refused(f"imports {dotted} ({exc})") from None
        self._acted = True
        obj = super().find_class(module, name)
        self._rules[id(obj)] = (dotted, rule, obj)
        return obj

    def persistent_load(self, pid: Any) -> Any:
        raise Refused("uses persistent ids (a torch checkpoint or similar); keel loads none")

    # -- calls ------------------------------------------------------------------------------
    def _check_call(self, func: Any, args: Any, kwargs: Any) -> None:
        entry = self._rules.get(id(func))
        if entry is None or entry[2] is not func:
            raise Refused(f"calls a {type(func).__name__} that no allowlisted import produced")
        if not isinstance(args, tuple) or not isinstance(kwargs, dict):
            raise Refused("calls with arguments that are not a tuple")
        dotted, rule, _ = entry
        if rule == VALUE:
            raise Refused(f"calls {dotted}, which may appear only as a value")
        if rule == EMPTY:
            if args or kwargs:
                raise Refused(f"builds {dotted} with arguments; it may only be built empty")
        else:
            reason = rule(args, kwargs)
            if reason is not None:
                raise Refused(f"{dotted} {reason}")
        self._spend(args)
        self._acted = True

    def _spend(self, value: Any) -> None:
        cost = _cost(value) + sum(_cost(v) for v in value) if isinstance(value, tuple) else 0
        self._trace.work += cost + 1
        if self._trace.work > self._work_limit:
            raise Refused(
                f"builds more than {self._work_limit} bytes of objects from a "
                f"{self._size}-byte stream (a memory bomb)"
            )

    def load_reduce(self) -> None:
        stack = self.stack
        args = stack.pop()
        func = stack[-1]
        self._check_call(func, args, {})
        stack[-1] = func(*args)

    def load_newobj(self) -> None:
        args = self.stack.pop()
        cls = self.stack.pop()
        self._check_call(cls, args, {})
        self.append(cls.__new__(cls, *args))

    def load_newobj_ex(self) -> None:
        kwargs = self.stack.pop()
        args = self.stack.pop()
        cls = self.stack.pop()
        self._check_call(cls, args, kwargs)
        self.append(cls.__new__(cls, *args, **kwargs))

    def _instantiate(self, klass: Any, args: Any) -> None:
        self._check_call(klass, tuple(args), {})
        super()._instantiate(klass, args)

    def load_build(self) -> None:
        inst = self.stack[-2] if len(self.stack) >= 2 else None
        if inst is not None and id(inst) in self._rules:
            raise Refused(f"sets attributes on {self._rules[id(inst)][0]} itself")
        self._spend((self.stack[-1],))
        super().load_build()
        top = self.stack[-1]
        if type(top).__name__ == "NumpyArrayWrapper" and _is_joblib_wrapper(top):
            self.stack[-1] = self._joblib_array(top)

    dispatch[pickle.REDUCE[0]] = load_reduce
    dispatch[pickle.NEWOBJ[0]] = load_newobj
    dispatch[pickle.NEWOBJ_EX[0]] = load_newobj_ex
    dispatch[pickle.BUILD[0]] = load_build

    # -- joblib arrays ----------------------------------------------------------------------
    def _joblib_array(self, wrapper: Any) -> Any:
        import numpy as np

        self._trace.joblib = True
        dtype, shape = getattr(wrapper, "dtype", None), getattr(wrapper, "shape", None)
        if not isinstance(dtype, np.dtype) or not isinstance(shape, tuple):
            raise Refused("holds a joblib array without a dtype and shape")
        if not all(isinstance(n, int) and n >= 0 for n in shape):
            raise Refused("holds a joblib array with a negative or non-integer shape")
        if getattr(wrapper, "subclass", np.ndarray) not in (np.ndarray, np.memmap):
            raise Refused("holds a joblib array of a subclass keel does not rebuild")
        if dtype.hasobject:
            return _Restricted(self._raw, self._size, self._trusted, self._trace).load_checked()
        if getattr(wrapper, "numpy_array_alignment_bytes", None) is not None:
            pad = self._raw.read(1)
            if len(pad) != 1:
                raise Refused("holds a joblib array whose padding is cut short")
            self._raw.read(pad[0])
        count = 1
        for n in shape:
            count *= n
        nbytes = count * dtype.itemsize
        left = self._size - self._raw.tell()
        if nbytes > left:
            raise Refused(f"declares a {nbytes}-byte joblib array with {left} bytes left")
        array = np.frombuffer(self._raw.read(nbytes), dtype=dtype, count=count)
        order: Literal["C", "F"] = "F" if getattr(wrapper, "order", "C") == "F" else "C"
        array = array.reshape(tuple(shape), order=order).copy(order=order)
        if not array.dtype.isnative:
            array = array.astype(array.dtype.newbyteorder("="))
        return array

    # -- the loop ---------------------------------------------------------------------------
    def load_checked(self) -> Any:
        """``load()`` with errors sorted: Refused, NotPickle (nothing ran) or ValueError."""
        try:
            return self.load()
        except (Refused, NotPickle):
            raise
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError,
                AttributeError, ImportError, UnicodeDecodeError, OverflowError, MemoryError,
                RecursionError, AssertionError, struct.error) as exc:  # fmt: skip
            if not self._acted:
                raise NotPickle(str(exc)[:200]) from exc
            detail = f"{type(exc).__name__}: {str(exc)[:160]}"
            raise ValueError(f"is a malformed pickle ({detail})") from exc


def _cost(value: Any) -> int:
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int):
        return nbytes
    try:
        return len(value)  # containers, bytes and text: what a copy of them costs
    except TypeError:
        return 0


def _is_joblib_wrapper(obj: Any) -> bool:
    cls = type(obj)
    return (cls.__module__, cls.__qualname__) == ("joblib.numpy_pickle", "NumpyArrayWrapper")


def restricted_load(
    f: IO[bytes], size: int, *, trusted: frozenset[str] = frozenset(), trace: Trace | None = None
) -> list[Any]:
    """Every pickle in ``f`` (several may follow one another), loaded under the allowlist.

    Raises Refused (a forbidden import or call), NotPickle (the first bytes are not a
    pickle), or ValueError (a pickle that breaks after it started: unsafe to judge).
    """
    trace = trace or Trace()
    start = f.tell()
    first = f.read(1)
    f.seek(start)
    objects: list[Any] = []
    while True:
        mark = f.tell()
        try:
            objects.append(_Restricted(f, size, trusted, trace).load_checked())
        except NotPickle as exc:
            if objects:  # trailing bytes that are not a pickle: no loader reads them
                return objects
            if first and first[0] == _PROTO:
                raise ValueError(f"starts like a pickle but does not parse ({exc})") from None
            raise
        if f.tell() >= size or f.tell() == mark:
            return objects
        if not f.read(1):
            return objects
        f.seek(-1, 1)


__all__ = ["NotPickle", "Refused", "Trace", "restricted_load"]

"""The code version of a step: its source and the source of the project code it calls.

"Project code" is any module that is not the standard library, not an installed package
(site-packages) and not keel itself. Third-party code is not hashed: its package version
is recorded instead (:func:`package_versions`), so a ``pip install -U`` invalidates the
steps that use the package, and nothing else. Sources are normalised through the AST, so
comments, docstrings, blank lines and decorator arguments (retries, timeout ...) do not
change a version; module-level constants a step reads (``THRESHOLD = 0.5``) do.
"""

from __future__ import annotations

import ast
import dis
import functools
import hashlib
import inspect
import json
import site
import sys
import sysconfig
import textwrap
import types
from collections.abc import Callable, Iterator
from typing import Any

_SIMPLE = (type(None), bool, int, float, str, bytes)


class WrapsFunction:
    """A keel object standing for a user function (a step, a pipeline): its code version is
    the function's, and code that calls it depends on the function.

    Steps and pipelines derive from it, so this module needs neither of them.
    """

    __slots__ = ()
    fn: Callable[..., Any]


@functools.cache
def _library_roots() -> tuple[str, ...]:
    roots = {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    roots.update(site.getsitepackages())
    roots.add(site.getusersitepackages())
    return tuple(sorted(r.rstrip("/") + "/" for r in roots if r))


@functools.cache
def is_project_module(name: str) -> bool:
    """True for modules the user writes (hashed by source), False for libraries."""
    top = name.split(".")[0]
    if top in ("keel", "builtins") or top in sys.stdlib_module_names:
        return False
    if name == "__main__":
        return True
    module = sys.modules.get(name)
    path = getattr(module, "__file__", None)
    if not path:
        return False
    if "/site-packages/" in path or "/dist-packages/" in path:
        return False
    return not path.startswith(_library_roots())


def code_version(fn: Callable[..., Any]) -> str:
    """A sha256 over the normalised source of ``fn`` and the project functions it reaches."""
    digest = hashlib.sha256()
    for name, text in sorted(_collect(fn).items()):
        digest.update(name.encode())
        digest.update(b"\0")
        digest.update(text.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def _collect(fn: Callable[..., Any]) -> dict[str, str]:
    """``qualified name -> normalised source`` of ``fn`` and its project dependencies."""
    seen: dict[str, str] = {}
    todo: list[Any] = [fn]
    while todo:
        obj = _unwrap(todo.pop())
        key = f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"
        if key in seen:
            continue
        seen[key] = _normalised_source(obj)
        for ref_name, value in _references(obj):
            if isinstance(value, _SIMPLE) or (
                isinstance(value, (tuple, frozenset, list, dict)) and _small_json(value)
            ):
                seen[f"{key}:{ref_name}"] = json.dumps(value, sort_keys=True, default=repr)
            elif _is_project_object(value):
                todo.append(value)
    return seen


def _unwrap(obj: Any) -> Any:
    if isinstance(obj, WrapsFunction):
        return obj.fn
    return inspect.unwrap(obj) if callable(obj) else obj


def _is_project_object(value: Any) -> bool:
    if isinstance(value, WrapsFunction):
        return is_project_module(value.fn.__module__)
    if isinstance(value, (types.FunctionType, type)):
        return is_project_module(getattr(value, "__module__", "") or "")
    return False


def _small_json(value: Any) -> bool:
    try:
        return len(json.dumps(value, sort_keys=True)) < 10_000
    except (TypeError, ValueError):
        return False


def _code_objects(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_objects(const)


def _references(obj: Any) -> Iterator[tuple[str, Any]]:
    """Globals (and closure values) a function or the methods of a class refer to."""
    functions: list[types.FunctionType] = []
    if isinstance(obj, types.FunctionType):
        functions.append(obj)
    elif isinstance(obj, type):
        functions.extend(v for v in vars(obj).values() if isinstance(v, types.FunctionType))
    for fn in functions:
        names = {n for code in _code_objects(fn.__code__) for n in code.co_names}
        for name in sorted(names):
            if name in fn.__globals__:
                value = fn.__globals__[name]
                yield name, value
                if isinstance(value, types.ModuleType) and is_project_module(value.__name__):
                    for attr in sorted(names):
                        if attr in vars(value):
                            yield f"{name}.{attr}", vars(value)[attr]
        for cell_name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or (), strict=False):
            try:
                yield cell_name, cell.cell_contents
            except ValueError:  # an empty cell
                continue


def _normalised_source(obj: Any) -> str:
    """The AST of ``obj`` without decorators and docstrings; bytecode when there is no source."""
    try:
        source = textwrap.dedent(inspect.getsource(obj))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError, IndentationError):
        code = getattr(obj, "__code__", None)
        if code is None:
            return repr(obj)
        return hashlib.sha256(code.co_code + repr(code.co_consts).encode()).hexdigest()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            node.decorator_list = []
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, annotate_fields=False)


# -- package versions ---------------------------------------------------------------------


def package_versions(fn: Callable[..., Any]) -> dict[str, str]:
    """``{distribution: version}`` of the third-party packages ``fn``'s code imports or uses.

    Found from the globals it refers to and the ``import`` statements in its body (and in
    the project functions it calls), plus the Python version.
    """
    tops: set[str] = set()
    for obj in _project_functions(fn):
        tops.update(_imported_tops(obj))
        for _name, value in _references(obj):
            module = value.__name__ if isinstance(value, types.ModuleType) else None
            module = module or getattr(value, "__module__", None)
            if isinstance(module, str) and not is_project_module(module):
                tops.add(module.split(".")[0])
    out = {"python": "{}.{}".format(*sys.version_info[:2])}
    for top in sorted(tops):
        version = _top_version(top)
        if version is not None:
            out[top] = version
    return out


def _project_functions(fn: Callable[..., Any]) -> list[Any]:
    seen: dict[int, Any] = {}
    todo = [fn]
    while todo:
        obj = _unwrap(todo.pop())
        if id(obj) in seen:
            continue
        seen[id(obj)] = obj
        todo.extend(v for _n, v in _references(obj) if _is_project_object(v))
    return list(seen.values())


def _imported_tops(obj: Any) -> set[str]:
    code = getattr(obj, "__code__", None)
    if code is None:
        return set()
    tops = set()
    for c in _code_objects(code):
        for ins in dis.get_instructions(c):
            if ins.opname == "IMPORT_NAME" and isinstance(ins.argval, str):
                tops.add(ins.argval.split(".")[0])
    return tops


@functools.cache
def _top_version(top: str) -> str | None:
    """The version of the distribution that provides top-level module ``top``."""
    if top in sys.stdlib_module_names or top in ("builtins", "__main__"):
        return None
    if top == "keel":
        from keel import __version__

        return __version__
    module = sys.modules.get(top)
    version = getattr(module, "__version__", None)
    if isinstance(version, str):
        return version
    from importlib import metadata

    for dist in _distributions().get(top, ()):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


@functools.cache
def _distributions() -> dict[str, list[str]]:
    from importlib import metadata

    return {k: list(v) for k, v in metadata.packages_distributions().items()}

"""Which globals a pickle may import: a short allowlist, and a denylist that always wins.

The allowlist holds plain containers, numpy/scipy array rebuilders and estimator classes
of the model libraries keel supports. Library *classes* are allowed by pattern (a single
CamelCase name in ``sklearn.*``, ``xgboost.*``, ``lightgbm.*``, ``scipy.sparse.*``);
library *functions* only by exact name. Anything that can run a process, import a
module, read attributes by name or evaluate code is denied even if a caller trusts it.
"""

from __future__ import annotations

import re

#: Exact globals that rebuild data and nothing else.
SAFE_GLOBALS: frozenset[str] = frozenset(
    {
        "builtins.set",
        "builtins.frozenset",
        "builtins.dict",
        "builtins.list",
        "builtins.tuple",
        "builtins.bytearray",
        "builtins.bytes",
        "builtins.complex",
        "builtins.float",
        "builtins.int",
        "builtins.bool",
        "builtins.str",
        "builtins.slice",
        "builtins.range",
        "builtins.object",
        "builtins.NoneType",
        "__builtin__.set",
        "__builtin__.frozenset",
        "__builtin__.object",
        "copyreg._reconstructor",
        "copy_reg._reconstructor",
        "collections.OrderedDict",
        "collections.defaultdict",
        "collections.Counter",
        "collections.deque",
        "datetime.datetime",
        "datetime.date",
        "datetime.timedelta",
        "decimal.Decimal",
        "numpy.ndarray",
        "numpy.dtype",
        "numpy.core.multiarray._reconstruct",
        "numpy.core.multiarray.scalar",
        "numpy._core.multiarray._reconstruct",
        "numpy._core.multiarray.scalar",
        "numpy.core.numeric._frombuffer",
        "numpy._core.numeric._frombuffer",
        "numpy.random._pickle.__randomstate_ctor",
        "numpy.random._pickle.__bit_generator_ctor",
        "numpy.random._pickle.__generator_ctor",
        "numpy.random.mtrand.RandomState",
        "numpy.random._mt19937.MT19937",
        "numpy.random._pcg64.PCG64",
        "joblib.numpy_pickle.NumpyArrayWrapper",
        "joblib.numpy_pickle_compat.NDArrayWrapper",
        "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_parameter",
        "torch.FloatStorage",
        "torch.DoubleStorage",
        "torch.HalfStorage",
        "torch.BFloat16Storage",
        "torch.LongStorage",
        "torch.IntStorage",
        "torch.ShortStorage",
        "torch.CharStorage",
        "torch.ByteStorage",
        "torch.BoolStorage",
        "torch.float32",
        "torch.float16",
        "torch.bfloat16",
        "torch.int64",
        "torch.int32",
        "torch.uint8",
        "torch.bool",
    }
)

#: Packages whose CamelCase classes may be rebuilt (estimators, transformers, matrices).
CLASS_PREFIXES: tuple[str, ...] = (
    "sklearn.",
    "xgboost.",
    "lightgbm.",
    "scipy.sparse.",
    "numpy.dtypes",
    "pandas.core.",
)

#: Modules no pickle may touch, whatever the caller trusts.
DENIED_MODULES: frozenset[str] = frozenset(
    {
        "os",
        "posix",
        "nt",
        "subprocess",
        "sys",
        "shutil",
        "socket",
        "pty",
        "importlib",
        "runpy",
        "pip",
        "code",
        "codeop",
        "pickle",
        "_pickle",
        "marshal",
        "ctypes",
        "types",
        "operator",
        "functools",
        "webbrowser",
        "urllib",
        "http",
        "requests",
        "asyncio",
        "multiprocessing",
        "signal",
        "tempfile",
        "pathlib",
        "io",
        "_io",
        "glob",
        "inspect",
        "pydoc",
        "timeit",
        "trace",
        "cProfile",
        "profile",
        "pdb",
        "bdb",
        "threading",
        "_thread",
        "commands",
        "popen2",
        "platform",
        "setuptools",
        "distutils",
        "site",
        "zipimport",
        "torch.hub",
        "torch.jit",
        "torch.serialization",
        "numpy.testing",
        "numpy.f2py",
        "numpy.distutils",
    }
)

#: Names no pickle may import from any module.
DENIED_NAMES: frozenset[str] = frozenset(
    {
        "eval",
        "exec",
        "execfile",
        "compile",
        "open",
        "getattr",
        "setattr",
        "delattr",
        "__import__",
        "globals",
        "locals",
        "vars",
        "breakpoint",
        "input",
        "system",
        "popen",
        "spawn",
        "load",
        "loads",
        "apply",
        "main",
        "run_module",
        "run_path",
        "import_module",
        "attrgetter",
        "methodcaller",
        "itemgetter",
        "partial",
    }
)

_CLASS_NAME = re.compile(r"^[A-Z][A-Za-z0-9_]*$")
_FORBIDDEN_PARTS = frozenset({"tests", "_testing", "testing", "externals", "conftest"})


def global_verdict(module: str, name: str, trusted: frozenset[str] = frozenset()) -> str | None:
    """``None`` if a pickle may import ``module.name``; otherwise the reason it may not."""
    dotted = f"{module}.{name}"
    parts = module.split(".")
    for i in range(1, len(parts) + 1):
        if ".".join(parts[:i]) in DENIED_MODULES:
            return f"module {'.'.join(parts[:i])!r} is never allowed"
    if dotted in SAFE_GLOBALS:
        return None
    if any(p in DENIED_NAMES for p in name.split(".")):
        return f"{name!r} is never allowed"
    if any(p.startswith("__") for p in name.split(".")):
        return "dunder attributes are never allowed"
    if dotted in trusted:
        return None
    if "." not in name and _CLASS_NAME.match(name) and _allowed_class_module(module):
        return None
    return "not on keel's allowlist"


def _allowed_class_module(module: str) -> bool:
    if not any((module + ".").startswith(p) or module == p for p in CLASS_PREFIXES):
        return False
    return not any(part in _FORBIDDEN_PARTS for part in module.split("."))


__all__ = ["CLASS_PREFIXES", "DENIED_MODULES", "DENIED_NAMES", "SAFE_GLOBALS", "global_verdict"]

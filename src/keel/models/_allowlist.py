"""What a pickle (or a skops file) may import, and how each import may be called.

One exact table governs pickle, joblib and skops alike. Every entry is a fully
qualified name with the *shape of the call* it may receive while loading:

- ``VALUE``: may appear as a value (a function kept as an attribute, a scalar type) but
  is never called by the load;
- ``EMPTY``: a class that may only be built empty (``cls.__new__(cls)``, ``cls()``,
  ``copyreg._reconstructor(cls, object, None)``) and then given its state;
- a check function: the callable may be called with arguments it accepts.

The list was derived from what the supported flavors save: pickles and skops files of
the scikit-learn estimators keel packages, numpy arrays and random states, joblib's array
wrapper. Nothing is matched by prefix or by the case of a name, and nothing in it reads
files, imports modules or evaluates text. LightGBM and XGBoost boosters are not in it:
their flavors store them in their own formats, and unpickling one runs their parser (inside
a Pipeline, keel's ``NativeBooster*`` estimators hold them as those formats' bytes).
Names in :data:`DENIED_MODULES` / :data:`DENIED_NAMES` stay refused even when a caller
trusts them explicitly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

#: A call check: ``None`` when ``(args, kwargs)`` is a shape the callable may receive.
ArgCheck = Callable[[tuple[Any, ...], Mapping[str, Any]], str | None]

VALUE = "value"
EMPTY = "empty"

#: How large a size argument (a tree's node count, a class count) may be.
MAX_COUNT = 1 << 24
_SCALARS = (type(None), bool, int, float, complex, str, bytes)


def _is_plain(value: Any, depth: int = 0) -> bool:
    """Data the pickle itself spelled out: scalars and containers of them (no callables)."""
    if isinstance(value, _SCALARS):
        return True
    if depth > 4:
        return False
    if isinstance(value, (tuple, list, set, frozenset)):
        return all(_is_plain(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(_is_plain(k, depth + 1) and _is_plain(v, depth + 1) for k, v in value.items())
    return type(value).__module__ == "numpy" and not callable(value)


def plain_args(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str | None:
    """The default shape: plain data only, no callables or classes among the arguments."""
    if all(_is_plain(a) for a in args) and all(_is_plain(v) for v in kwargs.values()):
        return None
    return "called with arguments that are not plain data"


def _no_kwargs(kwargs: Mapping[str, Any]) -> str | None:
    return "called with keyword arguments" if kwargs else None


def _container_args(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str | None:
    """``list(x)``/``set(x)``/``dict(x)``: at most one argument, already a container."""
    if kwargs or len(args) > 1:
        return "called with more than one argument"
    if args and not isinstance(args[0], (list, tuple, dict, set, frozenset)):
        return f"called on a {type(args[0]).__name__}, not a container"
    return None


def _text_args(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str | None:
    """``str``/``int``/``float``/``Decimal`` of a literal: never a size to allocate."""
    if kwargs or len(args) > 2 or not all(isinstance(a, (str, int, float)) for a in args):
        return "called with arguments that are not short literals"
    if args and isinstance(args[0], str) and len(args[0]) > 4096:
        return "called with a literal longer than 4096 characters"
    return None


def _codecs_encode(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str | None:
    # Protocol 2 writes bytes as _codecs.encode(text, "latin1"); nothing else is allowed.
    if kwargs or len(args) != 2 or not isinstance(args[0], str) or args[1] != "latin1":
        return "called other than as encode(text, 'latin1')"
    return None


def _reconstruct(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str | None:
    """numpy's ``_reconstruct(ndarray, (0,), b'b')``: an empty array, state comes after."""
    import numpy as np

    if kwargs or len(args) != 3 or args[0] is not np.ndarray:
        return "called other than as _reconstruct(numpy.ndarray, (0,), b'b')"
    if tuple(args[1]) != (0,) or args[2] not in (b"b", "b"):
        return "asked to allocate a non-empty array"
    return None


def _dtype(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str | None:
    if kwargs or not args or not isinstance(args[0], str) or len(args[0]) > 16:
        return "called other than with a short type code"
    if not all(isinstance(a, (bool, int)) for a in args[1:]):
        return "called with flags that are not booleans"
    return None


def _scalar(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str | None:
    import numpy as np

    if kwargs or not args or len(args) > 2 or not isinstance(args[0], np.dtype):
        return "called other than as scalar(dtype, data)"
    return None


def _frombuffer(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str | None:
    import numpy as np

    if kwargs or len(args) != 4 or not isinstance(args[1], np.dtype):
        return "called other than as _frombuffer(buffer, dtype, shape, order)"
    if not isinstance(args[0], (bytes, bytearray, memoryview)) or args[3] not in ("C", "F"):
        return "called with a buffer that is not bytes"
    return None


def _bit_generator(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str | None:
    from numpy.random import _pickle
    from numpy.random.bit_generator import BitGenerator

    if kwargs or len(args) > 2:
        return "called with unexpected arguments"
    name = args[0] if args else "MT19937"
    known = isinstance(name, BitGenerator) or (
        name in _pickle.BitGenerators
        if isinstance(name, str)
        else any(name is g for g in _pickle.BitGenerators.values())
    )
    if not known:
        return "called with an unknown bit generator"
    if len(args) == 2 and args[1] is not _pickle.__bit_generator_ctor:
        return "called with a constructor other than numpy's own"
    return None


def _cython_unpickle(expected: str) -> ArgCheck:
    """Cython's ``__pyx_unpickle_X(cls, checksum, state)``: only for its own class."""

    def check(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str | None:
        if kwargs or len(args) != 3 or not isinstance(args[0], type):
            return "called other than as (class, checksum, state)"
        if f"{args[0].__module__}.{args[0].__qualname__}" != expected:
            return f"called for {args[0].__qualname__}, not {expected}"
        return None

    return check


def _new_obj(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str | None:
    """sklearn's ``newObj(cls)`` (``cls.__new__(cls)``): only for an EMPTY class."""
    if kwargs or len(args) != 1 or not isinstance(args[0], type):
        return "called other than as newObj(class)"
    dotted = f"{args[0].__module__}.{args[0].__qualname__}"
    if ALLOWED.get(dotted) != EMPTY:
        return f"called for {dotted}, which is not a class the allowlist builds"
    return None


def _tree(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str | None:
    """``Tree(n_features, n_classes, n_outputs)``: sizes below :data:`MAX_COUNT`."""
    import numpy as np

    if kwargs or len(args) != 3:
        return "called other than as Tree(n_features, n_classes, n_outputs)"
    n_features, n_classes, n_outputs = args
    sizes = [n_features, n_outputs]
    if not isinstance(n_classes, np.ndarray) or n_classes.size > MAX_COUNT:
        return "called with a class count that is not a small array"
    sizes.extend(int(c) for c in n_classes.ravel())
    if not all(isinstance(s, (int, np.integer)) and 0 <= s <= MAX_COUNT for s in sizes):
        return f"called with a size above {MAX_COUNT}"
    return None


def _reconstructor(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str | None:
    """``copyreg._reconstructor(cls, base, state)`` for an EMPTY class over a plain base."""
    if kwargs or len(args) != 3 or not isinstance(args[0], type):
        return "called other than as _reconstructor(class, base, state)"
    cls, base, state = args
    dotted = f"{cls.__module__}.{cls.__qualname__}"
    if ALLOWED.get(dotted) != EMPTY:
        return f"called for {dotted}, which is not a class the allowlist builds"
    if base not in (object, dict, list, tuple, set, frozenset, str, int, float):
        return "called with a base class that is not a builtin container"
    return None if _is_plain(state) else "called with a state that is not plain data"


def _defaultdict(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str | None:
    if kwargs or len(args) > 1 or (args and args[0] not in (None, list, dict, set, int, float)):
        return "called with a default factory other than a builtin container"
    return None


#: Builtins and stdlib types that rebuild data.
_BUILTINS: dict[str, str | ArgCheck] = {
    "builtins.set": _container_args,
    "builtins.frozenset": _container_args,
    "builtins.dict": _container_args,
    "builtins.list": _container_args,
    "builtins.tuple": _container_args,
    "builtins.bytes": _container_args,
    "builtins.complex": plain_args,
    "builtins.float": _text_args,
    "builtins.int": _text_args,
    "builtins.bool": plain_args,
    "builtins.str": _text_args,
    "builtins.slice": plain_args,
    "builtins.object": EMPTY,
    "_codecs.encode": _codecs_encode,
    "copyreg._reconstructor": _reconstructor,
    "collections.OrderedDict": _container_args,
    "collections.defaultdict": _defaultdict,
    "collections.Counter": _container_args,
    "decimal.Decimal": _text_args,
    "datetime.datetime": plain_args,
    "datetime.date": plain_args,
    "datetime.timedelta": plain_args,
}

_NUMPY: dict[str, str | ArgCheck] = {
    "numpy.ndarray": VALUE,
    "numpy.dtype": _dtype,
    "numpy.float64": VALUE,
    "numpy.float32": VALUE,
    "numpy.int64": VALUE,
    "numpy.int32": VALUE,
    "numpy.core.multiarray._reconstruct": _reconstruct,
    "numpy._core.multiarray._reconstruct": _reconstruct,
    "numpy.core.multiarray.scalar": _scalar,
    "numpy._core.multiarray.scalar": _scalar,
    "numpy.core.numeric._frombuffer": _frombuffer,
    "numpy._core.numeric._frombuffer": _frombuffer,
    "numpy.random._pickle.__randomstate_ctor": _bit_generator,
    "numpy.random._pickle.__generator_ctor": _bit_generator,
    "numpy.random._pickle.__bit_generator_ctor": _bit_generator,
    "numpy.random._mt19937.MT19937": EMPTY,
    "numpy.random._pcg64.PCG64": EMPTY,
    "numpy.random.mtrand.RandomState": EMPTY,
    "numpy.random.bit_generator.SeedSequence": EMPTY,
    "numpy.random.bit_generator.__pyx_unpickle_SeedSequence": _cython_unpickle(
        "numpy.random.bit_generator.SeedSequence"
    ),
    "joblib.numpy_pickle.NumpyArrayWrapper": EMPTY,
}

#: scikit-learn estimators and the helper objects their fitted state holds.
_SKLEARN_CLASSES = (
    "_loss._loss.CyHalfBinomialLoss",
    "_loss._loss.CyHalfMultinomialLoss",
    "_loss._loss.CyHalfSquaredError",
    "_loss.link.IdentityLink",
    "_loss.link.Interval",
    "_loss.link.LogitLink",
    "_loss.link.MultinomialLogit",
    "_loss.loss.HalfBinomialLoss",
    "_loss.loss.HalfMultinomialLoss",
    "_loss.loss.HalfSquaredError",
    "cluster._kmeans.KMeans",
    "compose._column_transformer.ColumnTransformer",
    "decomposition._pca.PCA",
    "dummy.DummyClassifier",
    "dummy.DummyRegressor",
    "ensemble._forest.ExtraTreesClassifier",
    "ensemble._forest.ExtraTreesRegressor",
    "ensemble._forest.RandomForestClassifier",
    "ensemble._forest.RandomForestRegressor",
    "ensemble._gb.GradientBoostingClassifier",
    "ensemble._gb.GradientBoostingRegressor",
    "ensemble._hist_gradient_boosting.binning._BinMapper",
    "ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor",
    "ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "ensemble._iforest.IsolationForest",
    "ensemble._weight_boosting.AdaBoostClassifier",
    "feature_selection._univariate_selection.SelectKBest",
    "impute._base.SimpleImputer",
    "linear_model._base.LinearRegression",
    "linear_model._coordinate_descent.ElasticNet",
    "linear_model._coordinate_descent.Lasso",
    "linear_model._logistic.LogisticRegression",
    "linear_model._ridge.Ridge",
    "linear_model._stochastic_gradient.SGDClassifier",
    "linear_model._stochastic_gradient.SGDRegressor",
    "metrics._dist_metrics.EuclideanDistance64",
    "naive_bayes.GaussianNB",
    "neighbors._classification.KNeighborsClassifier",
    "neighbors._kd_tree.KDTree",
    "neighbors._regression.KNeighborsRegressor",
    "neural_network._multilayer_perceptron.MLPClassifier",
    "neural_network._multilayer_perceptron.MLPRegressor",
    "neural_network._stochastic_optimizers.AdamOptimizer",
    "pipeline.Pipeline",
    "preprocessing._data.MinMaxScaler",
    "preprocessing._data.StandardScaler",
    "preprocessing._encoders.OneHotEncoder",
    "preprocessing._encoders.OrdinalEncoder",
    "preprocessing._label.LabelBinarizer",
    "preprocessing._label.LabelEncoder",
    "svm._classes.SVC",
    "svm._classes.SVR",
    "tree._classes.DecisionTreeClassifier",
    "tree._classes.DecisionTreeRegressor",
    "tree._classes.ExtraTreeClassifier",
    "tree._classes.ExtraTreeRegressor",
    # what a fitted VotingClassifier/VotingRegressor holds (keel.automl's ensembles)
    "utils._bunch.Bunch",
)

#: SGD loss objects, rebuilt from their numeric parameters (``Hinge(1.0)``).
_SGD_LOSSES = (
    "Hinge", "SquaredHinge", "ModifiedHuber", "Log", "SquaredLoss", "Huber",
    "EpsilonInsensitive", "SquaredEpsilonInsensitive",
)  # fmt: skip

_SKLEARN: dict[str, str | ArgCheck] = {
    **{f"sklearn.{name}": EMPTY for name in _SKLEARN_CLASSES},
    "sklearn.tree._tree.Tree": _tree,
    **{f"sklearn.linear_model._sgd_fast.{loss}": plain_args for loss in _SGD_LOSSES},
    "sklearn.metrics._dist_metrics.newObj": _new_obj,
    "sklearn.neighbors._kd_tree.newObj": _new_obj,
    "sklearn.feature_selection._univariate_selection.f_classif": VALUE,
    "sklearn.feature_selection._univariate_selection.f_regression": VALUE,
}

#: keel's own estimators that AutoML puts inside the Pipelines it packages: plain state, and
#: the boosters' bytes are LightGBM text / XGBoost UBJSON checked like those flavors' files.
_KEEL: dict[str, str | ArgCheck] = {
    "keel.tuning._automl_prep.DateParts": EMPTY,
    "keel.models._native_boost.NativeBoosterClassifier": EMPTY,
    "keel.models._native_boost.NativeBoosterRegressor": EMPTY,
}

#: The whole allowlist: exact dotted name -> VALUE, EMPTY or a call check.
ALLOWED: dict[str, str | ArgCheck] = {**_BUILTINS, **_NUMPY, **_SKLEARN, **_KEEL}

#: Modules no pickle may touch, whatever the caller trusts.
DENIED_MODULES: frozenset[str] = frozenset(
    {
        "os", "posix", "nt", "subprocess", "sys", "shutil", "socket", "pty", "importlib",
        "runpy", "pip", "code", "codeop", "pickle", "_pickle", "marshal", "ctypes", "types",
        "operator", "functools", "webbrowser", "urllib", "http", "requests", "asyncio",
        "multiprocessing", "signal", "tempfile", "pathlib", "io", "_io", "glob", "inspect",
        "pydoc", "timeit", "trace", "cProfile", "profile", "pdb", "bdb", "threading",
        "_thread", "commands", "popen2", "platform", "setuptools", "distutils", "site",
        "zipimport", "torch", "numpy.testing", "numpy.f2py", "numpy.distutils", "numpy.lib",
        "numpy.load", "joblib.numpy_pickle_compat", "pandas.core.computation", "pandas.io",
        "scipy.io", "builtins.bytearray", "dill", "cloudpickle", "yaml", "jinja2",
    }
)  # fmt: skip

#: Names no pickle may import from any module.
DENIED_NAMES: frozenset[str] = frozenset(
    {
        "eval", "exec", "execfile", "compile", "open", "getattr", "setattr", "delattr",
        "__import__", "globals", "locals", "vars", "breakpoint", "input", "system", "popen",
        "spawn", "load", "loads", "apply", "main", "run_module", "run_path",
        "import_module", "attrgetter", "methodcaller", "itemgetter", "partial",
        "bytearray", "memmap", "fromfile", "read_pickle", "query",
    }
)  # fmt: skip


def rule_of(module: str, name: str, trusted: frozenset[str] = frozenset()) -> str | ArgCheck:
    """The call rule of ``module.name``; raises LookupError with the reason it is refused."""
    dotted = f"{module}.{name}"
    reason = _denied(module, name)
    if reason is not None:
        raise LookupError(reason)
    rule = ALLOWED.get(dotted)
    if rule is not None:
        return rule
    if dotted in trusted:
        return plain_args
    raise LookupError("not on keel's allowlist")


def _denied(module: str, name: str) -> str | None:
    parts = module.split(".")
    for i in range(1, len(parts) + 1):
        if ".".join(parts[:i]) in DENIED_MODULES:
            return f"module {'.'.join(parts[:i])!r} is never allowed"
    if f"{module}.{name}" in DENIED_MODULES:
        return f"{module}.{name} is never allowed"
    if any(p in DENIED_NAMES for p in name.split(".")):
        return f"{name!r} is never allowed"
    dunder = any(p.startswith("__") for p in name.split("."))
    if dunder and f"{module}.{name}" not in ALLOWED:
        return "dunder attributes are never allowed"
    return None


def global_verdict(module: str, name: str, trusted: frozenset[str] = frozenset()) -> str | None:
    """``None`` if a pickle or skops file may import ``module.name``; otherwise why not."""
    try:
        rule_of(module, name, trusted)
    except LookupError as exc:
        return str(exc)
    return None


__all__ = [
    "ALLOWED",
    "DENIED_MODULES",
    "DENIED_NAMES",
    "EMPTY",
    "VALUE",
    "global_verdict",
    "plain_args",
    "rule_of",
]

"""The exact allowlist: what the flavors save still loads; nothing else is matched by pattern."""

from __future__ import annotations

import pickle
from pathlib import Path

import joblib
import numpy as np
import pytest
import skops.io as sio
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    GradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
)
from sklearn.linear_model import LinearRegression, LogisticRegression, SGDClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import SVR
from sklearn.tree import DecisionTreeClassifier

from keel.exceptions import UnsafeModelError
from keel.models import global_verdict, load_pickle_file
from keel.models._allowlist import ALLOWED, EMPTY
from keel.models._flavor_sklearn import _acceptable

_X = np.random.default_rng(0).random((60, 4))
_Y = (_X[:, 0] > 0.5).astype(int)


def _models() -> list[tuple[object, np.ndarray]]:
    frame_model = make_pipeline(
        ColumnTransformer([("n", StandardScaler(), [0, 1]), ("c", OneHotEncoder(), [2])]),
        LogisticRegression(),
    )
    cat = np.column_stack([_X[:, :2], (_X[:, 2] > 0.5).astype(int)])
    plain: list[object] = [
        make_pipeline(StandardScaler(), LogisticRegression()).fit(_X, _Y),
        RandomForestClassifier(n_estimators=3, random_state=0).fit(_X, _Y),
        GradientBoostingClassifier(n_estimators=3).fit(_X, _Y),
        HistGradientBoostingRegressor(max_iter=3).fit(_X, _X[:, 1]),
        DecisionTreeClassifier().fit(_X, _Y),
        KNeighborsClassifier().fit(_X, _Y),
        MLPClassifier(max_iter=5).fit(_X, _Y),
        SGDClassifier().fit(_X, _Y),
        SVR().fit(_X, _X[:, 1]),
        LinearRegression().fit(_X, _X[:, 1]),
    ]
    return [(m, _X) for m in plain] + [(frame_model.fit(cat, _Y), cat)]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_every_model_the_flavors_save_still_loads(tmp_path: Path) -> None:
    for model, x in _models():
        name = type(model).__name__
        for i, protocol in enumerate((0, 2, 4, 5)):
            path = tmp_path / f"{name}-{i}.pkl"
            path.write_bytes(pickle.dumps(model, protocol=protocol))
            loaded = load_pickle_file(path, trust=True)
            assert type(loaded) is type(model), (name, protocol)
        for compress in (0, 3):
            path = tmp_path / f"{name}-{compress}.joblib"
            joblib.dump(model, path, compress=compress)
            loaded = load_pickle_file(path, trust=True)
            assert (loaded.predict(x) == model.predict(x)).all(), name
        untrusted = sio.get_untrusted_types(data=sio.dumps(model))
        assert all(_acceptable(t, frozenset()) for t in untrusted), (name, untrusted)


@pytest.mark.parametrize(
    "dotted",
    [
        "sklearn.ensemble._forest.SomeNewForest",  # a CamelCase class under an allowed package
        "pandas.core.computation.expr.Expr",  # evaluates an expression string
        "pandas.core.frame.DataFrame",
        "joblib.numpy_pickle_compat.NDArrayWrapper",  # np.load(allow_pickle=True) on a path
        "builtins.bytearray",  # bytearray(8 << 30)
        "numpy.load",
        "scipy.sparse._csr.csr_matrix",
        "xgboost.core.Booster",  # unpickling it runs the library's model parser
        "lightgbm.basic.Booster",
        "torch._utils._rebuild_tensor_v2",
    ],
)
def test_names_outside_the_exact_list_are_refused(dotted: str) -> None:
    module, _, name = dotted.rpartition(".")
    assert global_verdict(module, name) is not None


def test_the_list_is_exact_names_only() -> None:
    for dotted in ALLOWED:
        module, _, name = dotted.rpartition(".")
        assert module and name and "*" not in dotted
        assert global_verdict(module, name) is None, dotted


def test_an_allowed_class_called_with_arguments_is_refused(tmp_path: Path) -> None:
    """A class the list builds empty cannot be called with attacker-chosen arguments."""
    data = (
        b"\x80\x04\x8c\x1esklearn.linear_model._logistic\x8c\x12LogisticRegression\x93"
        b"\x8c\x03abc\x85R."
    )
    path = tmp_path / "m.pkl"
    path.write_bytes(data)
    with pytest.raises(UnsafeModelError, match="with arguments"):
        load_pickle_file(path, trust=True)


def test_numpy_reconstruct_cannot_allocate(tmp_path: Path) -> None:
    """_reconstruct(ndarray, (1 << 40,), b'b') would ask for a terabyte."""
    shape = pickle.dumps((1 << 40,), protocol=2)[2:-1]
    data = (
        b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n" + shape + b"C\x01b\x87R."
    )
    result_path = tmp_path / "a.pkl"
    result_path.write_bytes(data)
    with pytest.raises(UnsafeModelError, match="non-empty array"):
        load_pickle_file(result_path, trust=True)


def test_every_entry_has_a_call_shape() -> None:
    assert all(rule in (EMPTY, "value") or callable(rule) for rule in ALLOWED.values())


def test_copying_containers_over_and_over_is_a_memory_bomb() -> None:
    """list(x) of one memoised 1 MB list, 40 times: a few bytes each, a megabyte each."""
    from keel.models import scan_bytes

    body = b"\x80\x04(]\x94(" + b"K\x01" * 200_000 + b"e"
    body += b"\x8c\x08builtins\x8c\x04list\x93\x94"
    body += b"h\x01h\x00\x85R0" * 2000 + b"t."
    result = scan_bytes(body)
    assert not result.safe and "memory bomb" in result.findings[0].issue

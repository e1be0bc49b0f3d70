"""Packages: flavors, signatures, train/serve parity, the ONNX twin, the archive form."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from keel.exceptions import ModelInputError
from keel.models import MANIFEST_FILE, load, save
from keel.models._archive import pack, unpack


def _mixed_frame(n: int = 300) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, n).astype("int64"),
            "income": rng.normal(50_000, 15_000, n),
            "plan": rng.choice(["basic", "pro", "team"], n),
        }
    )
    y = ((frame["income"] > 50_000) ^ (frame["plan"] == "pro")).astype(int).to_numpy()
    return frame, y


def test_preprocessing_travels_inside_and_predictions_match_training(tmp_path: Path) -> None:
    X, y = _mixed_frame()
    model = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [
                        ("num", StandardScaler(), ["age", "income"]),
                        ("cat", OneHotEncoder(handle_unknown="ignore"), ["plan"]),
                    ]
                ),
            ),
            ("clf", LogisticRegression(max_iter=500)),
        ]
    ).fit(X, y)
    manifest = save(model, tmp_path / "pkg", input_example=X.head(50), onnx=False)
    assert manifest.flavor == "sklearn" and manifest.task == "classification"
    served = load(tmp_path / "pkg", trust="off")
    np.testing.assert_array_equal(served.predict(X), model.predict(X))
    np.testing.assert_allclose(served.predict_proba(X), model.predict_proba(X))
    kinds = {c.name: c.kind for c in manifest.signature.inputs}
    assert kinds == {"age": "int", "income": "float", "plan": "string"}


def test_signature_errors_name_the_column(tmp_path: Path) -> None:
    X, y = _mixed_frame(100)
    model = make_pipeline(
        ColumnTransformer([("n", "passthrough", ["age", "income"])]), RandomForestClassifier(5)
    ).fit(X, y)
    save(model, tmp_path / "pkg", input_example=X.head(10), onnx=False)
    served = load(tmp_path / "pkg", trust="off")
    with pytest.raises(ModelInputError, match="missing column 'income'"):
        served.predict(X.drop(columns=["income"]))
    with pytest.raises(ModelInputError, match="column 'surprise'"):
        served.predict(X.assign(surprise=1))
    with pytest.raises(ModelInputError, match="column 'age' should hold int"):
        served.predict(X.assign(age=X["age"] + 0.5))
    with pytest.raises(ModelInputError, match=r"column 'income' should hold float.*string"):
        served.predict(X.assign(income="lots"))
    # Documented safe coercion: integers where floats are expected; column order is free.
    as_int = X.assign(income=X["income"].round().astype("int64"))[["plan", "income", "age"]]
    assert served.predict(as_int).shape == (len(X),)
    assert served.predict({"age": 30, "income": 1000.0, "plan": "pro"}).shape == (1,)


def test_onnx_twin_is_recorded_and_served_when_parity_holds(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.random((200, 6)), columns=[f"f{i}" for i in range(6)])
    y = (X["f0"] + X["f1"] > 1).astype(int)
    model = RandomForestClassifier(n_estimators=30, max_depth=5, random_state=0).fit(X, y)
    manifest = save(model, tmp_path / "pkg", input_example=X, onnx=True)
    parity = manifest.flavors["onnx"]["parity"]
    assert parity["ok"] and parity["max_abs_diff"] < 1e-4 and parity["rows"] == 200
    assert manifest.serve_flavor == "onnx"
    served = load(tmp_path / "pkg", trust="off")
    assert served.flavor == "onnx" and served.runtime == "onnx"
    np.testing.assert_array_equal(served.predict(X), model.predict(X))
    native = load(tmp_path / "pkg", trust="off", flavor="sklearn")
    assert native.flavor == "sklearn"
    np.testing.assert_array_equal(native.predict(X), model.predict(X))


def test_onnx_twin_not_served_when_parity_fails(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    X = pd.DataFrame(rng.random((100, 3)) * 1e6, columns=["a", "b", "c"])
    y = X["a"] * 3.3 + X["b"]
    model = RandomForestRegressor(n_estimators=5, random_state=0).fit(X, y)
    manifest = save(model, tmp_path / "pkg", input_example=X, onnx=True, parity_tolerance=1e-12)
    assert manifest.flavors["onnx"]["parity"]["ok"] is False
    assert manifest.serve_flavor == "sklearn"
    assert load(tmp_path / "pkg", trust="off").flavor == "sklearn"


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_boosting_libraries_native_and_onnx(
    tmp_path: Path, library: str, cancer: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, y = cancer
    if library == "xgboost":
        import xgboost as xgb

        model = xgb.XGBClassifier(n_estimators=20, max_depth=3).fit(X, y)
        native_file = "model.ubj"
    else:
        import lightgbm as lgb

        model = lgb.LGBMClassifier(n_estimators=20, verbose=-1).fit(X, y)
        native_file = "model.txt"
    manifest = save(model, tmp_path / "pkg", input_example=X.head(100), onnx=True)
    assert manifest.flavor == library and native_file in manifest.files
    assert manifest.flavors["onnx"]["parity"]["ok"], manifest.flavors["onnx"]["parity"]
    for flavor in (library, "onnx"):
        served = load(tmp_path / "pkg", trust="off", flavor=flavor)
        np.testing.assert_array_equal(served.predict(X), model.predict(X))
        np.testing.assert_allclose(served.predict_proba(X), model.predict_proba(X), atol=1e-5)


def test_python_flavor_ships_code_and_artifacts(tmp_path: Path) -> None:
    code = tmp_path / "src" / "threshold_model.py"
    code.parent.mkdir()
    code.write_text(
        "from keel.models import PythonModel\n"
        "class Threshold(PythonModel):\n"
        "    def load_context(self, artifacts):\n"
        "        self.cut = float(artifacts['cut'].read_text())\n"
        "    def predict(self, frame):\n"
        "        return (frame['x'] > self.cut).astype(int).to_numpy()\n"
    )
    (tmp_path / "cut.txt").write_text("0.5")
    sys.path.insert(0, str(code.parent))
    try:
        import threshold_model

        model = threshold_model.Threshold()
        model.load_context({"cut": tmp_path / "cut.txt"})
        X = pd.DataFrame({"x": [0.1, 0.7, 0.9]})
        manifest = save(
            model, tmp_path / "pkg", input_example=X, artifacts={"cut": tmp_path / "cut.txt"}
        )
    finally:
        sys.path.remove(str(code.parent))
        sys.modules.pop("threshold_model", None)
    assert manifest.flavor == "python"
    assert {"code/threshold_model.py", "artifacts/cut"} <= set(manifest.files)
    served = load(tmp_path / "pkg", trust="off")
    assert served.predict(pd.DataFrame({"x": [0.2, 0.8]})).tolist() == [0, 1]


def test_archive_round_trip_is_deterministic_and_loadable(
    tmp_path: Path, pipeline: Pipeline, cancer: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, _ = cancer
    save(pipeline, tmp_path / "pkg", input_example=X.head(5), onnx=False)
    a = pack(tmp_path / "pkg", tmp_path / "a.tar").read_bytes()
    b = pack(tmp_path / "pkg", tmp_path / "b.tar").read_bytes()
    assert a == b
    served = load(tmp_path / "a.tar", trust="off")
    np.testing.assert_array_equal(served.predict(X), pipeline.predict(X))
    unpack(tmp_path / "a.tar", tmp_path / "unpacked")
    assert (tmp_path / "unpacked" / MANIFEST_FILE).exists()


def test_manifest_records_frameworks_requirements_and_signature(
    tmp_path: Path, pipeline: Pipeline, cancer: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, _ = cancer
    save(pipeline, tmp_path / "pkg", input_example=X.head(5), metrics={"auc": 0.99}, onnx=False)
    doc = yaml.safe_load((tmp_path / "pkg" / MANIFEST_FILE).read_text())
    assert doc["frameworks"]["scikit-learn"]
    assert any(r.startswith("scikit-learn==") for r in doc["requirements"])
    assert doc["signature"]["inputs"][0] == {
        "name": "mean_radius",
        "type": "double",
        "kind": "float",
    }
    assert doc["signature"]["outputs"][0]["name"] == "prediction"
    assert doc["metrics"] == {"auc": 0.99}
    assert all(len(f["sha256"]) == 64 for f in doc["files"].values())


def test_saving_into_a_non_empty_folder_is_refused(
    tmp_path: Path, pipeline: Pipeline, cancer: tuple[pd.DataFrame, pd.Series]
) -> None:
    from keel.exceptions import AlreadyExistsError

    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "x").write_text("x")
    with pytest.raises(AlreadyExistsError, match="not empty"):
        save(pipeline, tmp_path / "pkg", input_example=cancer[0].head(2))

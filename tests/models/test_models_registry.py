"""The registry on SQLite and PostgreSQL: versions, aliases, search, cards, history, import."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline

import keel
from keel.exceptions import (
    AlreadyExistsError,
    ConflictError,
    FilterSyntaxError,
    InvalidArgumentError,
    NotFoundError,
)
from keel.models import Keyring, Registry, load, log_model, resolve_version, save
from keel.store import DatasetFile, Store


@pytest.fixture
def tracked(store: Store) -> Iterator[Store]:
    """The default tracking client pointed at the store under test."""
    keel.init(settings=store.settings)
    yield store
    keel.end_run()


def _dataset_version(store: Store, name: str) -> int:
    project = store.projects.get_or_create("default")
    ds = store.datasets.get_or_create(project.id, name)
    version, _ = store.datasets.add_version(
        ds,
        content_hash="c" * 64,
        kind="table",
        source={},
        schema=[],
        profile={},
        num_rows=3,
        files=[DatasetFile("part-0.parquet", "d" * 64, 10)],
    )
    return version.id


def _log(
    store: Store, model: Any, X: pd.DataFrame, auc: float, name: str = "cancer", **kw: Any
) -> keel.models.ModelInfo:
    with keel.start_run(experiment="registry", capture_env=False) as run:
        run.log_params({"C": 1.0})
        run.log_metric("auc", auc)
        run.log_input(_dataset_version(store, "customers"))
        keyring = Keyring(store.settings.home / "keys")
        if not keyring.has_signing_key():
            keyring.generate("ci")
        return log_model(
            model, "model", input_example=X.head(10), registered_model_name=name, onnx=False, **kw
        )


def test_reading_a_missing_projects_registry_fails_and_creates_nothing(store: Store) -> None:
    """A misspelt project on a read (the SDK, ``keel predict``, ``keel serve``) is an error
    naming it, not a new empty project; the constructor looks nothing up."""
    registry = Registry(store, "typo")
    reads = [
        registry.list_models,
        lambda: registry.resolve("churn@champion"),
        lambda: registry.promote("churn@1", "champion"),
        lambda: load("models:/churn@champion", store=store, project="typo"),
        lambda: resolve_version("churn", store=store, project="typo"),
    ]
    for read in reads:
        with pytest.raises(NotFoundError, match="project 'typo' does not exist"):
            read()
    assert "typo" not in [p.name for p in store.projects.list()]


def test_log_model_records_lineage_and_numbers_versions(
    tracked: Store, pipeline: Pipeline, cancer: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, _ = cancer
    first = _log(tracked, pipeline, X, 0.91)
    second = _log(tracked, pipeline, X, 0.97, semver="1.1.0")
    assert first.version is not None and second.version is not None
    assert (first.version.version, second.version.version) == (1, 2)
    assert second.version.semver == "1.1.0"
    v = second.version
    assert v.metrics == {"auc": 0.97} and v.datasets == ["customers@1"]
    assert v.lineage["params"] == {"C": "1.0"} and v.lineage["run_id"] == second.run_id
    assert v.signer is not None and v.source == "logged"
    with pytest.raises(AlreadyExistsError, match=r"1\.1\.0"):
        _log(tracked, pipeline, X, 0.5, semver="1.1.0")
    # runs:/ and models:/ URIs load the same package, verified.
    a = load(second.uri, store=tracked, trust="strict").predict(X)
    b = load("models:/cancer/2", store=tracked, trust="strict").predict(X)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, pipeline.predict(X))


def test_aliases_and_promotion_errors(
    tracked: Store, pipeline: Pipeline, cancer: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, _ = cancer
    _log(tracked, pipeline, X, 0.9)
    _log(tracked, pipeline, X, 0.95)
    _log(tracked, pipeline, X, 0.8, name="fraud")
    registry = Registry(tracked)
    registry.promote("cancer@2", "champion")
    assert registry.resolve("cancer@champion").version == 2
    assert resolve_version("models:/cancer@champion", store=tracked) == 2
    assert registry.resolve("cancer").version == 2  # latest
    registry.promote("cancer@1", "champion")  # an alias moves
    assert registry.get_model("cancer").aliases == {"champion": 1}
    with pytest.raises(NotFoundError, match="has no version 9; it has versions 1-2"):
        registry.promote("cancer@9", "champion")
    with pytest.raises(ConflictError, match="version 1 is a version of 'fraud'"):
        registry.promote("fraud@1", "champion", model="cancer")
    with pytest.raises(InvalidArgumentError, match="alias 'latest' is not valid"):
        registry.promote("cancer@1", "latest")
    with pytest.raises(NotFoundError, match="no alias 'prod'"):
        registry.resolve("cancer@prod")
    with pytest.raises(NotFoundError, match="registered model 'nope' does not exist"):
        registry.resolve("nope@1")


def test_search_by_name_tag_framework_dataset_and_metric(
    tracked: Store, pipeline: Pipeline, cancer: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, y = cancer
    _log(tracked, pipeline, X, 0.85, tags={"team": "risk"})
    _log(tracked, pipeline, X, 0.96, tags={"team": "growth"})
    rf = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y)
    _log(tracked, rf, X, 0.93, name="forest")
    registry = Registry(tracked)

    def refs(*args: object, **kw: object) -> list[str]:
        return sorted(v.ref for v in registry.search(*args, **kw))  # type: ignore[arg-type]

    assert refs(min_metrics={"auc": 0.9}) == ["cancer@2", "forest@1"]
    assert refs(task="classification", min_metrics={"auc": 0.9}, name="forest") == ["forest@1"]
    assert refs(tags={"team": "risk"}) == ["cancer@1"]
    assert refs(framework="sklearn", dataset="customers@1") == ["cancer@1", "cancer@2", "forest@1"]
    assert refs(dataset="other") == []
    assert refs("metrics.auc > 0.9 and params.C = '1.0'") == ["cancer@2", "forest@1"]
    assert refs("version >= 2 or name = 'forest'") == ["cancer@2", "forest@1"]
    assert refs("tags.team is null") == ["forest@1"]
    assert refs("semver is null and metrics.auc is not null") == [
        "cancer@1",
        "cancer@2",
        "forest@1",
    ]
    with pytest.raises(FilterSyntaxError, match="ends early; expected a value"):
        registry.search("metrics.auc >")
    with pytest.raises(FilterSyntaxError, match="unknown model version attribute"):
        registry.search("attributes.colour = 'red'")


def test_model_card_history_chart_and_download(
    tracked: Store, pipeline: Pipeline, cancer: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    from keel.models._history import chart, history

    X, _ = cancer
    for auc in (0.8, 0.9, 0.95):
        _log(tracked, pipeline, X, auc)
    registry = Registry(tracked)
    registry.promote("cancer@3", "champion")
    card = {"intended_use": "triage", "limitations": "one hospital"}
    assert registry.set_card("cancer@3", card, description="best so far").card == card
    assert registry.describe("cancer", "triage model").description == "triage model"
    registry.set_model_tags("cancer", {"owner": "ml-team"})
    assert len(registry.search(tags={"owner": "ml-team"})) == 3  # model tags match every version
    registry.set_tags("cancer@2", {"reviewed": "yes"})
    assert [v.version for v in registry.search(tags={"reviewed": "yes"})] == [2]
    keys, rows = history(registry, "cancer", ["auc"])
    assert keys == ["auc"] and [r.metrics["auc"] for r in rows] == [0.8, 0.9, 0.95]
    assert rows[2].aliases == ["champion"]
    png = chart("cancer", keys, rows, tmp_path / "h.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(InvalidArgumentError, match="no version of 'cancer' has metric 'f1'"):
        history(registry, "cancer", ["f1"])
    archive = registry.download("cancer@champion", tmp_path, archive=True)
    assert archive.name == "cancer-3.keel.tar"
    assert load(archive, store=tracked, trust="strict").predict(X.head(3)).shape == (3,)
    folder = registry.download("cancer@1", tmp_path / "v1")
    assert (folder / "keel-model.yaml").exists()


def test_cached_package_changed_on_disk_is_caught(
    tracked: Store, pipeline: Pipeline, cancer: tuple[pd.DataFrame, pd.Series]
) -> None:
    from keel.exceptions import TamperedModelError

    X, _ = cancer
    _log(tracked, pipeline, X, 0.9)
    registry = Registry(tracked)
    folder = registry.fetch(registry.resolve("cancer@1"))
    path = folder / "model.skops"
    data = bytearray(path.read_bytes())
    data[100] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(TamperedModelError, match=r"model\.skops"):
        registry.load("cancer@1")


@pytest.mark.parametrize("fmt", ["onnx", "skops", "xgboost", "lightgbm", "joblib"])
def test_import_model_files_with_a_card(
    sqlite_store: Store, cancer: tuple[pd.DataFrame, pd.Series], tmp_path: Path, fmt: str
) -> None:
    from keel.models._import import import_model

    X, y = cancer
    Xf = X.astype("float32").astype("float64")
    path, expected = _model_file(fmt, Xf, y, tmp_path)
    registry = Registry(sqlite_store)
    card = {"intended_use": "screening demo", "data": "breast cancer", "limitations": "demo"}
    kw = {"trust_pickle": True} if fmt == "joblib" else {}
    example = Xf.head(20) if fmt == "onnx" else None
    v = import_model(
        registry, path, f"imported-{fmt}", card=card, metrics={"auc": 0.97},
        task="classification", input_example=example, **kw,  # type: ignore[arg-type]
    )  # fmt: skip
    assert v.source == "imported" and v.card["intended_use"] == "screening demo"
    assert v.metrics == {"auc": 0.97} and v.task == "classification"
    found = registry.search(task="classification", min_metrics={"auc": 0.9})
    assert [f.ref for f in found] == [v.ref]
    served = registry.load(v.ref)
    frame = Xf if fmt != "onnx" else Xf.set_axis(list(Xf.columns), axis=1)
    np.testing.assert_array_equal(np.asarray(served.predict(frame)).ravel(), expected)


def _model_file(fmt: str, X: pd.DataFrame, y: pd.Series, tmp_path: Path) -> tuple[Path, Any]:
    if fmt in ("onnx", "skops", "joblib"):
        model = RandomForestClassifier(n_estimators=10, random_state=0).fit(X, y)
        expected = model.predict(X)
        if fmt == "skops":
            import skops.io as sio

            sio.dump(model, tmp_path / "m.skops")
            return tmp_path / "m.skops", expected
        if fmt == "joblib":
            import joblib

            joblib.dump(model, tmp_path / "m.joblib")
            return tmp_path / "m.joblib", expected
        from keel.models._onnx_export import to_onnx

        (tmp_path / "m.onnx").write_bytes(to_onnx(model, "sklearn", X))
        return tmp_path / "m.onnx", expected
    if fmt == "xgboost":
        import xgboost as xgb

        xm = xgb.XGBClassifier(n_estimators=10, max_depth=3).fit(X, y)
        xm.save_model(tmp_path / "m.ubj")
        return tmp_path / "m.ubj", xm.predict(X)
    import lightgbm as lgb

    lm = lgb.LGBMClassifier(n_estimators=10, verbose=-1).fit(X, y)
    lm.booster_.save_model(str(tmp_path / "m.txt"))
    return tmp_path / "m.txt", lm.predict(X)


def test_import_refuses_a_pickle_without_trust(sqlite_store: Store, tmp_path: Path) -> None:
    import pickle

    from keel.exceptions import UnsafeModelError
    from keel.models._import import import_model

    (tmp_path / "m.pkl").write_bytes(pickle.dumps({"not": "a model"}))
    with pytest.raises(UnsafeModelError, match="explicit trust"):
        import_model(Registry(sqlite_store), tmp_path / "m.pkl", "x")


def test_registered_package_blob_is_referenced_for_gc(
    tracked: Store, pipeline: Pipeline, cancer: tuple[pd.DataFrame, pd.Series]
) -> None:
    from keel.store.gc import referenced_blobs

    info = _log(tracked, pipeline, cancer[0], 0.9)
    assert info.version is not None
    assert info.version.blob_sha in referenced_blobs(tracked.db)


def test_save_without_example_is_a_clear_error(tmp_path: Path, pipeline: Pipeline) -> None:
    from keel.exceptions import ConfigError

    with pytest.raises(ConfigError, match="input_example is required"):
        save(pipeline, tmp_path / "p", input_example=None)

"""Batch prediction: files, folders, SQL and datasets, streamed at constant memory, with lineage."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from serving_helpers import FEATURES, Proba, keel_env

from keel.config import Settings
from keel.exceptions import InvalidArgumentError, NotFoundError
from keel.serving import LoadedModel
from keel.serving._batch import open_input, predict_batch, read_lineage, record_run
from keel.serving._schema import InputSchema


@pytest.fixture
def model(fitted: Any, frame: pd.DataFrame) -> LoadedModel:
    return LoadedModel("churn", "1", Proba(fitted), InputSchema.from_frame(frame.head()))


def big_frame(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(rng.normal(size=(n, 20)), columns=FEATURES)
    df["customer"] = np.arange(n)
    return df


def test_parquet_in_chunks_matches_direct_predict(
    model: LoadedModel, fitted: Any, tmp_path: Path
) -> None:
    df = big_frame(50_000)
    df.to_parquet(tmp_path / "in.parquet", row_group_size=10_000)
    seen: list[int] = []
    source = open_input(str(tmp_path / "in.parquet"))
    assert source.total_rows == 50_000
    result = predict_batch(
        model,
        source,
        tmp_path / "out.parquet",
        chunk_rows=8192,
        keep_columns=["customer"],
        progress=seen.append,
    )
    assert result.rows == 50_000 and sum(seen) == 50_000 and result.chunks >= 6
    out = pq.read_table(tmp_path / "out.parquet").to_pandas()
    assert list(out.columns) == ["customer", "prediction"]
    assert out.customer.tolist() == df.customer.tolist()
    np.testing.assert_allclose(out.prediction, Proba(fitted).predict(df[FEATURES]))
    lineage = read_lineage(tmp_path / "out.parquet")
    assert lineage["model"] == "churn" and lineage["version"] == "1"
    assert lineage["input"]["kind"] == "parquet" and lineage["input"]["files"] == 1


def test_memory_stays_flat_whatever_the_input_size(model: LoadedModel, tmp_path: Path) -> None:
    pool = pa.default_memory_pool()

    def peak_for(rows: int) -> int:
        path = tmp_path / f"in-{rows}.parquet"
        big_frame(rows).to_parquet(path, row_group_size=5_000)
        base = pool.bytes_allocated()
        peak = [0]

        def sample(_n: int) -> None:
            peak[0] = max(peak[0], pool.bytes_allocated() - base)

        predict_batch(
            model,
            open_input(str(path)),
            tmp_path / "out.parquet",
            chunk_rows=5_000,
            progress=sample,
        )
        return peak[0]

    chunk_bytes = 5_000 * 21 * 8
    small, large = peak_for(50_000), peak_for(400_000)  # 8 MB and 67 MB of input
    assert small < 16 * chunk_bytes and large < 16 * chunk_bytes, (small, large, chunk_bytes)


def test_csv_folder_and_sql_inputs(model: LoadedModel, tmp_path: Path) -> None:
    df = big_frame(3_000)
    folder = tmp_path / "csv"
    folder.mkdir()
    for i in range(3):
        df.iloc[i * 1000 : (i + 1) * 1000].to_csv(folder / f"part-{i}.csv", index=False)
    result = predict_batch(model, open_input(str(folder)), tmp_path / "a.parquet", chunk_rows=700)
    assert result.rows == 3_000
    db = tmp_path / "data.db"
    with sqlite3.connect(db) as conn:
        df.to_sql("customers", conn, index=False)
    sql = open_input(f"sqlite:///{db}", query="SELECT * FROM customers WHERE customer < 1234")
    result = predict_batch(
        model, sql, tmp_path / "b.parquet", chunk_rows=500, keep_columns=["customer"]
    )
    assert result.rows == 1234
    assert read_lineage(tmp_path / "b.parquet")["input"]["query"].startswith("SELECT")
    with pytest.raises(InvalidArgumentError, match="give the rows to score with --query"):
        open_input(f"sqlite:///{db}")
    with pytest.raises(InvalidArgumentError, match="does not exist"):
        open_input(str(tmp_path / "nope.parquet"))


def test_missing_column_names_it(model: LoadedModel, tmp_path: Path) -> None:
    big_frame(10).drop(columns=["f7"]).to_parquet(tmp_path / "in.parquet")
    with pytest.raises(InvalidArgumentError, match=r"no column\(s\) \['f7'\]"):
        predict_batch(model, open_input(str(tmp_path / "in.parquet")), tmp_path / "out.parquet")
    assert not (tmp_path / "out.parquet").exists()


def test_dataset_input_records_lineage(
    model: LoadedModel, settings: Settings, tmp_path: Path
) -> None:
    from keel.data import DatasetClient
    from keel.store import open_store

    store = open_store(settings)
    path = tmp_path / "customers.parquet"
    big_frame(2_000).to_parquet(path)
    version = DatasetClient(store, store.projects.get_or_create("default")).log(
        "customers", str(path)
    )
    source = open_input("dataset:customers@1", store=store)
    result = predict_batch(model, source, tmp_path / "out.parquet")
    run_id = record_run(
        store, "default", result, source.describe, source.dataset_version_id, "churn@champion"
    )
    run = store.runs.get(run_id)
    assert run.params["model_version"] == "1" and run.metrics["rows"] == 2000.0
    assert run.tags["keel.kind"] == "batch-prediction"
    assert any(r[0] == run_id for r in store.datasets.runs_of(version.id))
    with pytest.raises(NotFoundError, match="project 'typo' does not exist"):
        open_input("dataset:customers@1", store=store, project="typo")
    assert "typo" not in [p.name for p in store.projects.list()]  # a read made nothing
    store.close()


def test_keel_predict_cli(settings: Settings, registered: str, tmp_path: Path) -> None:
    big_frame(5_000).to_parquet(tmp_path / "in.parquet")
    out = tmp_path / "preds.parquet"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "keel.cli",
            "predict",
            registered,
            "--input",
            str(tmp_path / "in.parquet"),
            "--output",
            str(out),
            "--keep",
            "customer",
            "--json",
        ],
        env=keel_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["rows"] == 5_000 and report["lineage"]["version"] == "1"
    table = pq.read_table(out)
    assert table.num_rows == 5_000 and set(table.column_names) == {"customer", "prediction"}
    assert set(table.column("prediction").to_pylist()) <= {0, 1}  # the model's class labels


def test_dask_runner_records_lineage_and_checks_like_serving(
    settings: Settings, registered: str, tmp_path: Path
) -> None:
    """The Dask path goes through the same use case: lineage run, signature check."""
    from keel.exceptions import ModelInputError
    from keel.serving import prepare_batch
    from keel.store import open_store

    frame = big_frame(300)
    frame.to_parquet(tmp_path / "in.parquet")
    store = open_store(settings)
    try:
        job = prepare_batch(
            store, "default", registered, str(tmp_path / "in.parquet"), runner="dask"
        )
        result = job.run(tmp_path / "out", keep_columns=["customer"])
        assert result.rows == 300 and result.run_id is not None
        run = store.runs.get(result.run_id)
        assert run.params["model_ref"] == registered and run.tags["keel.kind"] == "batch-prediction"
        frame.loc[7, "f2"] = None
        frame.to_parquet(tmp_path / "nulls.parquet")
        job = prepare_batch(
            store, "default", registered, str(tmp_path / "nulls.parquet"), runner="dask"
        )
        with pytest.raises(ModelInputError, match="column 'f2' does not take nulls"):
            job.run(tmp_path / "out2")
        with pytest.raises(InvalidArgumentError, match="runner 'spark' is unknown"):
            prepare_batch(store, "default", registered, "x", runner="spark")
    finally:
        store.close()

"""Versions from every source kind, dedupe, deterministic hashes, loading and lineage."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import text

import keel
from keel.data import DatasetClient, SqlQuery
from keel.exceptions import NotFoundError
from keel.store import Store


def frame(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.integers(18, 90, n),
            "income": rng.normal(50_000, 10_000, n),
            "city": rng.choice(["paris", "lyon", "nice"], n),
        }
    )


def test_folder_becomes_files_version(datasets: DatasetClient, folder: Path) -> None:
    v = datasets.log("images", folder, description="three files")
    assert (v.ref, v.kind, v.num_files, v.size_bytes) == ("images@1", "files", 3, 12 + 256)
    files = datasets.files("images@1")
    assert [f.path for f in files] == ["a.txt", "b.txt", "cats/c.bin"]
    assert datasets.store.blobs.read_bytes(files[0].blob_sha) == b"alpha\n"
    assert v.profile["extensions"] == {".txt": 2, ".bin": 1}
    assert v.source == {"type": "folder", "path": str(folder)}


def test_identical_content_returns_newest_version(datasets: DatasetClient, folder: Path) -> None:
    first = datasets.log("images", folder)
    again = datasets.log("images", folder)
    assert again.id == first.id and again.version == 1
    (folder / "a.txt").write_text("changed\n")
    second = datasets.log("images", folder)
    assert second.version == 2
    assert second.content_hash != first.content_hash
    assert [v.version for v in datasets.versions("images")] == [1, 2]


def test_single_file_version(datasets: DatasetClient, folder: Path) -> None:
    v = datasets.log("one", folder / "cats" / "c.bin")
    assert (v.kind, v.num_files, v.source["type"]) == ("files", 1, "file")
    assert [f.path for f in datasets.files("one")] == ["c.bin"]


def test_dataframe_arrow_parquet_csv_sources(datasets: DatasetClient, tmp_path: Path) -> None:
    df = frame()
    v_df = datasets.log("customers", df)
    assert (v_df.kind, v_df.num_rows, v_df.num_files) == ("table", 200, 1)
    assert [c["name"] for c in v_df.schema] == ["age", "income", "city"]
    # The same rows as an Arrow table, split in chunks, are the same content.
    table = pa.Table.from_pandas(df, preserve_index=False)
    chunked = pa.concat_tables([table.slice(0, 7), table.slice(7)])
    assert datasets.log("customers", chunked).id == v_df.id
    parquet = tmp_path / "customers.parquet"
    pq.write_table(table, parquet)
    v_pq = datasets.log("customers", parquet)
    assert v_pq.id == v_df.id  # metadata differs, rows and types do not
    csv = tmp_path / "customers.csv"
    df.to_csv(csv, index=False)
    v_csv = datasets.log("from-csv", csv)
    assert v_csv.source == {"type": "csv", "path": str(csv)}
    assert v_csv.num_rows == 200 and v_csv.profile["columns"]["age"]["type"] == "int64"


def test_content_hash_is_deterministic(datasets: DatasetClient, tmp_path: Path) -> None:
    a = datasets.log("x", frame(seed=1))
    other = DatasetClient(datasets.store, datasets.store.projects.get_or_create("other"))
    b = other.log("x", frame(seed=1))
    assert a.content_hash == b.content_hash and a.id != b.id
    assert other.log("x", frame(seed=2)).content_hash != a.content_hash


def test_load_round_trips_a_table(datasets: DatasetClient) -> None:
    df = frame()
    datasets.log("customers", df)
    loaded = datasets.load("customers@1")
    pd.testing.assert_frame_equal(loaded, df, check_dtype=False)
    assert datasets.load_arrow("customers").num_rows == 200


def test_sql_source_from_sqlite_file(datasets: DatasetClient, tmp_path: Path) -> None:
    db = tmp_path / "prod.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER, amount REAL, region TEXT)")
        conn.executemany(
            "INSERT INTO orders VALUES (?, ?, ?)",
            [(i, i * 1.5, "eu" if i % 3 else "us") for i in range(1, 101)],
        )
    query = SqlQuery(f"sqlite:///{db}", "SELECT * FROM orders WHERE amount > :m", {"m": 15})
    v = datasets.log("orders", query)
    assert v.num_rows == 90 and v.kind == "table"
    assert v.source == {
        "type": "sql",
        "url": f"sqlite:///{db}",
        "query": "SELECT * FROM orders WHERE amount > :m",
        "params": {"m": 15},
    }
    assert v.profile["columns"]["amount"]["min"] == 16.5
    assert datasets.load("orders")["id"].tolist() == list(range(11, 101))
    assert datasets.log("orders", query).id == v.id  # same rows again: no new version


def test_sql_source_on_each_backend_hides_password(store: Store) -> None:
    """The store's own database (SQLite, then PostgreSQL) serves as 'production'."""
    table = f"src_{uuid.uuid4().hex[:8]}"
    with store.db.write() as conn:
        conn.execute(text(f"CREATE TABLE {table} (k INTEGER, label VARCHAR(10))"))
        conn.execute(
            text(f"INSERT INTO {table} VALUES (:k, :l)"),
            [{"k": i, "l": "odd" if i % 2 else "even"} for i in range(50)],
        )
    try:
        client = DatasetClient(store, store.projects.get_or_create("default"))
        url = store.db.engine.url.set(password="s3cret").render_as_string(hide_password=False)
        if store.db.is_sqlite:
            url = store.db.uri
        v = client.log("prod", SqlQuery(url, f"SELECT k, label FROM {table} ORDER BY k"))
        assert v.num_rows == 50
        assert v.profile["columns"]["label"]["top"] == [
            {"value": "even", "count": 25},
            {"value": "odd", "count": 25},
        ]
        assert "s3cret" not in repr(client.get("prod").source)
    finally:
        with store.db.write() as conn:
            conn.execute(text(f"DROP TABLE {table}"))


def test_runs_link_to_versions(sqlite_store: Store, datasets: DatasetClient, folder: Path) -> None:
    keel.init(settings=sqlite_store.settings)
    with keel.start_run(experiment="lineage", capture_env=False) as run:
        inp = keel.log_dataset("images", folder)  # active run: linked as input
        out = datasets.log("preds", frame(), run_id=run.id, direction="output")
    assert datasets.runs("images@1") == [(run.id, "input")]
    assert datasets.runs("preds") == [(run.id, "output")]
    assert keel.get_dataset("images").id == inp.id
    assert out.run_id == run.id
    pd.testing.assert_frame_equal(keel.load_dataset("preds"), frame(), check_dtype=False)


def test_sdk_dataset_reads_of_a_missing_project_create_nothing(
    sqlite_store: Store, tmp_path: Path
) -> None:
    """``keel.get_dataset``/``load_dataset`` need the project; ``log_dataset`` makes it."""
    keel.init(settings=sqlite_store.settings.with_project("typo"))
    for read in (keel.get_dataset, keel.load_dataset):
        with pytest.raises(NotFoundError, match="project 'typo' does not exist"):
            read("customers")
    assert "typo" not in [p.name for p in sqlite_store.projects.list()]
    keel.log_dataset("customers", frame())
    assert keel.get_dataset("customers").version == 1

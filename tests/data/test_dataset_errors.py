"""Bad input gives a typed error that names the value and says what to do."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from keel.data import DatasetClient, SqlQuery, parse_ref, synth_fit
from keel.exceptions import InvalidArgumentError, NotFoundError, UnsafePathError
from keel.store import Store


def test_unknown_dataset_and_version(datasets: DatasetClient, folder: Path) -> None:
    with pytest.raises(NotFoundError, match="'nope'"):
        datasets.get("nope")
    datasets.log("imgs", folder)
    with pytest.raises(NotFoundError, match="'imgs' has no version 7"):
        datasets.get("imgs@7")
    with pytest.raises(NotFoundError, match="'nope'"):
        datasets.status("nope", folder)


@pytest.mark.parametrize("ref", ["x@abc", "x@0", "x@-1", "@3", "", "x@1.5"])
def test_bad_refs(ref: str) -> None:
    with pytest.raises(InvalidArgumentError) as err:
        parse_ref(ref)
    assert repr(ref) in str(err.value)


def test_refs_parse() -> None:
    assert (parse_ref("a@3").name, parse_ref("a@3").version) == ("a", 3)
    assert parse_ref("a@latest").version is None and str(parse_ref("a@2")) == "a@2"


def test_missing_path_and_empty_folder(datasets: DatasetClient, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(NotFoundError, match="nowhere"):
        datasets.log("d", missing)
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(InvalidArgumentError, match="holds no files"):
        datasets.log("d", tmp_path / "empty")
    assert datasets.list() == []  # nothing half-registered


def test_unsupported_objects(datasets: DatasetClient) -> None:
    with pytest.raises(InvalidArgumentError, match="'int'"):
        datasets.log("d", 42)
    with pytest.raises(InvalidArgumentError, match="'dict'"):
        datasets.log("d", {"a": [1, 2]})


def test_bad_names_directions_and_runs(datasets: DatasetClient, folder: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="'a@b'"):
        datasets.log("a@b", folder)
    with pytest.raises(InvalidArgumentError, match="'sideways'"):
        datasets.log("d", folder, direction="sideways")
    with pytest.raises(NotFoundError, match="no-such-run"):
        datasets.log("d", folder, run_id="no-such-run")


def test_bad_tables(datasets: DatasetClient, tmp_path: Path) -> None:
    dup = pd.DataFrame([[1, 2]], columns=["a", "a"])
    with pytest.raises(InvalidArgumentError, match=r"\['a'\]"):
        datasets.log("d", dup)
    mixed = pd.DataFrame({"x": [1, "two", 3.0]})
    with pytest.raises(InvalidArgumentError, match="DataFrame"):
        datasets.log("d", mixed)
    broken = tmp_path / "broken.parquet"
    broken.write_text("not parquet")
    with pytest.raises(InvalidArgumentError, match=r"broken\.parquet"):
        datasets.log("d", broken)


def test_load_of_files_version_and_bad_checkout(
    datasets: DatasetClient, folder: Path, tmp_path: Path
) -> None:
    datasets.log("imgs", folder)
    with pytest.raises(InvalidArgumentError, match="imgs@1 is a set of files"):
        datasets.load("imgs")
    afile = tmp_path / "file.txt"
    afile.write_text("x")
    with pytest.raises(InvalidArgumentError, match=r"file\.txt"):
        datasets.checkout("imgs", afile)


def test_unsafe_file_names_are_refused(datasets: DatasetClient, tmp_path: Path) -> None:
    root = tmp_path / "weird"
    root.mkdir()
    (root / "back\\slash.txt").write_text("x")
    with pytest.raises(UnsafePathError, match="slash"):
        datasets.log("w", root)


def test_sql_errors_name_the_problem(datasets: DatasetClient, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="not a SQLAlchemy database URL"):
        SqlQuery("no scheme at all", "SELECT 1")
    with pytest.raises(InvalidArgumentError, match="non-empty"):
        SqlQuery("sqlite://", "  ")
    bad = SqlQuery(f"sqlite:///{tmp_path / 'x.db'}", "SELECT * FROM missing_table")
    with pytest.raises(InvalidArgumentError, match="missing_table"):
        datasets.log("d", bad)
    secret = SqlQuery("postgresql+psycopg://u:hunter2@127.0.0.1:1/db", "SELECT 1")
    with pytest.raises(InvalidArgumentError) as err:
        datasets.log("d", secret)
    assert "hunter2" not in str(err.value) and "hunter2" not in repr(secret)


def test_a_client_by_name_makes_its_project_only_to_register(
    sqlite_store: Store, tmp_path: Path
) -> None:
    """Named by a string, the project is looked up on first use: reads need it to exist,
    a bad name or path is refused before it is made, and registering a version makes it."""
    client = DatasetClient(sqlite_store, "fresh")
    table = pd.DataFrame({"x": range(12), "y": [float(i) for i in range(12)]})
    bad = [
        (lambda: client.log("a@b", table), InvalidArgumentError, "'@'"),
        (lambda: client.log("d", tmp_path / "nowhere"), NotFoundError, "nowhere"),
        (lambda: client.get("d@1"), NotFoundError, "project 'fresh' does not exist"),
        (
            lambda: synth_fit(table, method="bogus", datasets=client, name="m"),
            InvalidArgumentError,
            "bogus",
        ),
        (lambda: synth_fit("d@1", datasets=client), NotFoundError, "project 'fresh'"),
    ]
    for call, error, message in bad:
        with pytest.raises(error, match=message):
            call()
    assert sqlite_store.projects.list() == []
    assert client.log("d", table).ref == "d@1"
    assert [p.name for p in sqlite_store.projects.list()] == ["fresh"]

"""The repository contract: every protocol of :mod:`keel.store.protocols` over SQLite,
PostgreSQL and the remote backend (HTTP against a real uvicorn server), in one module.

``store`` is each backend in turn; ``server_store`` is the database behind the remote
one, for what the server keeps to itself (delivery leases, the scheduler's bookkeeping,
ownership). The structural tests check that the SQL and HTTP repositories offer exactly
their protocol's methods and that neither inherits the other.
"""

from __future__ import annotations

import inspect
import math
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from keel.config import Settings
from keel.exceptions import (
    AlreadyExistsError,
    ConfigError,
    ConflictError,
    FilterSyntaxError,
    InvalidArgumentError,
    NotFoundError,
    ParamConflictError,
    UnsafePathError,
)
from keel.store import (
    REPOSITORIES,
    BlobStore,
    Database,
    DatasetFile,
    Metric,
    NewVersion,
    RunStatus,
    Store,
    open_store,
    repository_class,
)
from keel.store.alerts import AlertState, NewAlert
from keel.store.deployments import DeploymentTarget
from keel.store.pipelines import ChildRun, StepRunInfo, StepStatus
from keel.store.protocols import PROTOCOLS, Blobs, Db
from keel.store.remote import RemoteBlobStore, RemoteDatabase, _repositories
from keel.store.remote._http import Http
from keel.store.users import Role
from keel.tracking import TrackingClient

sys.path.insert(0, str(Path(__file__).parents[1] / "server"))
from server_helpers import serving_remote  # type: ignore[import-not-found]


@pytest.fixture
def server_store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(Settings.for_home(tmp_path / "server-home"))
    yield store
    store.close()


@pytest.fixture
def remote_store(server_store: Store, tmp_path: Path) -> Iterator[Store]:
    with serving_remote(server_store, tmp_path / "client-home") as store:
        yield store


@pytest.fixture(params=["sqlite", "postgres", "remote"])
def store(request: pytest.FixtureRequest) -> Store:
    name = {"sqlite": "sqlite_store", "postgres": "pg_store", "remote": "remote_store"}
    return request.getfixturevalue(name[request.param])  # type: ignore[no-any-return]


@pytest.fixture(params=["sqlite", "postgres"])
def sql_store_any(request: pytest.FixtureRequest) -> Store:
    """The SQL backends only, for protocols the server keeps to itself."""
    return request.getfixturevalue(f"{'pg' if request.param == 'postgres' else 'sqlite'}_store")  # type: ignore[no-any-return]


SECRET_URL = "https://hooks.example.com/services/T000/B000/s3cr3t-token"


def _is_remote(store: Store) -> bool:
    return store.db.dialect == "remote"


def _server_side(store: Store, request: pytest.FixtureRequest) -> Store:
    """The store behind the server (what it does not serve over HTTP: the scheduler's
    bookkeeping, delivery leases)."""
    return request.getfixturevalue("server_store") if _is_remote(store) else store


# -- runs and experiments (test_runs_contract.py) ----------------------------------------------
@pytest.fixture
def exp_id(store: Store) -> int:
    project = store.projects.get_or_create("default")
    return store.experiments.create(project.id, "exp").id


def test_experiment_names_are_unique_per_project(store: Store) -> None:
    a = store.projects.get_or_create("a")
    b = store.projects.get_or_create("b")
    store.experiments.create(a.id, "same")
    store.experiments.create(b.id, "same")  # another project: fine
    with pytest.raises(AlreadyExistsError, match="'same'"):
        store.experiments.create(a.id, "same")


def test_experiment_rename_tag_delete_restore(store: Store, exp_id: int) -> None:
    store.experiments.rename(exp_id, "renamed")
    store.experiments.set_tag(exp_id, "team", "risk")
    exp = store.experiments.get(exp_id)
    assert (exp.name, exp.tags) == ("renamed", {"team": "risk"})
    store.experiments.delete(exp_id)
    assert store.experiments.list(exp.project_id) == []
    with pytest.raises(InvalidArgumentError, match="deleted"):
        store.runs.create(exp_id)
    store.experiments.restore(exp_id)
    assert [e.id for e in store.experiments.list(exp.project_id)] == [exp_id]


def test_unknown_ids_name_the_value(store: Store, exp_id: int) -> None:
    with pytest.raises(NotFoundError, match="9999"):
        store.experiments.get(9999)
    with pytest.raises(NotFoundError, match="nope"):
        store.runs.get("nope")
    with pytest.raises(NotFoundError, match="424242"):
        store.runs.create(424242)
    with pytest.raises(NotFoundError, match="missing-run"):
        store.runs.log_metric("missing-run", Metric("m", 1.0))


def test_run_lifecycle_and_nesting(store: Store, exp_id: int) -> None:
    parent = store.runs.create(exp_id, name="parent")
    child = store.runs.create(exp_id, parent_id=parent.id)
    assert child.parent_id == parent.id and child.name  # a generated readable name
    assert [c.id for c in store.runs.children(parent.id)] == [child.id]
    done = store.runs.update(parent.id, status=RunStatus.FINISHED)
    assert done.status is RunStatus.FINISHED and done.end_time is not None
    store.runs.delete(child.id)
    with pytest.raises(InvalidArgumentError, match="deleted"):
        store.runs.log_params(child.id, {"a": 1})
    store.runs.restore(child.id)
    store.runs.log_params(child.id, {"a": 1})


def test_params_are_immutable(store: Store, exp_id: int) -> None:
    run = store.runs.create(exp_id)
    store.runs.log_params(run.id, {"lr": 0.1, "model": "rf"})
    store.runs.log_params(run.id, {"lr": 0.1})  # same value again: fine
    with pytest.raises(ParamConflictError, match=r"'lr'.*'0\.1'.*'0\.2'"):
        store.runs.log_params(run.id, {"lr": 0.2, "new": "x"})
    # the failed batch wrote nothing
    assert store.runs.get(run.id).params == {"lr": "0.1", "model": "rf"}


def test_metrics_keep_nan_inf_and_history(store: Store, exp_id: int) -> None:
    run = store.runs.create(exp_id)
    store.runs.log_batch(
        run.id,
        metrics=[
            Metric("loss", 0.5, step=1, timestamp=10),
            Metric("loss", 0.7, step=0, timestamp=20),
            Metric("loss", math.nan, step=2, timestamp=30),
            Metric("up", math.inf, step=0, timestamp=1),
            Metric("down", -math.inf, step=0, timestamp=1),
        ],
    )
    hist = store.runs.metric_history(run.id, "loss")
    assert [m.step for m in hist] == [0, 1, 2]
    assert hist[0].value == 0.7 and math.isnan(hist[2].value)
    latest = store.runs.get(run.id).metrics
    assert math.isnan(latest["loss"])  # step 2 is the newest
    assert latest["up"] == math.inf and latest["down"] == -math.inf
    assert store.runs.get(run.id).metric_steps["loss"] == (2, 30)
    store.runs.log_metric(run.id, Metric("loss", 0.1, step=1, timestamp=99))  # older step
    assert math.isnan(store.runs.get(run.id).metrics["loss"])


def test_bad_keys_and_values_are_refused(store: Store, exp_id: int) -> None:
    run = store.runs.create(exp_id)
    with pytest.raises(InvalidArgumentError, match="non-empty"):
        store.runs.log_params(run.id, {"": 1})
    with pytest.raises(InvalidArgumentError, match="characters"):
        store.runs.set_tags(run.id, {"x" * 300: "v"})
    with pytest.raises(InvalidArgumentError, match=r"\.\./etc"):
        store.runs.log_metric(run.id, Metric("../etc", 1.0))
    with pytest.raises(TypeError, match="number"):
        Metric("m", "high")  # type: ignore[arg-type]


def test_tags_overwrite_and_delete(store: Store, exp_id: int) -> None:
    run = store.runs.create(exp_id, tags={"a": "1"})
    store.runs.set_tags(run.id, {"a": "2", "b": "3"})
    store.runs.delete_tag(run.id, "b")
    assert store.runs.get(run.id).tags == {"a": "2"}
    with pytest.raises(NotFoundError, match="'b'"):
        store.runs.delete_tag(run.id, "b")


def _seed(store: Store, exp_id: int) -> dict[str, str]:
    ids = {}
    for name, model, auc, team in [
        ("r1", "rf", 0.95, "x"),
        ("r2", "rf", 0.85, "y"),
        ("r3", "gbm", 0.97, "x"),
        ("r4", "logreg", None, "x"),
    ]:
        run = store.runs.create(exp_id, name=name, tags={"team": team})
        store.runs.log_params(run.id, {"model": model})
        if auc is not None:
            store.runs.log_metric(run.id, Metric("auc", auc))
        ids[name] = run.id
    return ids


def test_search_filter_order_and_pages(store: Store, exp_id: int) -> None:
    _seed(store, exp_id)

    def names(filter_: str | None, order: str | list[str] | None = None, **kw: int) -> list[str]:
        return [r.name for r in store.runs.search([exp_id], filter_, order_by=order, **kw).runs]

    assert names("metrics.auc > 0.9 and params.model = 'rf' and tags.team = 'x'") == ["r1"]
    assert names("metrics.auc > 0.9", "metrics.auc DESC") == ["r3", "r1"]
    assert names(None, "metrics.auc ASC") == ["r2", "r1", "r3", "r4"]  # missing sorts last
    assert names("params.model != 'rf'", "name") == ["r3", "r4"]
    assert names("params.model in ('gbm', 'logreg')", "name") == ["r3", "r4"]
    assert names("tags.team = 'y' or metrics.auc >= 0.97", "name") == ["r2", "r3"]
    assert names("attributes.name like 'r%' and status = 'RUNNING'", "name DESC")[0] == "r4"
    page = store.runs.search([exp_id], order_by="name", max_results=3)
    assert [r.name for r in page.runs] == ["r1", "r2", "r3"] and page.next_page_token
    rest = store.runs.search(
        [exp_id], order_by="name", max_results=3, page_token=page.next_page_token
    )
    assert [r.name for r in rest.runs] == ["r4"] and rest.next_page_token is None


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        ("metrics.auc >", "ends early"),
        ("metrics.auc = 'high'", "compare it with a number"),
        ("params.model = rf", "expected a number or a quoted string"),
        ("foo.bar = 1", "unknown field 'foo.bar'"),
        ("metrics.auc > 0.9 or", "ends early"),
        ("metrics.auc > 0.9; DROP TABLE runs", "unexpected character ';'"),
        ("(metrics.auc > 0.9", "expected ')'"),
        ("__import__('os').system('x')", "unexpected character"),
        ("__import__('os')", "expected a field"),
    ],
)
def test_malformed_filters_say_what_is_wrong(
    store: Store, exp_id: int, bad: str, fragment: str
) -> None:
    with pytest.raises(FilterSyntaxError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        store.runs.search([exp_id], bad)


def test_plain_listing_pages_like_a_filtered_search(store: Store, exp_id: int) -> None:
    """No filter and no order (``keel runs list``) takes driver-level SQL; it must give
    the same runs, order and pages as the compiled query ("start_time DESC" is its order)."""
    ids = _seed(store, exp_id)
    store.runs.delete(ids["r2"])
    other = store.experiments.create(store.experiments.get(exp_id).project_id, "other")
    store.runs.create(other.id, name="elsewhere")
    for include_deleted in (False, True):
        plain: list[str] = []
        compiled: list[str] = []
        for out, order in ((plain, None), (compiled, "start_time DESC")):
            token = None
            while True:
                page = store.runs.search(
                    [exp_id],
                    order_by=order,
                    max_results=2,
                    page_token=token,
                    include_deleted=include_deleted,
                )
                out += [r.info.id for r in page.runs]
                assert all(r.info.experiment_id == exp_id for r in page.runs)
                token = page.next_page_token
                if token is None:
                    break
        assert plain == compiled and len(plain) == (4 if include_deleted else 3)
    first = store.runs.search([exp_id], max_results=1).runs[0]
    assert first.params and first.tags["team"]  # hydrated like any search result
    assert store.runs.search([], max_results=5).runs == []


def _walk(store: Store, exp_id: int, filter_: str | None, order: list[str], size: int) -> list[str]:
    names: list[str] = []
    token = None
    while True:
        page = store.runs.search(
            [exp_id], filter_, order_by=order, max_results=size, page_token=token
        )
        names += [r.name for r in page.runs]
        token = page.next_page_token
        if token is None:
            return names


def test_keyset_pages_walk_ties_missing_values_and_nan(store: Store, exp_id: int) -> None:
    """Pages start after the last run of the previous one (its sort key): walking any order
    page by page gives the one-page result, through ties, runs without the metric (last,
    whichever the direction), NaN (sorts as missing) and equal start times."""
    values = [0.5, 0.5, None, 0.9, float("nan"), 0.1, 0.5, None, 0.9, 0.3, 0.7]
    for i, value in enumerate(values):
        run = store.runs.create(exp_id, name=f"k{i:02d}", start_time=1_000 + i // 3)
        store.runs.log_params(run.id, {"p": str(i % 4)})
        if value is not None:
            store.runs.log_metric(run.id, Metric("m", value))
    cases: list[tuple[str | None, list[str]]] = [
        (None, ["metrics.m DESC"]),
        (None, ["metrics.m ASC", "params.p DESC"]),
        ("metrics.m >= 0.3", ["metrics.m DESC"]),
        ("params.p != '1'", ["params.p", "metrics.m"]),
        (None, ["end_time DESC", "name"]),
        ("metrics.m > 0", []),
    ]
    for filter_, order in cases:
        whole = _walk(store, exp_id, filter_, order, 50)
        assert len(whole) == len(set(whole)) > 0
        for size in (1, 2, 3):
            assert _walk(store, exp_id, filter_, order, size) == whole, (filter_, order, size)
    by_m = _walk(store, exp_id, None, ["metrics.m DESC"], 4)
    assert by_m[:2] == ["k08", "k03"]  # a tie: the later start first
    assert set(by_m[-3:]) == {"k02", "k04", "k07"}
    assert _walk(store, exp_id, None, ["metrics.m ASC"], 4)[-3:] == by_m[-3:]


def test_page_tokens_belong_to_their_search(store: Store, exp_id: int) -> None:
    import base64

    _seed(store, exp_id)
    page = store.runs.search([exp_id], order_by="name", max_results=1)
    with pytest.raises(InvalidArgumentError, match="another filter or order"):
        store.runs.search([exp_id], order_by="name DESC", page_token=page.next_page_token)
    old = base64.urlsafe_b64encode(b'{"offset": 2}').decode()  # an earlier keel's token
    with pytest.raises(InvalidArgumentError, match="offset token of an older keel"):
        store.runs.search([exp_id], page_token=old)
    forged = base64.urlsafe_b64encode(b'{"after": [{"x": 1}, "r"], "q": "x"}').decode()
    with pytest.raises(InvalidArgumentError, match="not one keel issued"):
        store.runs.search([exp_id], page_token=forged)


def test_bad_page_token_and_limits(store: Store, exp_id: int) -> None:
    with pytest.raises(InvalidArgumentError, match="page token"):
        store.runs.search([exp_id], page_token="garbage!")
    with pytest.raises(InvalidArgumentError, match="max_results"):
        store.runs.search([exp_id], max_results=0)


def test_deleted_runs_leave_search(store: Store, exp_id: int) -> None:
    ids = _seed(store, exp_id)
    store.runs.delete(ids["r1"])
    found = [r.name for r in store.runs.search([exp_id], order_by="name").runs]
    assert found == ["r2", "r3", "r4"]
    deleted_too = store.runs.search([exp_id], include_deleted=True).runs
    assert len(deleted_too) == 4


# -- both implementations offer exactly the protocol (test_server_contract.py) -----------------
def _public(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(fn)
        for name, fn in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_sql_and_http_implement_the_protocol_side_by_side(name: str) -> None:
    """Both implementations offer exactly the protocol's methods, with its parameters,
    and neither inherits the other (nothing falls through to a database not there)."""
    http = Http("http://127.0.0.1:9", None)
    sql, remote = repository_class(name), type(_repositories(http)[name])
    http.close()
    assert not issubclass(remote, sql) and not issubclass(sql, remote)
    wanted = _public(PROTOCOLS[name])
    for impl in (sql, remote):
        offered = _public(impl)
        assert sorted(offered) == sorted(wanted), f"{impl.__name__} differs from {name}"
        for method, signature in wanted.items():
            assert offered[method].parameters.keys() == signature.parameters.keys(), method


def test_every_repository_with_an_http_twin_has_a_protocol() -> None:
    http = Http("http://127.0.0.1:9", None)
    assert set(_repositories(http)) == set(PROTOCOLS) <= set(REPOSITORIES)
    http.close()


@pytest.mark.parametrize(
    ("protocol", "local", "remote"),
    [(Blobs, BlobStore, RemoteBlobStore), (Db, Database, RemoteDatabase)],
)
def test_blob_stores_and_databases_stand_side_by_side(
    protocol: type, local: type, remote: type
) -> None:
    """Both offer every method of their protocol, with its parameters, and neither
    inherits the other (nothing on the remote side falls through to local files)."""
    assert not issubclass(remote, local) and not issubclass(local, remote)
    for impl in (local, remote):
        offered = _public(impl)
        for method, signature in _public(protocol).items():
            assert method in offered, f"{impl.__name__} lacks {method}"
            assert offered[method].parameters.keys() == signature.parameters.keys(), method


def test_the_remote_database_refuses_direct_access(remote_store: Store) -> None:
    with pytest.raises(ConfigError, match=r"store\.db\.engine \(direct database access\)"):
        remote_store.db.engine  # noqa: B018
    with pytest.raises(ConfigError, match="KEEL_SERVER_URL"), remote_store.db.read():
        pass
    assert remote_store.db.dialect == "remote" and remote_store.db.safe_uri.startswith("http")


# -- artifacts, blobs, datasets and the tracking SDK (test_server_backends.py) -----------------
@pytest.fixture
def run_id(store: Store) -> str:
    project = store.projects.get_or_create("default")
    exp = store.experiments.get_or_create(project.id, "arts")
    return store.runs.create(exp.id).id


def test_blobs_round_trip_and_verify(store: Store, tmp_path: Path) -> None:
    data = bytes(range(256)) * 5000  # > 1 MiB: several chunks each way
    ref = store.blobs.put_bytes(data)
    assert ref.size == len(data)
    assert store.blobs.put_bytes(data).sha == ref.sha  # same content, same blob
    src = tmp_path / "f.bin"
    src.write_bytes(b"file body")
    fref = store.blobs.put_file(src)
    assert store.blobs.read_bytes(fref.sha) == b"file body"
    assert store.blobs.download(ref.sha, tmp_path / "out" / "x.bin").read_bytes() == data


def test_artifacts_add_list_get_delete(store: Store, run_id: str) -> None:
    a = store.blobs.put_bytes(b"alpha")
    b = store.blobs.put_bytes(b"beta")
    store.artifacts.add(run_id, [("model/a.txt", a), ("model/b.txt", b), ("top.txt", a)])
    assert [x.path for x in store.artifacts.list(run_id)] == [
        "model/a.txt",
        "model/b.txt",
        "top.txt",
    ]
    assert [x.path for x in store.artifacts.list(run_id, "model")] == ["model/a.txt", "model/b.txt"]
    info = store.artifacts.get(run_id, "model/b.txt")
    assert (info.size, info.blob_sha) == (4, b.sha)
    assert store.blobs.read_bytes(info.blob_sha) == b"beta"
    assert store.artifacts.delete(run_id, "model") == 2
    with pytest.raises(NotFoundError, match=r"model/a\.txt"):
        store.artifacts.get(run_id, "model/a.txt")
    with pytest.raises(UnsafePathError, match=r"\.\."):
        store.artifacts.add(run_id, [("../escape.txt", a)])


def test_datasets_versions_files_and_lineage(store: Store, run_id: str) -> None:
    project = store.projects.get_or_create("default")
    ds = store.datasets.get_or_create(project.id, "customers")
    blob = store.blobs.put_bytes(b"a,b\n1,2\n")
    common = {
        "kind": "files",
        "source": {"uri": "x"},
        "schema": [{"name": "a"}],
        "profile": {"rows": 1},
        "num_rows": 1,
    }
    files = [DatasetFile("data.csv", blob.sha, blob.size)]
    v1, created = store.datasets.add_version(ds, content_hash="h1", files=files, **common)
    again, created_again = store.datasets.add_version(ds, content_hash="h1", files=files, **common)
    assert created and not created_again and again.id == v1.id
    v2, _ = store.datasets.add_version(ds, content_hash="h2", files=[], run_id=run_id, **common)
    assert [v.version for v in store.datasets.versions(project.id, "customers")] == [1, 2]
    assert store.datasets.get_version(project.id, "customers").id == v2.id
    assert store.datasets.get_version_by_id(v1.id).ref == "customers@1"
    assert store.datasets.files(v1.id) == files
    store.runs.link_dataset(run_id, v1.id, "input")
    assert store.runs.dataset_links(run_id) == [(v1.id, "input")]
    assert (run_id, "input") in store.datasets.runs_of(v1.id)
    store.datasets.get_or_create(project.id, "alpha", "empty so far")
    store.datasets.get_or_create(store.projects.get_or_create("other").id, "hidden")
    listed = store.datasets.list_with_latest(project.id)
    assert [(d.name, d.description, v and v.version) for d, v in listed] == [
        ("alpha", "empty so far", None),
        ("customers", "", 2),
    ]
    assert listed[1] == (ds, v2)  # every field, as get_version reads it


def test_tracking_client_end_to_end(store: Store, tmp_path: Path) -> None:
    client = TrackingClient(store, project="sdk")
    info = client.create_run("baseline", name="r1")
    client.log_params(info.id, {"model": "rf", "depth": 3})
    client.log_metrics(info.id, {"auc": 0.91, "loss": math.nan}, step=1)
    client.log_metric(info.id, "auc", 0.93, step=2)
    art = tmp_path / "report.md"
    art.write_text("# report")
    client.log_artifact(info.id, art, "reports/report.md")
    client.end_run(info.id)
    run = client.get_run(info.id)
    assert run.params == {"model": "rf", "depth": "3"}
    assert run.metrics["auc"] == 0.93 and math.isnan(run.metrics["loss"])
    assert [m.value for m in client.metric_history(info.id, "auc")] == [0.91, 0.93]
    assert client.read_artifact(info.id, "reports/report.md") == b"# report"
    found = client.search_runs("metrics.auc > 0.92 and params.model = 'rf'")
    assert [r.id for r in found.runs] == [info.id]
    assert (
        client.compare_runs([info.id, client.create_run("baseline").id]).params["model"][0] == "rf"
    )


def test_remote_store_refuses_server_side_work(remote_store: Store) -> None:
    with pytest.raises(ConfigError, match="server"):
        list(remote_store.blobs.iter_all())
    with pytest.raises(ConfigError, match="KEEL_SERVER_URL"), remote_store.db.read():
        pass


def test_remote_metric_batch_of_nan_inf(remote_store: Store) -> None:
    project = remote_store.projects.get_or_create("p")
    run = remote_store.runs.create(remote_store.experiments.get_or_create(project.id, "e").id)
    remote_store.runs.log_batch(run.id, metrics=[Metric("a", math.inf), Metric("b", -math.inf)])
    assert remote_store.runs.get(run.id).metrics == {"a": math.inf, "b": -math.inf}


def test_search_is_null_and_is_not_null(store: Store) -> None:
    project = store.projects.get_or_create("default")
    exp_id = store.experiments.get_or_create(project.id, "nulls").id
    a = store.runs.create(exp_id, name="a", tags={"team": "x"})
    b = store.runs.create(exp_id, name="b")
    store.runs.log_batch(a.id, metrics=[Metric("auc", 0.5)], params={"lr": "0.1"})
    store.runs.update(b.id, status=RunStatus.FINISHED)

    def names(flt: str) -> list[str]:
        return [r.name for r in store.runs.search([exp_id], flt, order_by="name").runs]

    assert names("tags.team IS NULL") == ["b"]
    assert names("tags.team is not null") == ["a"]
    assert names("params.lr IS NULL") == ["b"]
    assert names("metrics.auc IS NOT NULL") == ["a"]
    assert names("attributes.end_time IS NULL") == ["a"]
    assert names("metrics.auc IS NOT NULL and metrics.auc > 0.1") == ["a"]
    ordered = store.runs.search([exp_id], "metrics.auc IS NULL", order_by="metrics.auc DESC")
    assert [r.name for r in ordered.runs] == ["b"]


# -- ownership (SQL only: asked on the server side) (test_ownership.py) ------------------------
def test_project_of_names_the_missing_object(sql_store_any: Store) -> None:
    store = sql_store_any
    project = store.projects.get_or_create("owner")
    dataset = store.datasets.get_or_create(project.id, "iris")
    version, _ = store.datasets.add_version(
        dataset,
        content_hash="h",
        kind="table",
        source={},
        schema=[],
        profile={},
        num_rows=1,
        files=[DatasetFile("a.csv", "0" * 64, 1)],
    )
    owners = store.ownership
    assert owners.project_of("dataset", dataset.id) == project.id
    assert owners.project_of("dataset_version", version.id) == project.id
    assert owners.projects_referencing("0" * 64) == {project.id}
    assert owners.projects_referencing("1" * 64) == set()
    with pytest.raises(NotFoundError, match="schedule fire 4242 does not exist"):
        owners.project_of("schedule_fire", 4242)
    with pytest.raises(NotFoundError, match="pipeline run 'nope' does not exist"):
        owners.project_of("pipeline_run", "nope")


# -- the model registry (test_server_registry_remote.py) ---------------------------------------
def _new(store: Store, content: bytes, **kw: Any) -> NewVersion:
    blob = store.blobs.put_bytes(content)
    return NewVersion(blob.sha, blob.size, blob.sha, "sklearn", "sklearn", "classification", **kw)


def test_model_listing_carries_what_each_model_shows(store: Store) -> None:
    """``list_models`` (driver-level SQL) gives each model as ``get_model`` does: tags,
    aliases and latest version, by name, only the project's own."""
    reg = store.registry
    pid = store.projects.get_or_create("default").id
    other = store.projects.get_or_create("elsewhere").id
    reg.create_model(other, "hidden")
    reg.create_model(pid, "zeta", tags={"team": "risk", "tier": "1"})
    reg.create_model(pid, "alpha")
    for content in (b"alpha one", b"alpha two", b"alpha three"):
        reg.create_version(pid, "alpha", _new(store, content))
    first = reg.get_version(pid, "alpha", 1)
    reg.set_alias(pid, "alpha", "champion", first.id)
    reg.set_alias(pid, "alpha", "challenger", reg.get_version(pid, "alpha", 3).id)
    listed = reg.list_models(pid)
    assert [m.name for m in listed] == ["alpha", "zeta"]
    assert listed == [reg.get_model(pid, "alpha"), reg.get_model(pid, "zeta")]
    assert (listed[0].aliases, listed[0].latest_version) == ({"champion": 1, "challenger": 3}, 3)
    assert (listed[1].tags, listed[1].latest_version) == ({"team": "risk", "tier": "1"}, None)


def test_models_and_versions(store: Store) -> None:
    reg = store.registry
    pid = store.projects.get_or_create("default").id
    made = reg.create_model(pid, "churn", description="who leaves", tags={"team": "risk"})
    assert (made.name, made.description, made.tags, made.latest_version) == (
        "churn",
        "who leaves",
        {"team": "risk"},
        None,
    )
    with pytest.raises(AlreadyExistsError, match="'churn' exists already"):
        reg.create_model(pid, "churn")
    with pytest.raises(InvalidArgumentError, match="must start with a letter or digit"):
        reg.create_model(pid, "../evil")
    assert reg.get_or_create_model(pid, "churn").id == made.id
    assert reg.get_or_create_model(pid, "fresh").latest_version is None

    v1 = reg.create_version(
        pid,
        "churn",
        _new(
            store,
            b"package one",
            semver="1.0.0",
            description="first",
            frameworks={"sklearn": "1.5"},
            signature={"inputs": [{"name": "x", "type": "double"}]},
            lineage={"git": {"commit": "abc"}},
            card={"intended_use": "demo"},
            metrics={"auc": 0.9},
            tags={"stage": "dev"},
            datasets=[("customers", 1)],
        ),
    )
    assert (v1.ref, v1.semver, v1.metrics, v1.tags, v1.datasets) == (
        "churn@1",
        "1.0.0",
        {"auc": 0.9},
        {"stage": "dev"},
        ["customers@1"],
    )
    assert (v1.frameworks, v1.lineage, v1.card) == (
        {"sklearn": "1.5"},
        {"git": {"commit": "abc"}},
        {"intended_use": "demo"},
    )
    with pytest.raises(AlreadyExistsError, match=r"already has a version '1\.0\.0'"):
        reg.create_version(pid, "churn", _new(store, b"package dup", semver="1.0.0"))
    with pytest.raises(InvalidArgumentError, match=r"is not MAJOR\.MINOR\.PATCH"):
        reg.create_version(pid, "churn", _new(store, b"package bad", semver="one"))
    v2 = reg.create_version(pid, "churn", _new(store, b"package two", metrics={"auc": 0.95}))
    assert v2.version == 2 and v2.blob_sha != v1.blob_sha

    assert reg.get_version(pid, "churn", 1) == v1
    assert reg.get_version_by_id(v2.id) == v2
    assert reg.latest_version(pid, "churn") == v2
    assert [v.ref for v in reg.versions(pid, "churn")] == ["churn@1", "churn@2"]
    assert [(m.name, m.latest_version) for m in reg.list_models(pid)] == [
        ("churn", 2),
        ("fresh", None),
    ]
    with pytest.raises(NotFoundError, match="has no version 9; it has versions 1-2"):
        reg.get_version(pid, "churn", 9)
    with pytest.raises(NotFoundError, match="'fresh' has no versions yet"):
        reg.latest_version(pid, "fresh")
    with pytest.raises(NotFoundError, match="does not exist"):
        reg.get_version_by_id(v2.id + 1000)
    with pytest.raises(NotFoundError, match="'nope' does not exist"):
        reg.versions(pid, "nope")

    found = reg.search_versions(pid, "metrics.auc > 0.92")
    assert [v.ref for v in found] == ["churn@2"]
    assert [v.ref for v in reg.search_versions(pid, None, max_results=1)] == ["churn@2"]
    with pytest.raises(FilterSyntaxError):
        reg.search_versions(pid, "metrics.auc >>> 1")
    with pytest.raises(InvalidArgumentError, match="max_results must be between"):
        reg.search_versions(pid, max_results=0)

    changed = reg.update_version(v1.id, description="the first", card={"owner": "risk"})
    assert (changed.description, changed.card) == ("the first", {"owner": "risk"})
    assert reg.update_model(pid, "churn", description="new words").description == "new words"
    reg.delete_version(v2.id)
    with pytest.raises(NotFoundError):
        reg.get_version_by_id(v2.id)
    with pytest.raises(NotFoundError):
        reg.delete_version(v2.id)
    assert reg.latest_version(pid, "churn").version == 1


def test_aliases_and_tags(store: Store) -> None:
    reg = store.registry
    pid = store.projects.get_or_create("default").id
    v1 = reg.create_version(pid, "churn", _new(store, b"churn one"))
    other = reg.create_version(pid, "fraud", _new(store, b"fraud one"))

    promoted = reg.set_alias(pid, "churn", "champion", v1.id)
    assert promoted.aliases == ["champion"]
    assert reg.get_by_alias(pid, "churn", "champion") == promoted
    assert reg.get_model(pid, "churn").aliases == {"champion": 1}
    with pytest.raises(ConflictError, match="is a version of 'fraud'"):
        reg.set_alias(pid, "churn", "champion", other.id)
    with pytest.raises(InvalidArgumentError, match="alias 'latest' is not valid"):
        reg.set_alias(pid, "churn", "latest", v1.id)
    reg.delete_alias(pid, "churn", "champion")
    with pytest.raises(NotFoundError, match="no alias 'champion'"):
        reg.get_by_alias(pid, "churn", "champion")
    with pytest.raises(NotFoundError, match="no alias 'champion'"):
        reg.delete_alias(pid, "churn", "champion")

    reg.set_model_tags(pid, "churn", {"team": "risk", "tier": "1"})
    reg.delete_model_tag(pid, "churn", "tier")
    assert reg.get_model(pid, "churn").tags == {"team": "risk"}
    with pytest.raises(NotFoundError, match="has no tag 'tier'"):
        reg.delete_model_tag(pid, "churn", "tier")
    reg.set_version_tags(v1.id, {"reviewed": "yes", "gone": "soon"})
    reg.delete_version_tag(v1.id, "gone")
    assert reg.get_version_by_id(v1.id).tags == {"reviewed": "yes"}
    with pytest.raises(NotFoundError, match="has no tag 'gone'"):
        reg.delete_version_tag(v1.id, "gone")


def test_rename_and_delete_refused_while_deployed(
    store: Store, request: pytest.FixtureRequest
) -> None:
    reg = store.registry
    pid = store.projects.get_or_create("default").id
    reg.create_model(pid, "fraud", tags={"keep": "yes"})
    vid = reg.create_version(pid, "fraud", _new(store, b"fraud package")).id
    reg.set_alias(pid, "fraud", "champion", vid)
    reg.create_model(pid, "taken")
    with pytest.raises(AlreadyExistsError, match="'taken' exists already"):
        reg.rename_model(pid, "fraud", "taken")
    with pytest.raises(NotFoundError):
        reg.rename_model(pid, "nope", "other")

    deployments = _server_side(store, request).deployments
    deployments.apply(
        pid, "live", {"models": ["fraud"]}, [DeploymentTarget("p", "fraud@1", "fraud", 1.0)]
    )
    with pytest.raises(ConflictError, match="served by deployment 'live'"):
        reg.delete_model(pid, "fraud")
    with pytest.raises(ConflictError, match="served by deployment 'live'"):
        reg.rename_model(pid, "fraud", "fraud-2")
    assert reg.get_version_by_id(vid).name == "fraud"
    deployments.delete(pid, "live")

    renamed = reg.rename_model(pid, "fraud", "fraud-2")
    assert (renamed.name, renamed.tags, renamed.aliases) == (
        "fraud-2",
        {"keep": "yes"},
        {"champion": 1},
    )
    reg.delete_model(pid, "fraud-2")
    with pytest.raises(NotFoundError):
        reg.get_model(pid, "fraud-2")
    with pytest.raises(NotFoundError):
        reg.get_version_by_id(vid)
    with pytest.raises(NotFoundError):
        reg.delete_model(pid, "fraud-2")


# -- renaming and deleting registered models (test_registry_lifecycle.py) ----------------------
def _version(store: Store, pid: int, name: str) -> int:
    blob = store.blobs.put_bytes(f"package of {name}".encode())
    new = NewVersion(blob.sha, blob.size, blob.sha, "sklearn", "sklearn", "classification")
    return store.registry.create_version(pid, name, new).id


def test_rename_keeps_versions_tags_and_aliases(store: Store) -> None:
    pid = store.projects.get_or_create("default").id
    store.registry.create_model(pid, "churn", tags={"team": "risk", "keep": "yes"})
    vid = _version(store, pid, "churn")
    store.registry.set_alias(pid, "churn", "champion", vid)
    store.registry.create_model(pid, "taken")

    with pytest.raises(AlreadyExistsError, match="'taken' exists already"):
        store.registry.rename_model(pid, "churn", "taken")
    with pytest.raises(Exception, match="must start with a letter or digit"):
        store.registry.rename_model(pid, "churn", "../evil")
    with pytest.raises(NotFoundError):
        store.registry.rename_model(pid, "nope", "other")

    model = store.registry.rename_model(pid, "churn", "churn-v2")
    assert (model.name, model.tags, model.aliases) == (
        "churn-v2",
        {"team": "risk", "keep": "yes"},
        {"champion": 1},
    )
    assert store.registry.get_by_alias(pid, "churn-v2", "champion").id == vid
    with pytest.raises(NotFoundError):
        store.registry.get_model(pid, "churn")

    store.registry.delete_model_tag(pid, "churn-v2", "team")
    assert store.registry.get_model(pid, "churn-v2").tags == {"keep": "yes"}
    with pytest.raises(NotFoundError, match="has no tag 'team'"):
        store.registry.delete_model_tag(pid, "churn-v2", "team")


def test_delete_takes_versions_along_but_not_while_deployed(store: Store) -> None:
    pid = store.projects.get_or_create("default").id
    store.registry.create_model(pid, "fraud")
    vid = _version(store, pid, "fraud")
    target = DeploymentTarget("predict", "fraud@1", "fraud", 1.0)
    store.deployments.apply(pid, "live", {"models": ["fraud"]}, [target])
    for refused in (
        lambda: store.registry.delete_model(pid, "fraud"),
        lambda: store.registry.rename_model(pid, "fraud", "fraud-2"),
    ):
        with pytest.raises(ConflictError, match="served by deployment 'live'"):
            refused()
    assert store.registry.get_version_by_id(vid).name == "fraud"  # nothing changed

    store.deployments.delete(pid, "live")
    store.registry.delete_model(pid, "fraud")
    with pytest.raises(NotFoundError):
        store.registry.get_model(pid, "fraud")
    with pytest.raises(NotFoundError):
        store.registry.get_version_by_id(vid)
    store.registry.create_model(pid, "fraud")  # the name is free again
    assert store.registry.get_model(pid, "fraud").latest_version is None


def test_unknown_ids_are_not_found_not_database_errors(store: Store) -> None:
    pid = store.projects.get_or_create("default").id
    with pytest.raises(NotFoundError, match="model version id 4242 does not exist"):
        store.registry.set_version_tags(4242, {"a": "b"})
    blob = store.blobs.put_bytes(b"package")
    new = NewVersion(blob.sha, blob.size, blob.sha, "sklearn", "sklearn", "classification",
                     run_id="f" * 32)  # fmt: skip
    with pytest.raises(NotFoundError, match=r"run id 'f+' does not exist"):
        store.registry.create_version(pid, "ghost", new)


# -- deployments, monitors and alerts (test_server_ops_remote.py) ------------------------------
def _alert(key: str = "drift:x", severity: str = "warning", **kw: Any) -> NewAlert:
    return NewAlert(
        kind="drift",
        severity=severity,
        dedup_key=key,
        title=f"{key} moved",
        deployment="churn",
        evidence={"p": 0.001, "column": "x"},
        **kw,
    )


def test_deployments_apply_rollback_and_delete(store: Store) -> None:
    repo = store.deployments
    pid = store.projects.get_or_create("default").id
    t1 = [DeploymentTarget("churn", "churn@champion", "churn", 100.0)]
    dep, changed = repo.apply(pid, "api", {"a": 1, "nested": {"b": [1, 2]}}, t1)
    assert changed and (dep.name, dep.revision, dep.status, dep.targets) == (
        "api",
        1,
        "active",
        t1,
    )
    assert dep.spec == {"a": 1, "nested": {"b": [1, 2]}}
    assert repo.apply(pid, "api", {"nested": {"b": [1, 2]}, "a": 1}, t1) == (dep, False)
    t2 = [*t1, DeploymentTarget("churn", "churn/3", "churn", 0.0, shadow=True)]
    dep2, changed = repo.apply(pid, "api", {"a": 2}, t2, note="shadow v3")
    assert changed and dep2.revision == 2 and repo.current_revision(pid, "api") == 2
    assert repo.get(pid, "api") == dep2 and repo.find(pid, "api") == dep2
    assert repo.revision(pid, "api", 2).targets == sorted(t2, key=lambda t: t.shadow)
    back = repo.rollback(pid, "api", 1)
    assert (back.revision, back.spec, back.targets) == (3, dep.spec, t1)
    history = repo.revisions(pid, "api")
    assert [(r.revision, r.note) for r in history] == [
        (1, ""),
        (2, "shadow v3"),
        (3, "rollback to revision 1"),
    ]
    assert history[0].spec_hash == history[2].spec_hash != history[1].spec_hash
    assert [d.name for d in repo.list(pid)] == ["api"]
    assert [(d, r, t.model_ref) for d, r, t in repo.all_targets(pid)] == [
        ("api", 1, "churn@champion"),
        ("api", 2, "churn/3"),
        ("api", 2, "churn@champion"),
        ("api", 3, "churn@champion"),
    ]
    t3 = [
        DeploymentTarget("b", "fraud@champion", "fraud", 60.0),
        DeploymentTarget("a", "churn/2", "churn", 0.0, shadow=True),
        DeploymentTarget("a", "churn/1", "churn", 100.0),
    ]
    repo.apply(pid, "batch", {"b": 1}, t3)
    repo.register(pid, "adhoc", {"server": {"port": 9}}, t1)
    repo.apply(store.projects.get_or_create("other").id, "hidden", {}, t1)
    listed = repo.list(pid)  # driver-level SQL: every field as get() reads it
    assert listed == [repo.get(pid, n) for n in ("adhoc", "api", "batch")]
    assert [t.model_ref for t in listed[2].targets] == ["churn/1", "churn/2", "fraud@champion"]
    assert (listed[0].adhoc, listed[1].spec, listed[1].applied_at is not None) == (
        True,
        dep.spec,
        True,
    )
    repo.delete(pid, "batch")
    repo.delete(pid, "adhoc")
    with pytest.raises(InvalidArgumentError, match="already at revision 3"):
        repo.rollback(pid, "api", 3)
    with pytest.raises(NotFoundError, match=r"has no revision 9; it has 1\.\.3"):
        repo.revision(pid, "api", 9)
    with pytest.raises(InvalidArgumentError, match="deployment name"):
        repo.apply(pid, "", {}, [])

    repo.delete(pid, "api")
    assert repo.current_revision(pid, "api") is None and repo.list(pid) == []
    found = repo.find(pid, "api")
    assert found is not None and found.status == "deleted"
    with pytest.raises(NotFoundError, match="keel deploy apply"):
        repo.get(pid, "api")
    with pytest.raises(NotFoundError, match="'api' does not exist"):
        repo.delete(pid, "api")
    assert repo.find(pid, "never") is None and repo.current_revision(pid, "never") is None
    revived, changed = repo.apply(pid, "api", {"a": 1}, t1)
    assert changed and revived.revision == 4


def test_monitors_and_reference_profiles(store: Store) -> None:
    mons = store.monitors
    pid = store.projects.get_or_create("default").id
    created = mons.upsert(pid, "churn", reference="model:churn/1", config={"drift": {"p": 0.01}})
    assert (created.window, created.enabled, created.config) == ("1d", True, {"drift": {"p": 0.01}})
    changed = mons.upsert(pid, "churn", window="6h", enabled=False)
    assert (changed.id, changed.reference, changed.window, changed.enabled) == (
        created.id,
        "model:churn/1",
        "6h",
        False,
    )
    mons.upsert(pid, "fraud")
    assert [m.deployment for m in mons.list(pid)] == ["churn", "fraud"]
    assert [m.deployment for m in mons.list(pid, enabled_only=True)] == ["fraud"]
    mons.mark_run(created.id, 2000)
    mons.mark_run(created.id, 1000)  # never moves backwards
    ran = mons.get_by_id(created.id)
    assert ran.last_window_end == 2000 and ran.last_run_at is not None
    assert mons.get(pid, "churn") == ran == mons.find(pid, "churn")
    assert mons.find(pid, "nope") is None
    with pytest.raises(NotFoundError, match="monitor id 999999"):
        mons.get_by_id(999_999)
    with pytest.raises(NotFoundError, match="monitor id 999999"):
        mons.mark_run(999_999, 1)
    with pytest.raises(ValueError):  # NaN has no JSON form
        mons.upsert(pid, "churn", config={"p": float("nan")})
    mons.delete(pid, "churn")
    with pytest.raises(NotFoundError, match="keel monitor set churn"):
        mons.get(pid, "churn")
    with pytest.raises(NotFoundError, match="no monitor to delete"):
        mons.delete(pid, "churn")

    first = store.blobs.put_bytes(b'{"profile": 1}')
    second = store.blobs.put_bytes(b'{"profile": 2}')
    mons.put_reference(pid, "model:churn/1", blob_sha=first.sha, num_rows=10, num_columns=3)
    again = mons.put_reference(
        pid, "model:churn/1", blob_sha=second.sha, num_rows=20, num_columns=3, source="ds@2"
    )
    assert (again.blob_sha, again.num_rows, again.source) == (second.sha, 20, "ds@2")
    assert mons.list_references(pid) == [again] == [mons.get_reference(pid, "model:churn/1")]
    assert mons.find_reference(pid, "model:nope/1") is None
    with pytest.raises(NotFoundError, match="keel monitor reference"):
        mons.get_reference(pid, "model:nope/1")
    with pytest.raises(InvalidArgumentError, match="must be 1-512 characters"):
        mons.put_reference(pid, "", blob_sha=first.sha, num_rows=1, num_columns=1)


def test_alerts_dedupe_acknowledge_resolve(store: Store) -> None:
    alerts = store.alerts
    pid = store.projects.get_or_create("default").id
    monitor = store.monitors.upsert(pid, "churn")
    first, event = alerts.record(pid, _alert(monitor_id=monitor.id, window_start=1, window_end=2))
    assert event == "opened" and first.state is AlertState.OPEN and first.occurrences == 1
    assert (first.monitor_id, first.evidence, first.window_end) == (
        monitor.id,
        {"p": 0.001, "column": "x"},
        2,
    )
    again, event = alerts.record(pid, _alert(monitor_id=monitor.id))
    assert (event, again.id, again.occurrences) == ("repeated", first.id, 2)
    louder, event = alerts.record(pid, _alert(severity="critical", monitor_id=monitor.id))
    assert (event, louder.severity) == ("escalated", "critical")
    acked = alerts.acknowledge(pid, first.id, by="ana", note="looking")
    assert (acked.state, acked.acknowledged_by, acked.note) == (
        AlertState.ACKNOWLEDGED,
        "ana",
        "looking",
    )
    assert alerts.get(pid, first.id) == acked
    resolved = alerts.resolve(pid, first.id, by="ana")
    assert resolved.state is AlertState.RESOLVED and resolved.resolved_at is not None
    with pytest.raises(ConflictError, match="already resolved"):
        alerts.resolve(pid, first.id)
    reopened, event = alerts.record(pid, _alert())
    assert event == "opened" and reopened.id != first.id

    for key in ("drift:y", "drift:z"):
        alerts.record(pid, _alert(key, monitor_id=monitor.id))
    closed = alerts.resolve_absent(pid, monitor.id, ["drift"], {"drift:y"}, by="monitor")
    assert [(a.dedup_key, a.resolved_by) for a in closed] == [("drift:z", "monitor")]
    live = alerts.list(pid, state="live")
    assert sorted(a.dedup_key for a in live) == ["drift:x", "drift:y"]
    assert [a.id for a in alerts.list(pid, state="resolved")] == [closed[0].id, first.id]
    assert len(alerts.list(pid, deployment="churn", kind="drift", since=0, limit=2)) == 2
    assert alerts.list(pid, deployment="fraud") == []
    assert alerts.latest_id(pid) == max(a.id for a in alerts.list(pid))
    assert alerts.latest_id(pid, kind="schema") is None
    listed = alerts.list(pid)  # driver-level SQL: every field as get() reads it
    assert listed == [alerts.get(pid, a.id) for a in listed] and len(listed) == 4
    assert any(a.evidence for a in listed) and listed[-1].state is AlertState.RESOLVED

    with pytest.raises(NotFoundError, match="alert 999999 does not exist"):
        alerts.acknowledge(pid, 999_999)
    with pytest.raises(NotFoundError, match="alert 999999 does not exist"):
        alerts.get(pid, 999_999)
    with pytest.raises(InvalidArgumentError, match="NaN"):
        alerts.record(pid, NewAlert("drift", "info", "k", "t", evidence={"p": float("nan")}))
    with pytest.raises(ValueError):
        alerts.list(pid, state="sleeping")


def test_notifiers_and_deliveries(store: Store) -> None:
    alerts = store.alerts
    pid = store.projects.get_or_create("default").id
    ops = alerts.add_notifier(pid, "ops", "webhook", {"url": SECRET_URL, "format": "json"})
    assert (ops.name, ops.kind, ops.config, ops.min_severity, ops.enabled) == (
        "ops",
        "webhook",
        {"url": SECRET_URL, "format": "json"},
        "warning",
        True,
    )
    alerts.add_notifier(pid, "pager", "log", {}, min_severity="critical")
    alerts.add_notifier(pid, "fraud-only", "log", {}, deployment="fraud")
    with pytest.raises(AlreadyExistsError, match="notifier 'ops' exists"):
        alerts.add_notifier(pid, "ops", "log", {})
    with pytest.raises(InvalidArgumentError, match="'sms' is not one of"):
        alerts.add_notifier(pid, "x", "sms", {})
    with pytest.raises(InvalidArgumentError, match="min_severity 'loud'"):
        alerts.add_notifier(pid, "x", "log", {}, min_severity="loud")
    assert [n.name for n in alerts.list_notifiers(pid)] == ["fraud-only", "ops", "pager"]
    assert alerts.get_notifier(pid, "ops") == ops == alerts.get_notifier_by_id(ops.id)
    with pytest.raises(NotFoundError, match="notifier id 999999"):
        alerts.get_notifier_by_id(999_999)

    alert, _ = alerts.record(pid, _alert())
    queued = alerts.enqueue(alert, "opened")
    assert [(d.notifier_id, d.event, d.status, d.attempts) for d in queued] == [
        (ops.id, "opened", "pending", 0)
    ]
    assert alerts.deliveries(alert.id) == queued

    alerts.remove_notifier(pid, "ops")
    with pytest.raises(NotFoundError, match="notifier 'ops' does not exist"):
        alerts.get_notifier(pid, "ops")
    with pytest.raises(NotFoundError, match="notifier 'ops' does not exist"):
        alerts.remove_notifier(pid, "ops")
    assert alerts.enqueue(alert, "opened") == []


def test_delivery_leases_stay_on_the_server(remote_store: Store, server_store: Store) -> None:
    pid = remote_store.projects.get_or_create("default").id
    remote_store.alerts.add_notifier(pid, "ops", "log", {})
    alert, _ = remote_store.alerts.record(pid, _alert())
    (queued,) = remote_store.alerts.enqueue(alert, "opened")
    with pytest.raises(ConfigError, match="keel alerts deliver"):
        remote_store.alerts.claim_due(pid, now=queued.next_attempt_at, lease_ms=1000)
    with pytest.raises(ConfigError, match="without KEEL_SERVER_URL"):
        remote_store.alerts.finish_delivery(queued.id, ok=True)
    with pytest.raises(NotFoundError, match="alert id 999999 does not exist"):
        remote_store.alerts.deliveries(999_999)  # SQL answers []; an id not yours is 404
    claimed = server_store.alerts.claim_due(pid, now=queued.next_attempt_at, lease_ms=1000)
    assert [d.id for d in claimed] == [queued.id]  # the server's own process can


# -- pipeline runs, the step cache and schedules (test_server_pipelines_remote.py) -------------
def _parent(store: Store) -> tuple[int, int, str]:
    pid = store.projects.get_or_create("default").id
    exp = store.experiments.get_or_create(pid, "flow")
    return pid, exp.id, store.runs.create(exp.id, name="flow").id


def test_pipeline_runs_and_their_steps(store: Store) -> None:
    runs = store.pipeline_runs
    pid, exp_id, parent = _parent(store)
    started = runs.start(
        parent,
        project_id=pid,
        pipeline="flow",
        target="flow.py:flow",
        runner="inprocess",
        params={"lr": "0.1"},
        n_steps=2,
    )
    assert (started.id, started.status, started.params, started.ended_at) == (
        parent,
        "RUNNING",
        {"lr": "0.1"},
        None,
    )
    child = ChildRun(
        id=uuid.uuid4().hex,
        experiment_id=exp_id,
        parent_id=parent,
        name="base",
        status=RunStatus.FINISHED.value,
        start_time=started.started_at,
        end_time=started.started_at,
        user="ann",
        tags={"keel.step": "base"},
    )
    cached = StepRunInfo("base", "base", StepStatus.CACHED, "a" * 64, child.id, 0, 5, 5)
    running = StepRunInfo("scaled", "scaled", StepStatus.RUNNING, "b" * 64, None, 1, 6)
    runs.record_steps(parent, [cached, running], new_runs=[child])
    ran = StepRunInfo("scaled", "scaled", StepStatus.RAN, "b" * 64, None, 1, 6, 9, 3, "why")
    runs.record_steps(parent, [ran])
    runs.record_steps(parent, [])
    assert runs.steps(parent) == [cached, ran]
    made = store.runs.get(child.id)
    assert (made.info.parent_id, made.info.user, made.tags["keel.step"]) == (parent, "ann", "base")

    done = runs.finish(parent, status="FINISHED", n_cached=1, n_ran=1, n_failed=0)
    assert (done.status, done.n_cached, done.n_ran, done.ended_at is not None) == (
        "FINISHED",
        1,
        1,
        True,
    )
    assert runs.get(parent[:8]) == done
    assert runs.list(pid) == [done]
    assert runs.list(pid, pipeline="other") == []
    with pytest.raises(NotFoundError, match="does not exist"):
        runs.get("0" * 32)
    with pytest.raises(NotFoundError, match="does not exist"):
        runs.finish("0" * 32, status="FAILED", n_cached=0, n_ran=0, n_failed=1)
    assert runs.steps("0" * 32) == []


def test_a_pipeline_run_is_found_in_its_project_by_id_or_prefix(store: Store) -> None:
    """With ``project_id``, get looks in that project alone: another project's run does not
    exist there, and a prefix two projects' runs share names the one of the project."""
    runs, prefix = store.pipeline_runs, "ab" + uuid.uuid4().hex[:6]  # letters: case matters
    pids = [store.projects.get_or_create(name).id for name in ("default", "other")]
    ids = [prefix + uuid.uuid4().hex[:24] for _ in pids]
    for run_id, pid in zip(ids, pids, strict=True):
        runs.start(run_id, project_id=pid, pipeline="p", target="", runner="", params={}, n_steps=0)
    for run_id, pid in zip(ids, pids, strict=True):
        assert runs.get(run_id, project_id=pid).id == run_id
        assert runs.get(prefix, project_id=pid).id == run_id
        assert runs.get(prefix.upper(), project_id=pid).id == run_id  # as on every backend
    assert runs.get(ids[1]).project_id == pids[1]  # unscoped: by id across projects
    with pytest.raises(NotFoundError, match="does not exist"):
        runs.get(prefix)  # unscoped, the prefix is ambiguous
    with pytest.raises(NotFoundError, match=f"'{ids[1]}' does not exist in project 'default'"):
        runs.get(ids[1], project_id=pids[0])


def test_a_run_id_prefix_resolves_the_same_on_every_backend(store: Store) -> None:
    """TrackingClient.resolve_run_id: a prefix as the listings print it, in either case
    (SQLite's LIKE ignores case, PostgreSQL's does not), found in the client's project only;
    LIKE's wildcards are no prefix."""
    mine, theirs = TrackingClient(store, "default"), TrackingClient(store, "other")
    run, other = mine.create_run("e"), theirs.create_run("e")
    for prefix in (run.id[:8], run.id[:8].upper(), run.id.upper()[:31]):
        assert mine.resolve_run_id(prefix) == run.id, prefix
    for prefix in (other.id[:8], other.id[:8].upper(), "______", run.id[:6] + "%"):
        with pytest.raises(NotFoundError, match="no run id starts with"):
            mine.resolve_run_id(prefix)


def _manifest(store: Store, content: bytes) -> dict[str, Any]:
    ref = store.blobs.put_bytes(content)
    one = {"materializer": "bytes", "blob_sha": ref.sha, "size": ref.size, "version": ref.sha}
    return {"materializer": "container", "kind": "list", "items": [one], "version": "v", "size": 3}


def test_step_cache(store: Store) -> None:
    cache = store.step_cache
    pid, _exp_id, run_id = _parent(store)
    manifest = _manifest(store, b"out")
    parts = {"step": "base", "code": "c0de", "inputs": {"n": "4"}, "packages": {}}
    assert cache.get(pid, "k1") is None
    cache.put(
        pid, key="k1", step="base", parts=parts, manifest=manifest, size_bytes=3, run_id=run_id
    )
    entry = cache.get(pid, "k1")
    assert entry is not None
    assert (entry.step, entry.parts, entry.manifest, entry.run_id, entry.size_bytes) == (
        "base",
        parts,
        manifest,
        run_id,
        3,
    )
    assert entry.blob_shas == (manifest["items"][0]["blob_sha"],)
    other = _manifest(store, b"other out")
    cache.put(pid, key="k2", step="base", parts=parts, manifest=other, size_bytes=9, run_id=None)
    cache.put(pid, key="k3", step="scaled", parts=parts, manifest=other, size_bytes=9, run_id=None)
    latest = cache.latest_for_step(pid, "base")
    assert latest is not None and latest.key in ("k1", "k2")
    assert cache.latest_for_step(pid, "nope") is None
    assert cache.stats(pid) == [("base", 2, 12), ("scaled", 1, 9)]
    assert cache.delete(pid, ["k1", "missing"]) == 1
    assert cache.delete(pid, []) == 0
    assert cache.clear(pid, step="scaled") == 1
    assert cache.clear(pid) == 1
    assert cache.stats(pid) == []

    if _is_remote(store):  # the server refuses an entry whose blobs it does not have
        gone = {"materializer": "bytes", "blob_sha": "f" * 64, "size": 1, "version": "f" * 64}
        with pytest.raises(NotFoundError, match="is not on the server; upload it first"):
            cache.put(
                pid, key="k4", step="base", parts=parts, manifest=gone, size_bytes=1, run_id=None
            )
        assert cache.get(pid, "k4") is None


def _add(store: Store, pid: int, name: str, **kw: Any) -> Any:
    return store.schedules.add(
        pid,
        name,
        target="flow.py:train",
        params=kw.get("params", {"lr": 0.1}),
        runner={"runner": "inprocess"},
        cron="0 3 * * *",
        trigger_kind=None,
        trigger_ref=None,
        trigger_baseline="",
        catch_up="latest",
    )


def test_schedules_and_fires(store: Store, request: pytest.FixtureRequest) -> None:
    sch = store.schedules
    pid = store.projects.get_or_create("default").id
    nightly = _add(store, pid, "nightly")
    assert (nightly.name, nightly.params, nightly.runner, nightly.enabled) == (
        "nightly",
        {"lr": 0.1},
        {"runner": "inprocess"},
        True,
    )
    with pytest.raises(AlreadyExistsError, match="'nightly' already exists"):
        _add(store, pid, "nightly")
    weekly = _add(store, pid, "weekly")
    assert sch.get(pid, "nightly") == nightly == sch.get_by_id(nightly.id)
    assert [s.name for s in sch.list(pid)] == ["nightly", "weekly"]
    assert sch.set_enabled(pid, "weekly", False).enabled is False
    assert [s.name for s in sch.list(pid, enabled_only=True)] == ["nightly"]
    assert [s.name for s in sch.list(None)] == ["nightly", "weekly"]

    assert sch.last_due(nightly.id) is None
    fire = sch.claim(nightly.id, "2026-01-01T03:00", due_at=1000, claimed_by="s1", lease_ms=60_000)
    assert fire is not None and (fire.status, fire.claimed_by) == ("claimed", "s1")
    again = sch.claim(nightly.id, "2026-01-01T03:00", due_at=1000, claimed_by="s2", lease_ms=1)
    assert again is None
    assert sch.has_occurrence(nightly.id, "2026-01-01T03:00")
    assert not sch.has_occurrence(nightly.id, "2026-01-02T03:00")
    assert sch.last_due(nightly.id) == 1000
    sch.update_fire(fire.id, status="done", pipeline_run_id="r" * 32, error="", ended=True)
    finished = sch.get_fire(fire.id)
    assert (finished.status, finished.pipeline_run_id, finished.ended_at is not None) == (
        "done",
        "r" * 32,
        True,
    )
    assert sch.fires(nightly.id) == [finished]
    with pytest.raises(NotFoundError, match="does not exist"):
        sch.get_fire(fire.id + 1000)

    sch.remove(pid, "weekly")
    with pytest.raises(NotFoundError, match="'weekly' does not exist"):
        sch.get(pid, "weekly")
    with pytest.raises(NotFoundError, match=f"schedule id {weekly.id} does not exist"):
        sch.get_by_id(weekly.id)

    server = _server_side(store, request).schedules
    server.heartbeat("sched-1", host="h", pid=1, started_at=1)
    assert [s.id for s in sch.schedulers()] == ["sched-1"]
    if _is_remote(store):
        for call in (
            lambda: sch.heartbeat("sched-2", host="h", pid=2, started_at=1),
            lambda: sch.expire_lost(10**15),
            lambda: sch.leave("sched-1"),
        ):
            with pytest.raises(ConfigError, match="run `keel scheduler` where the server's"):
                call()
    server.leave("sched-1")
    assert sch.schedulers() == []


# -- users, comments and logged models ------------------------------------------------------
def test_users_tokens_and_roles(store: Store) -> None:
    users = store.users
    pid = store.projects.get_or_create("team").id
    ada = users.create_user("ada", password="correct horse battery")
    assert users.get_user("ada") == ada and not ada.is_admin
    with pytest.raises(AlreadyExistsError, match="user 'ada' already exists"):
        users.create_user("ada")
    with pytest.raises(InvalidArgumentError, match="at least 12"):
        users.create_user("bob", password="short")
    assert "ada" in [u.name for u in users.list_users()]
    assert users.update_user("ada", is_active=False).is_active is False
    token, secret = users.create_token(ada.id, "ci")
    assert secret.startswith("keel_") and token.prefix == secret[:9]
    assert [(t.id, t.revoked) for t in users.list_tokens(ada.id)] == [(token.id, False)]
    users.revoke_token(token.id)
    assert [t.revoked for t in users.list_tokens(ada.id)] == [True]
    with pytest.raises(NotFoundError, match="token id 424242"):
        users.revoke_token(424242)
    member = users.set_role(pid, ada.id, "writer")
    assert (member.project_id, member.user_name, member.role) == (pid, "ada", Role.WRITER)
    assert users.members(pid) == [member]
    assert users.set_role(pid, ada.id, Role.ADMIN).role is Role.ADMIN
    users.remove_member(pid, ada.id)
    assert users.members(pid) == []
    with pytest.raises(NotFoundError, match="not a member"):
        users.remove_member(pid, ada.id)
    users.delete_user("ada")
    with pytest.raises(NotFoundError, match="user 'ada' does not exist"):
        users.get_user("ada")


def test_credentials_stay_on_the_server(sql_store_any: Store) -> None:
    """Checking tokens and passwords is SQL only (Credentials): a client asks the server."""
    store = sql_store_any
    users, creds = store.users, store.credentials
    pid = store.projects.get_or_create("team").id
    rita = users.create_user("rita", password="correct horse battery")
    _, secret = users.create_token(rita.id, "t")
    assert creds.authenticate_token(secret) == rita
    _, second = users.create_token(rita.id, "t2")  # a token id that is not rita's user id
    assert creds.authenticate_token(second) == rita
    assert creds.authenticate_token(secret + "x") is None
    assert creds.verify_password("rita", "correct horse battery") == rita
    assert creds.verify_password("rita", "wrong horse battery") is None
    assert creds.verify_password("nobody", "correct horse battery") is None
    users.set_role(pid, rita.id, "reader")
    assert creds.role_of(pid, rita.id) is Role.READER and creds.memberships(rita.id) == {
        pid: Role.READER
    }
    assert creds.server_key("k") == creds.server_key("k") != creds.server_key("other")
    users.update_user("rita", is_active=False)
    assert creds.authenticate_token(secret) is None


def test_comments_add_list_get_delete(store: Store) -> None:
    comments = store.comments
    pid = store.projects.get_or_create("default").id
    other = store.projects.get_or_create("other").id
    first = comments.add(pid, "run", "abc", "**looks good**", author="rita", context="r1,r2")
    assert (first.subject_kind, first.subject_id, first.author, first.context) == (
        "run",
        "abc",
        "rita",
        "r1,r2",
    )
    comments.add(pid, "run", "abc", "<b>second</b>")
    comments.add(pid, "run", "xyz", "elsewhere")
    assert [c.body for c in comments.list(pid, "run", "abc")] == ["**looks good**", "<b>second</b>"]
    assert comments.get(pid, first.id) == first
    with pytest.raises(InvalidArgumentError, match="'dataset' is not one of"):
        comments.add(pid, "dataset", "1", "hi")
    with pytest.raises(InvalidArgumentError, match="cannot be empty"):
        comments.add(pid, "run", "abc", "   ")
    with pytest.raises(NotFoundError, match=f"comment {first.id} does not exist"):
        comments.get(other, first.id)
    comments.delete(pid, first.id)
    with pytest.raises(NotFoundError):
        comments.get(pid, first.id)
    with pytest.raises(NotFoundError):
        comments.delete(pid, first.id)


def test_logged_models_and_their_files(store: Store) -> None:
    models = store.logged_models
    pid = store.projects.get_or_create("default").id
    exp = store.experiments.create(pid, "lm")
    run = store.runs.create(exp.id)
    made = models.create(
        exp.id,
        "clf",
        source_run_id=run.id,
        model_type="sklearn",
        params={"C": "1"},
        tags={"a": "b"},
    )
    assert (made.status, made.source_run_id, made.params) == (
        "LOGGED_MODEL_PENDING",
        run.id,
        {"C": "1"},
    )
    assert models.get(made.id) == made
    assert models.finalize(made.id, "LOGGED_MODEL_READY").status == "LOGGED_MODEL_READY"
    with pytest.raises(InvalidArgumentError, match="'DONE' is not one of"):
        models.finalize(made.id, "DONE")
    assert models.set_tags(made.id, {"c": "d"}).tags == {"a": "b", "c": "d"}
    models.delete_tag(made.id, "a")
    with pytest.raises(NotFoundError, match="has no tag 'a'"):
        models.delete_tag(made.id, "a")
    assert models.log_params(made.id, {"D": "2"}).params == {"C": "1", "D": "2"}
    models.create(exp.id, "other")
    page, more = models.search([exp.id], max_results=1)
    assert len(page) == 1 and more
    page, more = models.search([exp.id], name="clf")
    assert ([m.id for m in page], more) == ([made.id], False)
    blob = store.blobs.put_bytes(b"weights")
    added = models.add_files(made.id, [("model/w.bin", blob), ("MLmodel", blob)])
    assert sorted(f.path for f in added) == ["MLmodel", "model/w.bin"]
    assert [f.path for f in models.list_files(made.id, "model")] == ["model/w.bin"]
    assert models.delete_files(made.id, "model") == 1
    assert [f.path for f in models.list_files(made.id)] == ["MLmodel"]
    models.delete(made.id)
    with pytest.raises(NotFoundError, match=f"logged model '{made.id}' does not exist"):
        models.get(made.id)
    with pytest.raises(NotFoundError, match="experiment id 424242 does not exist"):
        models.create(424242, "x")


# -- SQL-only reads: the UI's counts and charts, keel sql's metadata tables -----------------
def test_run_stats_count_activity_and_sample(sql_store_any: Store) -> None:
    store = sql_store_any
    stats = store.run_stats
    project = store.projects.get_or_create("counts")
    exp = store.experiments.create(project.id, "e")
    ids = []
    for i in range(5):
        run = store.runs.create(exp.id, name=f"r{i}")
        points = [Metric("auc", i / 10 + s / 100, s, 1_000 + s) for s in range(50)]
        store.runs.log_batch(run.id, metrics=points)
        ids.append(run.id)
    store.runs.delete(ids[0])  # deleted runs do not count
    assert stats.count(exp.id, None) == 4
    assert stats.count(exp.id, "metrics.auc >= 0.75") == 2
    assert stats.count(exp.id, None, cap=2) == 3  # more than the cap: cap + 1
    latest = max(store.runs.get_info(i).start_time for i in ids[1:])
    assert stats.by_experiment([exp.id])[exp.id].runs == 4
    activity = stats.by_project([project.id])[project.id]
    assert activity.runs == 4 and activity.last_ms is not None and activity.last_ms >= latest
    assert stats.by_experiment([]) == {} and stats.by_project([10**6]) == {}
    series = stats.sample_history(ids[1:3], "auc", points=10)
    assert [(s.run_id, s.total, len(s.steps)) for s in series] == [
        (ids[1], 11, 10),
        (ids[2], 11, 10),
    ]
    assert min(series[0].low) == pytest.approx(0.1) and max(series[0].high) == pytest.approx(0.59)
    assert stats.latest_points(ids[1:2], "auc") == [(ids[1], 49, 1_049)]
    assert stats.latest_points([], "auc") == [] and stats.sample_history(ids, "nope") == []
    with pytest.raises(InvalidArgumentError, match="points must be between"):
        stats.sample_history(ids, "auc", points=0)


def test_metadata_tables_are_scoped_to_the_project(sql_store_any: Store) -> None:
    store = sql_store_any
    mine = store.projects.get_or_create("mine").id
    theirs = store.projects.get_or_create("theirs").id
    store.experiments.create(mine, "ours")
    exp = store.experiments.create(theirs, "hidden")
    store.runs.create(exp.id)
    tables = store.metadata_tables
    assert tables.read(mine, "experiments").column("name").to_pylist() == ["ours"]
    assert tables.read(mine, "runs").num_rows == 0
    assert tables.read(theirs, "runs").num_rows == 1

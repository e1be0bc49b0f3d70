"""The repository contract against the remote backend (and SQLite/PostgreSQL alongside).

The run and experiment contract of ``tests/store/test_runs_contract.py`` is loaded as is
and run here with ``store`` bound to the remote backend; the tests below add artifacts,
blobs, datasets and the tracking SDK, run against all three backends.
"""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path

import pytest

from keel.store import REPOSITORIES, BlobStore, Store, repository_class
from keel.store.protocols import PROTOCOLS
from keel.store.remote import RemoteBlobStore, _repositories
from keel.store.remote._http import Http

_path = Path(__file__).parents[1] / "store" / "test_runs_contract.py"
_spec = importlib.util.spec_from_file_location("keel_runs_contract_for_remote", _path)
assert _spec is not None and _spec.loader is not None
_contract = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_contract)
globals().update(
    {f"test_remote_{k[5:]}": v for k, v in vars(_contract).items() if k.startswith("test_")}
)
exp_id = _contract.exp_id


@pytest.fixture
def store(remote_store: Store) -> Store:
    """The imported run contract runs here against the remote backend only."""
    return remote_store


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


def test_remote_blob_store_overrides_every_public_method() -> None:
    public = _public(BlobStore)
    missing = sorted(n for n in public if n not in vars(RemoteBlobStore))
    assert missing == [], f"RemoteBlobStore falls through to the local store for {missing}"

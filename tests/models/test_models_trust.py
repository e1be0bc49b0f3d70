"""Strict by default: unsigned, re-signed or stripped packages run nothing unless opted out."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

import keel
from keel.exceptions import UntrustedModelError
from keel.models import SIGNATURE_FILE, Keyring, Registry, load, log_model, save
from keel.store import Store


@pytest.fixture
def tracked(sqlite_store: Store) -> Iterator[Store]:
    keel.init(settings=sqlite_store.settings)
    yield sqlite_store
    keel.end_run()


def _save(folder: Path, pipeline: Pipeline, X: pd.DataFrame, keyring: Keyring | None) -> Path:
    save(pipeline, folder, input_example=X.head(5), keyring=keyring, sign=keyring is not None,
         onnx=False)  # fmt: skip
    return folder


def test_an_unsigned_package_is_refused_by_default_with_a_one_line_reason(
    tmp_path: Path, pipeline: Pipeline, cancer: tuple[pd.DataFrame, pd.Series]
) -> None:
    folder = _save(tmp_path / "pkg", pipeline, cancer[0], None)
    with pytest.raises(UntrustedModelError, match="not signed") as info:
        load(folder)
    assert "\n" not in str(info.value)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        assert load(folder, trust="warn").predict(cancer[0].head(3)) is not None
    assert load(folder, trust="off").predict(cancer[0].head(3)) is not None


def test_a_package_re_signed_by_an_unknown_key_is_refused(
    tmp_path: Path, pipeline: Pipeline, cancer: tuple[pd.DataFrame, pd.Series]
) -> None:
    mine = Keyring(tmp_path / "mine")
    mine.generate("me")
    theirs = Keyring(tmp_path / "theirs")
    theirs.generate("mallory")
    folder = _save(tmp_path / "pkg", pipeline, cancer[0], theirs)
    with pytest.raises(UntrustedModelError, match="does not trust"):
        load(folder, keyring=mine)
    (folder / SIGNATURE_FILE).unlink()  # stripping the signature does not help either
    with pytest.raises(UntrustedModelError, match="not signed"):
        load(folder, keyring=mine)


def test_my_own_key_is_trusted_for_my_own_packages(
    tmp_path: Path, pipeline: Pipeline, cancer: tuple[pd.DataFrame, pd.Series]
) -> None:
    mine = Keyring(tmp_path / "mine")
    mine.generate("me")
    folder = _save(tmp_path / "pkg", pipeline, cancer[0], mine)
    assert load(folder, keyring=mine).predict(cancer[0].head(3)) is not None


def test_first_log_model_creates_a_trusted_key_and_loads_strictly(
    tracked: Store, pipeline: Pipeline, cancer: tuple[pd.DataFrame, pd.Series]
) -> None:
    keyring = Keyring(tracked.settings.home / "keys")
    assert not keyring.has_signing_key()
    with keel.start_run(experiment="trust", capture_env=False):
        info = log_model(pipeline, "model", input_example=cancer[0].head(5), onnx=False,
                         registered_model_name="own")  # fmt: skip
    assert keyring.has_signing_key()
    assert info.version is not None and info.version.signer == keyring.public_key().key_id
    loaded = load("models:/own@1", store=tracked)
    assert loaded.verified.trusted


def test_serving_loads_refuse_an_unsigned_registered_model(
    tracked: Store, tmp_path: Path, pipeline: Pipeline, cancer: tuple[pd.DataFrame, pd.Series]
) -> None:
    from keel.serving._deploy import load_model

    folder = _save(tmp_path / "pkg", pipeline, cancer[0], None)
    Registry(tracked).register(folder, "unsigned")
    with pytest.raises(UntrustedModelError, match="not signed"):
        load_model(tracked, "default", "unsigned/1")
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        assert load_model(tracked, "default", "unsigned/1", trust="warn") is not None


def test_keel_serve_of_an_unsigned_package_is_refused_with_one_line(
    keel_home: Path, run_keel: Any, tmp_path: Path, pipeline: Pipeline,
    cancer: tuple[pd.DataFrame, pd.Series],
) -> None:  # fmt: skip
    from keel.config import Settings
    from keel.store import open_store

    folder = _save(tmp_path / "pkg", pipeline, cancer[0], None)
    store = open_store(Settings.for_home(keel_home))
    Registry(store).register(folder, "unsigned")
    store.close()
    proc = run_keel("serve", "unsigned/1", "--port", "0", check=False)
    assert proc.returncode != 0
    reason = [line for line in proc.stderr.splitlines() if "not signed" in line]
    assert reason, proc.stderr[-2000:]


def test_import_records_the_authors_file_apart_from_the_importer(
    tracked: Store, tmp_path: Path, pipeline: Pipeline
) -> None:
    import hashlib

    import skops.io as sio

    from keel.models import import_model

    src = tmp_path / "model.skops"
    sio.dump(pipeline, src)
    version = import_model(Registry(tracked), src, "imported", onnx=False)
    prov = version.lineage["provenance"]
    assert prov["source_sha256"] == hashlib.sha256(src.read_bytes()).hexdigest()
    importer = Keyring(tracked.settings.home / "keys").public_key().key_id
    assert prov["imported_by"] == importer == version.signer
    assert prov["source_signed"] is None  # no signature beside it: unknown, not "unsigned"
    assert prov["source_signature"] is None
    assert json.dumps(prov)


def test_import_records_and_checks_the_authors_detached_signature(
    tracked: Store, tmp_path: Path, pipeline: Pipeline
) -> None:
    import skops.io as sio

    from keel.exceptions import TamperedModelError
    from keel.models import import_model, sign_file

    src = tmp_path / "model.skops"
    sio.dump(pipeline, src)
    author = Keyring(tmp_path / "author")
    author.generate("alice")
    public = author.public_key()
    sig = sign_file(src, author)
    assert sig == tmp_path / "model.skops.sig"
    version = import_model(Registry(tracked), src, "signed", onnx=False)
    prov = version.lineage["provenance"]
    assert prov["source_signed"] is True
    found = prov["source_signature"]
    assert (found["format"], found["verified"], found["key_id"], found["signer"]) == (
        "keel",
        True,
        public.key_id,
        "alice",
    )
    # the author is named apart from the importer, who re-signed the package
    assert prov["author"] == {"key_id": public.key_id, "name": "alice", "trusted": False}
    assert prov["imported_by"] == version.signer != public.key_id

    Registry(tracked).keyring.trust(public)  # once trusted here, the author is marked so
    prov = import_model(Registry(tracked), src, "trusted", onnx=False).lineage["provenance"]
    assert prov["author"]["trusted"] is True

    elsewhere = tmp_path / "elsewhere.sig"  # a signature kept apart from the file
    sig.rename(elsewhere)
    prov = import_model(Registry(tracked), src, "apart", onnx=False, signature=elsewhere)
    assert prov.lineage["provenance"]["author"]["key_id"] == public.key_id

    other = tmp_path / "other.skops"
    other.write_bytes(src.read_bytes() + b"\0")  # not the bytes alice signed
    sign_file(src, author, other.with_name("other.skops.sig"))
    with pytest.raises(TamperedModelError, match=r"does not match other\.skops") as info:
        import_model(Registry(tracked), other, "forged", onnx=False)
    assert "\n" not in str(info.value)
    assert "forged" not in [m.name for m in Registry(tracked).list_models()]

    elsewhere.unlink()
    (tmp_path / "model.skops.sigstore.json").write_text('{"mediaType": "sigstore bundle"}')
    prov = import_model(Registry(tracked), src, "sigstore", onnx=False).lineage["provenance"]
    assert prov["source_signature"]["format"] == "sigstore"
    assert prov["source_signature"]["verified"] is False  # recorded, not verified by keel
    assert prov["author"] is None

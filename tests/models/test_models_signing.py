"""Signing and verification: any changed, swapped, removed or added file is refused."""

from __future__ import annotations

import shutil
import stat
import warnings
from pathlib import Path

import pandas as pd
import pytest
import yaml
from sklearn.pipeline import Pipeline

from keel.exceptions import TamperedModelError, UnsafeModelError, UntrustedModelError
from keel.models import (
    MANIFEST_FILE,
    SIGNATURE_FILE,
    Keyring,
    UntrustedModelWarning,
    load,
    save,
    verify_package,
)
from keel.models._manifest import sha256_file


@pytest.fixture
def signed(
    tmp_path: Path, pipeline: Pipeline, cancer: tuple[pd.DataFrame, pd.Series], keyring: Keyring
) -> Path:
    X, _y = cancer
    folder = tmp_path / "pkg"
    save(pipeline, folder, input_example=X.head(20), keyring=keyring, sign=True, onnx=False)
    return folder


def test_generate_writes_a_private_key_only_the_owner_can_read(keyring: Keyring) -> None:
    mode = stat.S_IMODE((keyring.root / "signing-key.pem").stat().st_mode)
    assert mode == 0o600
    assert keyring.public_key().key_id in keyring.trusted()


def test_signed_package_verifies_and_loads_under_strict(signed: Path, keyring: Keyring) -> None:
    verified = verify_package(signed, policy="strict", keyring=keyring)
    assert verified.trusted and verified.signature is not None
    assert verified.signature.signer == "tester"
    assert load(signed, trust="strict", keyring=keyring).predict is not None


def _files(folder: Path) -> list[str]:
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.name not in (MANIFEST_FILE, SIGNATURE_FILE)
    )


def test_one_changed_byte_in_any_file_is_refused_naming_it(signed: Path, keyring: Keyring) -> None:
    names = _files(signed)
    assert "model.skops" in names and len(names) >= 3
    for name in names:
        copy = signed.with_name(f"copy-{name.replace('/', '_')}")
        shutil.copytree(signed, copy)
        path = copy / name
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
        with pytest.raises(TamperedModelError, match=name.replace(".", r"\.")):
            load(copy, trust="strict", keyring=keyring)
        with pytest.raises(TamperedModelError, match=name.replace(".", r"\.")):
            load(copy, trust="warn", keyring=keyring)


def test_manifest_edited_to_match_a_swapped_file_is_refused(
    signed: Path, keyring: Keyring, tmp_path: Path
) -> None:
    other = tmp_path / "other.skops"
    shutil.copy(signed / "model.skops", other)
    data = bytearray(other.read_bytes())
    data[-30] ^= 0xFF
    (signed / "model.skops").write_bytes(bytes(data))
    doc = yaml.safe_load((signed / MANIFEST_FILE).read_text())
    doc["files"]["model.skops"] = {
        "sha256": sha256_file(signed / "model.skops"),
        "size": len(data),
    }
    (signed / MANIFEST_FILE).write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(TamperedModelError, match=r"keel-model\.yaml was changed after"):
        load(signed, trust="warn", keyring=keyring)


def test_removed_and_added_files_are_refused(signed: Path, keyring: Keyring) -> None:
    extra = signed / "code" / "sitecustomize.py"
    extra.parent.mkdir()
    extra.write_text("print('hi')\n")
    with pytest.raises(TamperedModelError, match=r"code/sitecustomize\.py"):
        load(signed, keyring=keyring)
    shutil.rmtree(extra.parent)
    (signed / "requirements.txt").unlink()
    with pytest.raises(TamperedModelError, match=r"requirements\.txt is listed"):
        load(signed, keyring=keyring)


def test_unknown_signer_is_refused_under_strict_and_warned_under_warn(
    signed: Path, tmp_path: Path
) -> None:
    stranger = Keyring(tmp_path / "stranger-keys")
    with pytest.raises(UntrustedModelError, match="which this machine does not trust"):
        load(signed, trust="strict", keyring=stranger)
    with pytest.warns(UntrustedModelWarning, match="tester"):
        load(signed, trust="warn", keyring=stranger)


def test_trusting_the_exported_public_key_makes_strict_pass(
    signed: Path, keyring: Keyring, tmp_path: Path
) -> None:
    from keel.models import parse_public_key

    other = Keyring(tmp_path / "colleague")
    other.trust(parse_public_key(keyring.public_key().pem, "alice"))
    verified = verify_package(signed, policy="strict", keyring=other)
    assert verified.signature is not None and verified.signature.signer == "alice"


def test_unsigned_package_refused_under_strict(
    tmp_path: Path, pipeline: Pipeline, cancer: tuple[pd.DataFrame, pd.Series], keyring: Keyring
) -> None:
    X, _ = cancer
    folder = tmp_path / "unsigned"
    save(pipeline, folder, input_example=X.head(5), onnx=False)
    assert not (folder / SIGNATURE_FILE).exists()
    with pytest.raises(UntrustedModelError, match="not signed"):
        load(folder, trust="strict", keyring=keyring)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UntrustedModelWarning):
            load(folder, trust="warn", keyring=keyring)
    assert load(folder, trust="off", keyring=keyring).predict(X.head(2)).shape == (2,)


def test_forged_signature_file_is_refused(signed: Path, keyring: Keyring, tmp_path: Path) -> None:
    forger = Keyring(tmp_path / "forger")
    forger.generate("mallory")
    sig = (signed / SIGNATURE_FILE).read_text()
    from keel.models._signing import sign_package

    sign_package(signed, forger, MANIFEST_FILE)  # re-signed by a key nobody trusts
    with pytest.raises(UntrustedModelError, match="mallory"):
        load(signed, trust="strict", keyring=keyring)
    (signed / SIGNATURE_FILE).write_text(sig.replace('"key_id": "', '"key_id": "0'))
    with pytest.raises(TamperedModelError):
        load(signed, trust="warn", keyring=keyring)


def test_pickle_in_a_package_is_refused_without_explicit_trust(
    signed: Path, keyring: Keyring, tmp_path: Path
) -> None:
    import pickle

    from keel.models._manifest import Manifest, hash_files, package_files
    from keel.models._signing import sign_package

    (signed / "extra.txt").write_bytes(pickle.dumps({"w": [1.0]}))
    manifest = Manifest.from_yaml((signed / MANIFEST_FILE).read_bytes())
    files = hash_files(
        signed, package_files(signed, exclude=frozenset({MANIFEST_FILE, SIGNATURE_FILE}))
    )
    rebuilt = Manifest(**{**manifest.__dict__, "files": files})
    (signed / MANIFEST_FILE).write_bytes(rebuilt.to_yaml())
    sign_package(signed, keyring, MANIFEST_FILE)
    with pytest.raises(UnsafeModelError, match=r"extra\.txt is a pickle"):
        load(signed, trust="strict", keyring=keyring)
    assert load(signed, trust="strict", keyring=keyring, allow_pickle=True) is not None

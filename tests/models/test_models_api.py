"""The public surface of keel.models is deliberate: this list changes only on purpose."""

from __future__ import annotations

import keel
import keel.models


def test_models_surface_is_pinned() -> None:
    assert set(keel.models.__all__) == {
        "MANIFEST_FILE", "SIGNATURE_FILE", "ColumnSpec", "FileEntry", "Finding", "HistoryRow",
        "Keyring", "LoadedModel", "Manifest", "ModelInfo", "ModelSignature", "PublicKey",
        "PythonModel", "Registry", "ReproduceError", "ReproduceReport", "SaveOptions",
        "ScanResult", "TrustPolicy", "UntrustedModelWarning", "Verified", "VersionRef", "chart",
        "global_verdict", "history", "import_model", "infer_signature", "load",
        "load_pickle_file", "log_model", "pack_archive", "parse_public_key", "parse_ref",
        "register_model", "reproduce", "reproduction_context", "resolve_version", "run_lineage",
        "save", "scan_bytes",
        "scan_file", "scan_package", "unpack_archive", "verify_package",
        "FileSignature", "check_file_signature", "file_sha256", "sign_file",
        # the card `keel models import` builds from a YAML file and options
        "card_from",
    }  # fmt: skip
    for name in keel.models.__all__:
        assert getattr(keel.models, name) is not None
    assert keel.log_model is keel.models.log_model


def test_refs_parse_every_spelling() -> None:
    from keel.exceptions import InvalidArgumentError
    from keel.models import VersionRef, parse_ref

    assert parse_ref("churn@3") == VersionRef("churn", version=3)
    assert parse_ref("models:/churn/3") == VersionRef("churn", version=3)
    assert parse_ref("churn@champion") == VersionRef("churn", alias="champion")
    assert parse_ref("models:/churn") == parse_ref("churn@latest") == VersionRef("churn")
    for bad in ("", "@3", "churn/champion", "../x@1"):
        try:
            parse_ref(bad)
        except InvalidArgumentError:
            continue
        raise AssertionError(f"{bad!r} parsed")

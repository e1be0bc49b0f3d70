"""Model packages: one format, signed and scanned, in a registry with aliases.

    import keel

    with keel.start_run(experiment="churn"):
        model.fit(X, y)
        keel.log_model(model, "model", input_example=X.head(), registered_model_name="churn")
    keel.models.Registry(store).promote("churn@1", "champion")
    predictor = keel.models.load("models:/churn@champion")
    predictor.predict(df)            # checks columns and types against the signature

Flavors: scikit-learn (skops), XGBoost, LightGBM, ONNX and python-function. Every load
verifies file hashes and the Ed25519 signature (:mod:`keel.models._signing`) and scans
for pickle-family files (:mod:`keel.models._scan`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from keel._exports import lazy_exports

if TYPE_CHECKING:
    from keel.models._allowlist import global_verdict
    from keel.models._api import ModelInfo, load, log_model, run_lineage, save
    from keel.models._archive import pack as pack_archive
    from keel.models._archive import unpack as unpack_archive
    from keel.models._flavor_python import PythonModel
    from keel.models._history import HistoryRow, chart, history
    from keel.models._import import card_from, import_model
    from keel.models._manifest import MANIFEST_FILE, FileEntry, Manifest
    from keel.models._package import LoadedModel, SaveOptions, scan_package
    from keel.models._registry import Registry, register_model, resolve_version
    from keel.models._reproduce import (
        ReproduceError,
        ReproduceReport,
        reproduce,
        reproduction_context,
    )
    from keel.models._safe_pickle import load_pickle_file
    from keel.models._scan import Finding, ScanResult, scan_bytes, scan_file
    from keel.models._signature import ColumnSpec, ModelSignature, infer_signature
    from keel.models._signing import (
        SIGNATURE_FILE,
        FileSignature,
        Keyring,
        PublicKey,
        check_file_signature,
        file_sha256,
        parse_public_key,
        sign_file,
    )
    from keel.models._uri import VersionRef, parse_ref
    from keel.models._verify import TrustPolicy, UntrustedModelWarning, Verified, verify_package

#: public name -> the module defining it; each loads on first use (PEP 562), so a command
#: that only lists registered models imports no flavor, signing or packaging code.
_EXPORTS: dict[str, str] = {
    "ColumnSpec": "keel.models._signature",
    "FileEntry": "keel.models._manifest",
    "FileSignature": "keel.models._signing",
    "Finding": "keel.models._scan",
    "HistoryRow": "keel.models._history",
    "Keyring": "keel.models._signing",
    "LoadedModel": "keel.models._package",
    "MANIFEST_FILE": "keel.models._manifest",
    "Manifest": "keel.models._manifest",
    "ModelInfo": "keel.models._api",
    "ModelSignature": "keel.models._signature",
    "PublicKey": "keel.models._signing",
    "PythonModel": "keel.models._flavor_python",
    "Registry": "keel.models._registry",
    "ReproduceError": "keel.models._reproduce",
    "ReproduceReport": "keel.models._reproduce",
    "SIGNATURE_FILE": "keel.models._signing",
    "SaveOptions": "keel.models._package",
    "ScanResult": "keel.models._scan",
    "TrustPolicy": "keel.models._verify",
    "UntrustedModelWarning": "keel.models._verify",
    "Verified": "keel.models._verify",
    "VersionRef": "keel.models._uri",
    "card_from": "keel.models._import",
    "chart": "keel.models._history",
    "check_file_signature": "keel.models._signing",
    "file_sha256": "keel.models._signing",
    "global_verdict": "keel.models._allowlist",
    "history": "keel.models._history",
    "import_model": "keel.models._import",
    "infer_signature": "keel.models._signature",
    "load": "keel.models._api",
    "load_pickle_file": "keel.models._safe_pickle",
    "log_model": "keel.models._api",
    "pack_archive": "keel.models._archive",
    "parse_public_key": "keel.models._signing",
    "parse_ref": "keel.models._uri",
    "register_model": "keel.models._registry",
    "reproduce": "keel.models._reproduce",
    "reproduction_context": "keel.models._reproduce",
    "resolve_version": "keel.models._registry",
    "run_lineage": "keel.models._api",
    "save": "keel.models._api",
    "scan_bytes": "keel.models._scan",
    "scan_file": "keel.models._scan",
    "scan_package": "keel.models._package",
    "sign_file": "keel.models._signing",
    "unpack_archive": "keel.models._archive",
    "verify_package": "keel.models._verify",
}
_RENAMED = {"pack_archive": "pack", "unpack_archive": "unpack"}

__all__ = [
    "MANIFEST_FILE",
    "SIGNATURE_FILE",
    "ColumnSpec",
    "FileEntry",
    "FileSignature",
    "Finding",
    "HistoryRow",
    "Keyring",
    "LoadedModel",
    "Manifest",
    "ModelInfo",
    "ModelSignature",
    "PublicKey",
    "PythonModel",
    "Registry",
    "ReproduceError",
    "ReproduceReport",
    "SaveOptions",
    "ScanResult",
    "TrustPolicy",
    "UntrustedModelWarning",
    "Verified",
    "VersionRef",
    "card_from",
    "chart",
    "check_file_signature",
    "file_sha256",
    "global_verdict",
    "history",
    "import_model",
    "infer_signature",
    "load",
    "load_pickle_file",
    "log_model",
    "pack_archive",
    "parse_public_key",
    "parse_ref",
    "register_model",
    "reproduce",
    "reproduction_context",
    "resolve_version",
    "run_lineage",
    "save",
    "scan_bytes",
    "scan_file",
    "scan_package",
    "sign_file",
    "unpack_archive",
    "verify_package",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals(), __all__, _RENAMED)

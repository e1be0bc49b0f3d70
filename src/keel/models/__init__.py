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

from keel.models._allowlist import global_verdict
from keel.models._api import ModelInfo, load, log_model, run_lineage, save
from keel.models._archive import pack as pack_archive
from keel.models._archive import unpack as unpack_archive
from keel.models._flavor_python import PythonModel
from keel.models._history import HistoryRow, chart, history
from keel.models._import import import_model
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

"""Register a model trained elsewhere: an ONNX, skops, XGBoost or LightGBM file from disk.

The file's format is read from its content. It is packaged like a logged model (so it is
signed, verified and served the same way) and registered with ``source = imported`` and
a model card. Pickle and joblib files are accepted only with an explicit trust decision,
after a clean scan, and are re-saved in a safe format.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel.exceptions import (
    InvalidArgumentError,
    NotFoundError,
    TamperedModelError,
    UnsafeModelError,
)
from keel.models._flavor_base import LoadOptions
from keel.models._package import SaveOptions, save_package
from keel.models._registry import Registry
from keel.models._safe_pickle import load_pickle_file
from keel.models._scan import scan_file
from keel.store import ModelVersion

if TYPE_CHECKING:
    import pandas as pd

CARD_FIELDS = ("intended_use", "data", "metrics", "limitations", "authors", "license")


def sniff_format(path: Path) -> str:
    """``onnx``, ``skops``, ``xgboost``, ``lightgbm`` or ``pickle``, from the bytes."""
    head = path.read_bytes()[:4096] if path.stat().st_size < 4096 else _head(path)
    scan = scan_file(path)
    scan.raise_if_unsafe()  # a payload, a bomb or an unreadable pickle: refused by name
    if scan.kind in ("pickle", "joblib", "npy"):
        return "pickle"
    if head.startswith(b"PK\x03\x04"):
        import zipfile

        with zipfile.ZipFile(path) as zf:
            if "schema.json" in zf.namelist():
                return "skops"
        raise InvalidArgumentError(f"{path.name} is a zip archive but not a skops file")
    if head.startswith(b"tree\n") or b"\nversion=v" in head[:200]:
        return "lightgbm"
    if head[:1] in (b"{", b"[") or path.suffix in (".ubj", ".json", ".model", ".xgb", ".bst"):
        return "xgboost"
    if head[:1] == b"\x08":  # protobuf field 1 (ir_version), as every ONNX file starts
        return "onnx"
    raise InvalidArgumentError(
        f"cannot tell the format of {path.name}; keel imports ONNX, skops, XGBoost (JSON/UBJSON) "
        "and LightGBM (text) files"
    )


def _head(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(4096)


def read_model(
    path: Path, fmt: str, *, trust_pickle: bool, trusted_types: Sequence[str]
) -> tuple[Any, str | None]:
    """The model object in ``path`` and the flavor that stores it."""
    if fmt == "onnx":
        return _read_onnx(path), "onnx"
    if fmt == "skops":
        from keel.models._flavor_sklearn import SklearnFlavor

        folder, name = path.parent, path.name
        backend = SklearnFlavor().load(
            folder, {"file": name}, LoadOptions(frozenset(trusted_types))
        )
        return backend.raw, "sklearn"
    if fmt == "xgboost":
        return _read_xgboost(path), "xgboost"
    if fmt == "lightgbm":
        import lightgbm as lgb

        from keel.models._flavor_boost import check_lightgbm_text

        data = path.read_bytes()
        check_lightgbm_text(data, path)
        return lgb.Booster(model_str=data.decode("utf-8")), "lightgbm"
    model = load_pickle_file(path, trust=trust_pickle, trusted_globals=frozenset(trusted_types))
    return model, None


def _read_onnx(path: Path) -> Any:
    """A self-contained ONNX file; tensors stored in other files (external data) are refused."""
    import onnx
    from onnx.external_data_helper import _get_all_tensors, uses_external_data

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf raises its own DecodeError types
        raise InvalidArgumentError(f"{path.name} is not a readable ONNX model ({exc})") from exc
    external = [t.name for t in _get_all_tensors(model) if uses_external_data(t)]
    if external:
        raise UnsafeModelError(
            f"{path.name} keeps tensors in other files (external data: {', '.join(external[:3])}); "
            "keel imports self-contained ONNX files only - save it with all tensors inside"
        )
    return model


def _read_xgboost(path: Path) -> Any:
    import json

    import xgboost as xgb

    booster = xgb.Booster(model_file=str(path))
    meta = json.loads(booster.attr("scikit_learn") or "{}")
    kind = meta.get("_estimator_type")
    cls = {"classifier": xgb.XGBClassifier, "regressor": xgb.XGBRegressor}.get(str(kind))
    if cls is None:
        return booster
    model = cls()
    model.load_model(str(path))
    return model


def example_for(
    model: Any, flavor: str | None, feature_names: Sequence[str] | None
) -> pd.DataFrame:
    """Two rows of zeros with the model's input columns, when no example is given."""
    import pandas as pd

    names = list(feature_names) if feature_names else _feature_names(model, flavor)
    if not names:
        raise InvalidArgumentError(
            "cannot tell this model's input columns; pass input_example (a CSV or Parquet "
            "file of a few rows) or feature_names"
        )
    return pd.DataFrame({n: [0.0, 0.0] for n in names})


def _feature_names(model: Any, flavor: str | None) -> list[str]:
    if hasattr(model, "feature_names_in_"):
        return [str(n) for n in model.feature_names_in_]
    if flavor == "onnx":
        inp = model.graph.input
        dims = inp[0].type.tensor_type.shape.dim if len(inp) == 1 else []
        if len(dims) == 2 and dims[1].dim_value > 0:
            return [f"x{i}" for i in range(dims[1].dim_value)]
        return [i.name for i in inp]
    if flavor == "lightgbm" and hasattr(model, "feature_name"):
        return [str(n) for n in model.feature_name()]
    booster = model.get_booster() if hasattr(model, "get_booster") else model
    names = getattr(booster, "feature_names", None)
    if names:
        return [str(n) for n in names]
    n = getattr(model, "n_features_in_", None) or getattr(booster, "num_features", lambda: 0)()
    return [f"x{i}" for i in range(int(n or 0))]


def read_example(path: str | os.PathLike[str]) -> pd.DataFrame:
    import pandas as pd

    p = Path(path)
    if p.suffix in (".parquet", ".pq"):
        return pd.read_parquet(p)
    return pd.read_csv(p)


def provenance(
    src: Path, registry: Registry, signature: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Who made what: the original file's digest and its author, apart from who imported
    (and re-signed) it.

    The package signature names the importer; ``source_sha256`` names the author's bytes
    and ``author`` the key whose detached signature over them verified (``keel keys
    sign``), so the two are never confused. Whether the author signed the file is looked
    up, not assumed: ``signature`` is what :func:`source_signature` found beside the file
    (``<file>.sig``, ``.sigstore``, ``.asc``...). ``source_signed`` is None when no
    signature was found (keel cannot see one embedded in the file), never a guessed
    ``False``; ``author`` is None unless a keel signature verified.
    """
    from keel.models._signing import file_sha256

    sha256 = file_sha256(src)
    importer = registry.keyring.public_key() if registry.keyring.has_signing_key() else None
    author = None
    if signature is not None and signature.get("verified"):
        if signature["signed_sha256"] != sha256:
            raise TamperedModelError(
                f"{src.name} changed while it was being imported (its signature verified "
                "over other bytes); import it again"
            )
        author = {
            "key_id": signature["key_id"],
            "name": signature["signer"],
            "trusted": signature["trusted"],
        }
    return {
        "source_file": src.name,
        "source_sha256": sha256,
        "source_size": src.stat().st_size,
        "source_signed": True if signature is not None else None,
        "source_signature": signature,
        "author": author,
        "imported_by": importer.key_id if importer else None,
        "imported_by_name": importer.name if importer else None,
    }


#: Detached signature files looked for beside an imported file, by suffix -> format.
SIGNATURE_SUFFIXES = {
    ".sig": "keel or sigstore",
    ".sigstore": "sigstore",
    ".sigstore.json": "sigstore",
    ".asc": "openpgp",
}


def source_signature(
    src: Path, keyring: Any, signature: str | os.PathLike[str] | None = None
) -> dict[str, Any] | None:
    """The detached signature of ``src`` (``signature``, or the first file beside it
    named ``<file>.sig``, ``.sigstore``, ``.sigstore.json`` or ``.asc``): its file, digest
    and format, and for keel's own format (``keel keys sign``: Ed25519 over the file's
    sha256 hex) whom by and whether that key is trusted here.

    A keel signature that does not verify over ``src`` raises TamperedModelError: the
    file is not the one its author signed, so it is not imported. Other formats are
    recorded, not verified.
    """
    import hashlib

    from keel.models._signing import check_file_signature, file_sha256, read_signature_doc

    if signature is not None:
        given = Path(signature)
        if not given.is_file():
            raise NotFoundError(f"no signature file at {str(given)!r}")
        candidates = [(given, SIGNATURE_SUFFIXES.get(given.suffix, "unknown"))]
    else:
        candidates = [(src.with_name(src.name + s), f) for s, f in SIGNATURE_SUFFIXES.items()]
    for path, fmt in candidates:
        if not path.is_file() or path.stat().st_size > 1 << 20:
            continue
        found: dict[str, Any] = {
            "file": path.name,
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "format": fmt,
            "verified": False,
        }
        if read_signature_doc(path) is None:
            return found
        checked = check_file_signature(path, file_sha256(src), keyring, file_name=src.name)
        found.update(
            format="keel",
            verified=True,
            key_id=checked.key_id,
            signer=checked.signer,
            trusted=checked.trusted,
            signed_sha256=checked.sha256,
        )
        return found
    return None


def _input_example(
    given: Any, model: Any, flavor: str | None, feature_names: Sequence[str] | None
) -> Any:
    """The input example: read from a CSV/Parquet path, as given, or derived from the model."""
    example = read_example(given) if isinstance(given, (str, os.PathLike)) else given
    return example_for(model, flavor, feature_names) if example is None else example


def card_from(
    file: str | os.PathLike[str] | None = None,
    metrics: Mapping[str, float] | None = None,
    **fields: str | None,
) -> dict[str, Any]:
    """A model card for :func:`import_model`: the YAML ``file`` (if any), overridden by the
    non-empty ``fields`` (intended_use, data, limitations...), with ``metrics`` unless the
    file has its own."""
    import yaml

    card: dict[str, Any] = yaml.safe_load(Path(file).read_text()) if file else {}
    card.update({k: v for k, v in fields.items() if v})
    if metrics:
        card.setdefault("metrics", dict(metrics))
    return card


def import_model(
    registry: Registry,
    path: str | os.PathLike[str],
    name: str,
    *,
    card: Mapping[str, Any] | None = None,
    metrics: Mapping[str, float] | None = None,
    task: str | None = None,
    input_example: Any = None,
    feature_names: Sequence[str] | None = None,
    trust_pickle: bool = False,
    trusted_types: Sequence[str] = (),
    semver: str | None = None,
    tags: Mapping[str, str] | None = None,
    sign: bool | None = None,
    onnx: bool | str = "auto",
    signature: str | os.PathLike[str] | None = None,
) -> ModelVersion:
    """Package the model file at ``path`` and register it as the next version of ``name``.

    The author's detached signature (``signature``, or ``<file>.sig`` beside it, written
    by ``keel keys sign``) is verified before the file is read: one that does not match
    refuses the import; one that does names its signer as ``author`` in the provenance.
    """
    src = Path(path)
    if not src.is_file():
        raise NotFoundError(f"no model file at {str(src)!r}")
    found = source_signature(src, registry.keyring, signature)
    fmt = sniff_format(src)
    model, flavor = read_model(src, fmt, trust_pickle=trust_pickle, trusted_types=trusted_types)
    example = _input_example(input_example, model, flavor, feature_names)
    card_data = {k: v for k, v in (card or {}).items() if v not in (None, "")}
    card_data.setdefault("imported_from", src.name)
    if sign is not False:
        registry.keyring.ensure_signing_key()
    options = SaveOptions(
        name=name,
        flavor=flavor,
        onnx=onnx if flavor != "onnx" else False,
        task=task,
        metrics=dict(metrics or {}),
        card=card_data,
        lineage={"imported_from": src.name, "format": fmt,
                 "provenance": provenance(src, registry, found)},
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "package"
        save_package(model, folder, example, options, keyring=registry.keyring, sign=sign)
        return registry.register(folder, name, semver=semver, tags=tags, source="imported")


__all__ = ["CARD_FIELDS", "card_from", "import_model", "read_example", "sniff_format"]

"""Synthetic data use cases: fit a model on a dataset version, sample a new, gated version.

A fitted model is stored as a one-file dataset version (``<source>-copula`` by default), so it
is versioned, listed and referenced like any dataset (``customers-copula@1``) with no table
of its own; its source names the version it was fit on. A sampled version's source names the
model and the real version, and carries the full report. The privacy gate is on by default:
a sample that fails it is not written unless ``allow_risky`` gives a reason, which is
recorded in the version's source.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from keel.data._inputs import load_input
from keel.data._synth import CopulaModel, fit_copula, split
from keel.data._synth_report import PrivacyGate, synth_report
from keel.exceptions import InvalidArgumentError

if TYPE_CHECKING:
    import pyarrow as pa

    from keel.data._client import DatasetClient
    from keel.data._ctgan import CtganModel
    from keel.store import DatasetVersion

    Synthesizer = CopulaModel | CtganModel

MODEL_FILE = "model.json"
CTGAN_FILE = "model.npz"
METHODS = ("copula", "ctgan")
CTGAN_EXTRA = "CTGAN needs torch, the optional extra: pip install 'keel[ctgan]'"


class PrivacyGateError(InvalidArgumentError):
    """A synthetic sample failed the privacy gate and no ``allow_risky`` reason was given."""

    def __init__(self, message: str, report: dict[str, Any]) -> None:
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class SynthModel:
    """A fitted synthesiser and the version it is stored as (``ref``, None when unsaved)."""

    model: Synthesizer
    ref: str | None = None


@dataclass(frozen=True)
class SyntheticData:
    """Sampled rows, their report and the version written (None when not saved)."""

    table: pa.Table
    report: dict[str, Any]
    version: DatasetVersion | None


def synth_fit(
    source: Any,
    *,
    method: str = "copula",
    datasets: DatasetClient | None = None,
    name: str | None = None,
    holdout: float = 0.2,
    seed: int = 0,
    epochs: int = 300,
) -> SynthModel:
    """Fit a synthesiser on ``source`` (dataset reference, path, DataFrame, Arrow table).

    ``method``: ``"copula"`` (built in) or ``"ctgan"`` (the extra ``keel[ctgan]``, trained for
    ``epochs`` passes). With ``datasets`` and a dataset reference, the model is saved as a
    version of ``name`` (default ``<dataset>-<method>``).
    """
    if method not in METHODS:
        raise InvalidArgumentError(f"unknown method {method!r}; use one of {METHODS}")
    loaded = load_input(source, datasets, "source")
    model = _fit(method, loaded.table, loaded.lineage, holdout, seed, epochs)
    if datasets is None or (name is None and "dataset" not in loaded.lineage):
        return SynthModel(model)
    name = name or f"{loaded.lineage['dataset'].split('@')[0]}-{method}"
    profile = {
        "files": 1,
        "bytes": 0,
        "extensions": {".npz" if method == "ctgan" else ".json": 1},
        "synth_model": {
            "method": method,
            "columns": len(model.columns),
            "rows_fit": model.rows_fit,
            "notes": model.notes,
        },
    }
    source_meta = {
        "type": "synth_model",
        "method": method,
        "fit_on": loaded.lineage,
        "holdout": holdout,
        "seed": seed,
    }
    if isinstance(model, CopulaModel):
        file, data = MODEL_FILE, model.to_json()
    else:
        file, data, source_meta["epochs"] = CTGAN_FILE, model.to_bytes(), epochs
    version = datasets._log_blob(name, file, data, source_meta, profile)
    return SynthModel(model, version.ref)


def _fit(
    method: str, table: pa.Table, lineage: dict[str, Any], holdout: float, seed: int, epochs: int
) -> Synthesizer:
    if method == "copula":
        return fit_copula(table, lineage, holdout=holdout, seed=seed)
    try:
        import torch  # noqa: F401  (the optional extra)
    except ImportError as exc:
        raise InvalidArgumentError(CTGAN_EXTRA) from exc
    from keel.data._ctgan import fit_ctgan

    return fit_ctgan(table, lineage, holdout=holdout, seed=seed, epochs=epochs)


def synth_sample(
    model: SynthModel | Synthesizer | str,
    n: int,
    *,
    datasets: DatasetClient | None = None,
    name: str | None = None,
    real: Any = None,
    target: str | None = None,
    gate: PrivacyGate | None = None,
    allow_risky: str | None = None,
    seed: int = 0,
) -> SyntheticData:
    """Sample ``n`` rows, report them against the real data, and save them as ``name``.

    The real rows come from ``real`` or from the version the model was fit on. A sample that
    fails ``gate`` raises :class:`PrivacyGateError` (nothing is written) unless
    ``allow_risky`` says why it may be kept; the reason is stored with the version.
    """
    if allow_risky is not None and not allow_risky.strip():
        raise InvalidArgumentError("allow_risky needs a reason, e.g. 'internal load test only'")
    copula, ref = _resolve(model, datasets)
    table = copula.sample(n, seed=seed)
    real_table = _real(copula, real, datasets)
    report = _report(copula, real_table, table, target, gate, seed)
    report["allow_risky"] = allow_risky
    if not report["gate"]["passed"] and allow_risky is None:
        raise PrivacyGateError(
            "the synthetic data failed the privacy gate: "
            + "; ".join(report["gate"]["failures"])
            + ". Nothing was written; pass allow_risky='<reason>' (--allow-risky) to keep it",
            report,
        )
    version = None
    if datasets is not None and (name is not None or ref is not None):
        base = ref.split("@")[0] if ref else "synthetic"
        name = name or base.removesuffix(f"-{copula.method}") + "-synthetic"
        source = {
            "type": "synthetic",
            "model": ref,
            "method": copula.method,
            "real": copula.source,
            "rows": n,
            "seed": seed,
            "report": report,
            "allow_risky": allow_risky,
        }
        version = datasets._log_derived(name, table, source)
    return SyntheticData(table, report, version)


def _resolve(
    model: SynthModel | Synthesizer | str, datasets: DatasetClient | None
) -> tuple[Synthesizer, str | None]:
    from keel.data._ctgan import CtganModel

    if isinstance(model, SynthModel):
        return model.model, model.ref
    if isinstance(model, (CopulaModel, CtganModel)):
        return model, None
    if datasets is None:
        raise InvalidArgumentError("a model reference needs datasets=DatasetClient(...)")
    version = datasets.get(model)
    if version.source.get("type") != "synth_model":
        raise InvalidArgumentError(
            f"{version.ref} is not a synthetic-data model; fit one with keel synth fit"
        )
    (file,) = datasets.files(version.ref)
    data = datasets.store.blobs.read_bytes(file.blob_sha)
    if version.source.get("method") == "ctgan":
        return CtganModel.from_bytes(data), version.ref
    return CopulaModel.from_json(data), version.ref


def _real(copula: Synthesizer, real: Any, datasets: DatasetClient | None) -> pa.Table:
    if real is not None:
        return load_input(real, datasets, "real data", hashed=False).table
    ref = copula.source.get("dataset") or copula.source.get("path")
    if ref is None:
        raise InvalidArgumentError(
            "the model was fit on in-memory data; pass real=<the same table> for the report"
        )
    loaded = load_input(ref, datasets, "real data", hashed=False)
    if len(split(loaded.table.num_rows, copula.holdout, copula.seed)[0]) != copula.rows_fit:
        # the file changed since the fit: the holdout split would not be the same rows
        raise InvalidArgumentError(f"{ref} no longer has the rows the model was fit on")
    return loaded.table


def _report(
    copula: Synthesizer,
    real: pa.Table,
    synth: pa.Table,
    target: str | None,
    gate: PrivacyGate | None,
    seed: int,
) -> dict[str, Any]:
    fit_rows, hold_rows = split(real.num_rows, copula.holdout, copula.seed)
    kinds = {c.name: c.kind for c in copula.columns}
    if target is not None and target not in kinds:
        raise InvalidArgumentError(f"target {target!r} is not a column of the model")
    frame = real.select(list(kinds)).to_pandas()
    return synth_report(
        frame.iloc[fit_rows],
        frame.iloc[hold_rows],
        synth.to_pandas(),
        kinds,
        target=target,
        gate=gate,
        seed=seed,
    )

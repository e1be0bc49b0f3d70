"""CTGAN: a conditional GAN for tables (Xu et al., "Modeling Tabular Data using Conditional
GAN", NeurIPS 2019), written from the paper on PyTorch: the optional extra ``keel[ctgan]``.

(The ``ctgan`` package is under the Business Source License since 0.6, so keel does not
depend on it; this is a compact implementation of the same method.)

- **Mode-specific normalisation**: each number (dates and times as epoch numbers) is fit by
  a variational Gaussian mixture (at most ten modes); a value becomes its mode (one-hot) and
  its offset in that mode (``(x - mean) / 4 std``, through ``tanh``). Missing values are one
  more "mode". Categories are one-hot (plus a slot for missing values and one for values seen
  fewer than five times, which are never reproduced). Columns are analysed as the copula does
  (:func:`keel.data._synth._fit_column`): identifiers become tokens, empty columns stay empty.
- **Conditional generator, training by sampling**: each step picks a categorical column at
  random and one of its categories by log-frequency, conditions the generator on it and
  compares with real rows of that category, so rare categories are learnt too; the generator
  is also penalised (cross-entropy) when it ignores the condition.
- **Networks**: a generator of two residual layers (256 units, batch norm) with ``tanh`` and
  Gumbel-softmax outputs; a PacGAN critic (ten rows at a time, dropout), trained with the
  Wasserstein loss and a gradient penalty; Adam (2e-4, betas 0.5 / 0.9).

The stored model holds the generator's weights and the per-column transforms (mixture means
and deviations, categories): no rows. Torch is imported only when a model is fit or sampled.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from keel.data._ctgan_layout import GMM_ROWS, MAX_MODES, MIN_MODE_WEIGHT, PAC, Span
from keel.data._synth import ColumnModel, _as_float, _fit_column, split
from keel.exceptions import InvalidArgumentError

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

FORMAT = "keel.synth.ctgan/1"


@dataclass(frozen=True)
class CtganModel:
    """A fitted CTGAN: column analysis, encoding spans and the generator's weights."""

    columns: list[ColumnModel]
    spans: list[Span]
    weights: dict[str, np.ndarray]
    rows_fit: int
    holdout: float
    seed: int
    source: dict[str, Any]
    epochs: int
    cond_frequencies: list[list[float]]
    notes: list[str] = field(default_factory=list)
    method: str = "ctgan"

    def to_bytes(self) -> bytes:
        """An ``.npz`` file: the weights, and the rest as JSON (read without pickle)."""
        import numpy as np

        meta = {k: v for k, v in asdict(self).items() if k != "weights"}
        meta["format"] = FORMAT
        blob = np.frombuffer(json.dumps(meta, default=str).encode(), dtype=np.uint8)
        out = io.BytesIO()
        arrays: dict[str, Any] = {"__meta__": blob}
        arrays.update({f"w:{k}": v for k, v in self.weights.items()})
        savez: Any = np.savez  # numpy's stub types **arrays as its keyword options
        savez(out, **arrays)
        return out.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> CtganModel:
        import numpy as np

        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                meta = json.loads(npz["__meta__"].tobytes())
                weights = {k[2:]: npz[k] for k in npz.files if k.startswith("w:")}
        except (ValueError, OSError, KeyError) as exc:
            raise InvalidArgumentError("this is not a keel CTGAN model (unreadable)") from exc
        if meta.pop("format", None) != FORMAT:
            raise InvalidArgumentError("this is not a keel CTGAN model (unknown format)")
        meta["columns"] = [ColumnModel(**c) for c in meta["columns"]]
        meta["spans"] = [Span(**s) for s in meta["spans"]]
        return cls(weights=weights, **meta)

    def sample(self, n: int, seed: int = 0) -> pa.Table:
        """``n`` synthetic rows with the source's column names and Arrow types."""
        from keel.data._ctgan_nets import generate, one_thread

        if n < 1:
            raise InvalidArgumentError(f"the number of rows must be at least 1, not {n}")
        with one_thread():
            return generate(
                self.columns, self.spans, self.weights, self.cond_frequencies, n=n, seed=seed
            )


def fit_ctgan(
    table: pa.Table,
    source: dict[str, Any],
    *,
    holdout: float = 0.2,
    seed: int = 0,
    epochs: int = 300,
    batch_size: int = 500,
) -> CtganModel:
    """Fit CTGAN on ``table`` minus a ``holdout`` share of its rows (``epochs`` passes)."""
    import numpy as np

    from keel.data._ctgan_nets import one_thread, train

    if not 0 <= holdout < 0.9:
        raise InvalidArgumentError(f"holdout must be in [0, 0.9), not {holdout}")
    if epochs < 1 or table.num_rows < 2 * PAC:
        raise InvalidArgumentError(
            f"CTGAN needs epochs >= 1 (not {epochs}) and at least {2 * PAC} rows to fit "
            f"(the table has {table.num_rows})"
        )
    fit_rows, _ = split(table.num_rows, holdout, seed)
    table = table.take(fit_rows)
    columns, spans, data, notes = encode_table(table, np.random.default_rng(seed + 1))
    with one_thread():
        weights, freqs = train(data, spans, epochs=epochs, batch=batch_size, seed=seed)
    return CtganModel(
        columns=columns,
        spans=spans,
        weights=weights,
        rows_fit=table.num_rows,
        holdout=holdout,
        seed=seed,
        source=source,
        epochs=epochs,
        cond_frequencies=freqs,
        notes=notes,
    )


def encode_table(
    table: pa.Table, rng: np.random.Generator
) -> tuple[list[ColumnModel], list[Span], np.ndarray, list[str]]:
    """Every column analysed (as the copula does) and encoded: the training matrix."""
    import numpy as np

    columns, spans, parts, notes = [], [], [], []
    for i, field_ in enumerate(table.schema):
        col = table.column(field_.name)
        model, _, note = _fit_column(field_.name, col, rng)
        columns.append(model)
        notes += [note] if note else []
        encoded = _encode(i, model, col, rng)
        if encoded is not None:
            spans.append(encoded[0])
            parts.append(encoded[1])
    if not spans:
        raise InvalidArgumentError("no column CTGAN can learn (all empty or identifiers)")
    return columns, spans, np.concatenate(parts, axis=1).astype(np.float32), notes


def _encode(
    index: int, model: ColumnModel, col: pa.ChunkedArray, rng: np.random.Generator
) -> tuple[Span, np.ndarray] | None:
    """The column's span and its encoded block (rows x width); None for untrained kinds."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = col.combine_chunks()
    if pa.types.is_floating(arr.type):
        arr = pc.if_else(pc.is_nan(arr), pa.scalar(None, arr.type), arr)
    valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    if model.kind in ("numeric", "datetime"):
        values = _as_float(arr.filter(pa.array(valid)), arr.type)
        return _encode_numbers(index, values, valid, rng)
    if model.kind != "categorical":
        return None
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(arr.type.value_type)
    if not (pa.types.is_boolean(arr.type) or pa.types.is_string(arr.type)):
        arr = arr.cast(pa.string())
    idx = pc.index_in(arr, value_set=pa.array(model.categories, arr.type))
    known = np.asarray(idx.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    slot = np.asarray(idx.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
    k = len(model.categories)
    null_slot, rare_slot = bool((~valid).any()), bool((valid & ~known).any())
    slot[~valid] = k
    slot[valid & ~known] = k + int(null_slot)
    span = Span(index, False, k + int(null_slot) + int(rare_slot), [], [], null_slot, rare_slot)
    return span, np.eye(span.slots, dtype=np.float32)[slot]


def _encode_numbers(
    index: int, values: np.ndarray, valid: np.ndarray, rng: np.random.Generator
) -> tuple[Span, np.ndarray]:
    """Mode-specific normalisation: a variational mixture's mode and the offset within it."""
    import numpy as np
    from sklearn.mixture import BayesianGaussianMixture

    fit_on = values if len(values) <= GMM_ROWS else rng.choice(values, GMM_ROWS, replace=False)
    modes = min(MAX_MODES, len(np.unique(fit_on)))
    gmm = BayesianGaussianMixture(
        n_components=modes,
        weight_concentration_prior_type="dirichlet_process",
        weight_concentration_prior=0.001,
        max_iter=100,
        random_state=int(rng.integers(2**31)),
    ).fit(fit_on.reshape(-1, 1))
    active = np.flatnonzero(gmm.weights_ > MIN_MODE_WEIGHT)
    means = gmm.means_.ravel()[active]
    stds = np.sqrt(gmm.covariances_.ravel()[active]).clip(1e-6 * (np.ptp(values) + 1), None)
    probs = gmm.predict_proba(values.reshape(-1, 1))[:, active] + 1e-9
    probs /= probs.sum(axis=1, keepdims=True)
    picked = (probs.cumsum(axis=1) > rng.random((len(values), 1))).argmax(axis=1)
    null_slot = bool((~valid).any())
    span = Span(index, True, len(active) + int(null_slot), means.tolist(), stds.tolist(), null_slot)
    block = np.zeros((len(valid), span.width), dtype=np.float32)
    rows = np.flatnonzero(valid)
    block[rows, 0] = np.clip((values - means[picked]) / (4 * stds[picked]), -0.99, 0.99)
    block[rows, 1 + picked] = 1.0
    if null_slot:
        block[~valid, span.width - 1] = 1.0
    return span, block

"""CTGAN's networks, training loop and sampler (PyTorch; see :mod:`keel.data._ctgan`).

Imported only when a CTGAN model is fit or sampled, so keel itself never imports torch.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from keel.data._ctgan_layout import EMBEDDING, HIDDEN, PAC, Span
from keel.data._synth import ColumnModel, categories_to_arrow, fill_column, numbers_to_arrow

if TYPE_CHECKING:
    import pyarrow as pa

#: (kind, start, end) of each output segment; (start, end, cond start) of each condition span
Layout = tuple[list[tuple[str, int, int]], list[tuple[int, int, int]], int, int]
GENERATE_BATCH = 10_000


@contextmanager
def one_thread() -> Iterator[None]:
    """Torch on one thread while CTGAN runs: its layers are small, and two OpenMP threads on a
    busy machine spin-wait each other (measured 11x slower under load)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def layout(spans: list[Span]) -> Layout:
    """Where each column's outputs sit in an encoded row, and which spans condition."""
    acts: list[tuple[str, int, int]] = []
    conds: list[tuple[int, int, int]] = []
    off = cond = 0
    for s in spans:
        if s.alpha:
            acts.append(("tanh", off, off + 1))
            off += 1
        acts.append(("softmax", off, off + s.slots))
        if not s.alpha:
            conds.append((off, off + s.slots, cond))
            cond += s.slots
        off += s.slots
    return acts, conds, off, cond


class _Residual(nn.Module):
    def __init__(self, width_in: int, width_out: int) -> None:
        super().__init__()
        self.fc = nn.Linear(width_in, width_out)
        self.bn = nn.BatchNorm1d(width_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([F.relu(self.bn(self.fc(x))), x], dim=1)


class _Critic(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.width = width
        self.seq = nn.Sequential(
            nn.Linear(width * PAC, HIDDEN),
            nn.LeakyReLU(0.2),
            nn.Dropout(0.5),
            nn.Linear(HIDDEN, HIDDEN),
            nn.LeakyReLU(0.2),
            nn.Dropout(0.5),
            nn.Linear(HIDDEN, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.seq(x.view(-1, self.width * PAC))


def _generator(data_dim: int, cond_dim: int) -> nn.Sequential:
    width = EMBEDDING + cond_dim
    layers: list[nn.Module] = []
    for _ in range(2):
        layers.append(_Residual(width, HIDDEN))
        width += HIDDEN
    layers.append(nn.Linear(width, data_dim))
    return nn.Sequential(*layers)


def _activate(raw: torch.Tensor, acts: list[tuple[str, int, int]]) -> torch.Tensor:
    parts = [
        torch.tanh(raw[:, a:b]) if kind == "tanh" else F.gumbel_softmax(raw[:, a:b], tau=0.2)
        for kind, a, b in acts
    ]
    return torch.cat(parts, dim=1)


class _Conditions:
    """Training by sampling: a categorical column at random, a category by log-frequency,
    and a real row holding it."""

    def __init__(self, data: np.ndarray, conds: list[tuple[int, int, int]], dim: int) -> None:
        self.conds, self.dim, self.n = conds, dim, len(data)
        self.rows = [[np.flatnonzero(data[:, j]) for j in range(a, b)] for a, b, _ in conds]
        counts = [data[:, a:b].sum(axis=0).astype(np.float64) for a, b, _ in conds]
        self.freq = [c / c.sum() for c in counts]
        logs = [np.log(c + 1) for c in counts]
        self.log_p = [x / x.sum() for x in logs]

    def batch(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        """(condition vectors, chosen span, chosen category, real row) for ``n`` samples."""
        cond = np.zeros((n, self.dim), dtype=np.float32)
        if not self.conds:
            return cond, np.zeros(n, np.int64), np.zeros(n, np.int64), rng.integers(self.n, size=n)
        which = rng.integers(len(self.conds), size=n)
        cats = np.zeros(n, dtype=np.int64)
        rows = np.zeros(n, dtype=np.int64)
        for j, (_, _, start) in enumerate(self.conds):
            picked = np.flatnonzero(which == j)
            cats[picked] = rng.choice(len(self.log_p[j]), size=len(picked), p=self.log_p[j])
            cond[picked, start + cats[picked]] = 1.0
            for k in np.unique(cats[picked]):
                at = picked[cats[picked] == k]
                rows[at] = rng.choice(self.rows[j][k], size=len(at))
        return cond, which, cats, rows


def train(
    data: np.ndarray, spans: list[Span], *, epochs: int, batch: int, seed: int
) -> tuple[dict[str, np.ndarray], list[list[float]]]:
    """Train the generator; its weights and each condition column's category frequencies."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    acts, conds, data_dim, cond_dim = layout(spans)
    batch = max(PAC, min(batch, len(data) // PAC * PAC))
    gen, critic = _generator(data_dim, cond_dim), _Critic(data_dim + cond_dim)
    opt_g = torch.optim.Adam(gen.parameters(), lr=2e-4, betas=(0.5, 0.9), weight_decay=1e-6)
    opt_d = torch.optim.Adam(critic.parameters(), lr=2e-4, betas=(0.5, 0.9), weight_decay=1e-6)
    sampler = _Conditions(data, conds, cond_dim)
    real_all = torch.from_numpy(data)
    for _ in range(epochs * max(1, len(data) // batch)):
        cond, _, _, rows = sampler.batch(batch, rng)
        c = torch.from_numpy(cond)
        fake = _activate(gen(torch.cat([torch.randn(batch, EMBEDDING), c], dim=1)), acts)
        real, fake = torch.cat([real_all[rows], c], dim=1), torch.cat([fake, c], dim=1)
        loss_d = critic(fake.detach()).mean() - critic(real).mean()
        loss_d = loss_d + _penalty(critic, real, fake.detach())
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        cond, which, cats, _ = sampler.batch(batch, rng)
        c = torch.from_numpy(cond)
        raw = gen(torch.cat([torch.randn(batch, EMBEDDING), c], dim=1))
        y_fake = critic(torch.cat([_activate(raw, acts), c], dim=1))
        loss_g = -y_fake.mean() + _condition_loss(raw, conds, which, cats)
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
    weights = {k: v.detach().cpu().numpy() for k, v in gen.state_dict().items()}
    return weights, [f.tolist() for f in sampler.freq]


def _penalty(critic: _Critic, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """WGAN-GP's gradient penalty on points between real and fake packs (weight 10)."""
    width = real.size(1)
    alpha = torch.rand(real.size(0) // PAC, 1, 1).repeat(1, PAC, width).view(-1, width)
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    (grads,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    norms = grads.view(-1, PAC * width).norm(2, dim=1)
    return 10 * ((norms - 1) ** 2).mean()


def _condition_loss(
    raw: torch.Tensor, conds: list[tuple[int, int, int]], which: np.ndarray, cats: np.ndarray
) -> torch.Tensor:
    """Cross-entropy between the conditioned column's output and the asked category."""
    total = torch.zeros(())
    for j, (a, b, _) in enumerate(conds):
        mask = torch.from_numpy(which == j)
        if mask.any():
            target = torch.from_numpy(cats)[mask]
            total = total + F.cross_entropy(raw[mask, a:b], target, reduction="sum")
    return total / len(which)


def generate(
    columns: list[ColumnModel],
    spans: list[Span],
    weights: dict[str, np.ndarray],
    cond_frequencies: list[list[float]],
    *,
    n: int,
    seed: int,
) -> pa.Table:
    """``n`` rows from a stored generator, conditioned as the training data was."""
    import pyarrow as pa

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    _, conds, data_dim, cond_dim = layout(spans)
    gen = _generator(data_dim, cond_dim)
    gen.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in weights.items()})
    gen.eval()
    cond = _sample_conditions(cond_frequencies, conds, cond_dim, n, rng)
    parts = []
    with torch.no_grad():
        for start in range(0, n, GENERATE_BATCH):
            c = torch.from_numpy(cond[start : start + GENERATE_BATCH])
            z = torch.randn(len(c), EMBEDDING)
            parts.append(gen(torch.cat([z, c], dim=1)).numpy())
    raw = np.concatenate(parts)
    arrays = _decode(columns, spans, raw, rng)
    return pa.table(arrays, names=[c.name for c in columns])


def _sample_conditions(
    freqs: list[list[float]], conds: list[tuple[int, int, int]], dim: int, n: int, rng: Any
) -> np.ndarray:
    """Condition vectors drawn with the data's own category frequencies."""
    cond = np.zeros((n, dim), dtype=np.float32)
    if not conds:
        return cond
    which = rng.integers(len(conds), size=n)
    for j, (_, _, start) in enumerate(conds):
        picked = np.flatnonzero(which == j)
        cats = rng.choice(len(freqs[j]), size=len(picked), p=np.asarray(freqs[j]))
        cond[picked, start + cats] = 1.0
    return cond


def _decode(
    columns: list[ColumnModel], spans: list[Span], raw: np.ndarray, rng: np.random.Generator
) -> list[pa.Array]:
    """Generator outputs back to columns: mode and offset to numbers, slots to categories."""
    n, off = len(raw), 0
    by_column = {s.column: s for s in spans}
    arrays = []
    for i, c in enumerate(columns):
        s = by_column.get(i)
        if s is None:
            arrays.append(fill_column(c, rng.random(n) < c.null_rate, rng))
            continue
        block, off = raw[:, off : off + s.width], off + s.width
        if s.alpha:
            slot = block[:, 1:].argmax(axis=1)
            missing = (slot == s.slots - 1) if s.null_slot else np.zeros(n, dtype=bool)
            mode = np.minimum(slot, len(s.means) - 1)
            means, stds = np.asarray(s.means), np.asarray(s.stds)
            x = np.tanh(block[:, 0]) * 4 * stds[mode] + means[mode]
            arrays.append(numbers_to_arrow(c, np.clip(x, c.quantiles[0], c.quantiles[-1]), missing))
            continue
        slot = block.argmax(axis=1)
        k = len(c.categories)
        missing = (slot == k) if s.null_slot else np.zeros(n, dtype=bool)
        common = rng.choice(k, size=n, p=np.asarray(c.probabilities))  # rare values: never copied
        arrays.append(categories_to_arrow(c, np.where(slot < k, slot, common), missing))
    return arrays

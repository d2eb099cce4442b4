"""The generator's input: a code specification and named latent containers.

A latent point has four parts, all samples-first:

    z     (n, noise_dim) float   incompressible noise, U(-s, s) with s = spec.noise_scale (default 1)
    cat   (n, n_cat)     long    one column per categorical code, code i uniform over range(spec.cat[i])
    cont  (n, n_cont)    float   continuous codes, U(-1, 1)
    y     (n,)           long    the condition label (C-InfoGAN only, else None)

``Latent.to_input(spec)`` flattens it into the generator's input vector
``[z, onehot(cat_0), ..., onehot(cat_k), cont, onehot(y)]``.
Randomness is always passed in as a ``torch.Generator``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, asdict
from typing import NamedTuple

import torch
import torch.nn.functional as F

from .device import ensure_fits


@dataclass(frozen=True)
class CodeSpec:
    """Sizes of the latent parts. ``cond`` = number of condition classes (0 = unconditional).

    ``noise_scale`` s draws z from U(-s, s): a small s makes z a small perturbation around each code value,
    so the codes carry the coarse structure of the output (ClusterGAN's small-variance z, Mukherjee et al. 2019).
    """

    noise_dim: int = 62
    cat: tuple[int, ...] = (10,)
    cont: int = 2
    cond: int = 0
    noise_scale: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "cat", tuple(int(k) for k in self.cat))

    @property
    def n_cat(self) -> int:
        return len(self.cat)

    @property
    def input_dim(self) -> int:
        """Width of the generator's input vector."""
        return self.noise_dim + sum(self.cat) + self.cont + self.cond

    @property
    def has_codes(self) -> bool:
        return self.n_cat > 0 or self.cont > 0

    def code_entropies(self) -> dict[str, float]:
        """H(c) in nats for each code: log k for Cat(k), log 2 for U(-1, 1) (differential entropy)."""
        out = {f"cat{i}": math.log(k) for i, k in enumerate(self.cat)}
        out.update({f"cont{j}": math.log(2.0) for j in range(self.cont)})
        return out

    def to_dict(self) -> dict:
        d = asdict(self)
        d["cat"] = list(self.cat)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "CodeSpec":
        return cls(noise_dim=int(d["noise_dim"]), cat=tuple(d["cat"]), cont=int(d["cont"]), cond=int(d["cond"]),
                   noise_scale=float(d.get("noise_scale", 1.0)))     # checkpoints before noise_scale: 1


class Latent(NamedTuple):
    z: torch.Tensor            # (n, noise_dim) float
    cat: torch.Tensor          # (n, n_cat) long
    cont: torch.Tensor         # (n, n_cont) float
    y: torch.Tensor | None     # (n,) long, or None when unconditional

    @property
    def n(self) -> int:
        """Number of samples (``len(latent)`` is the number of fields, as for any tuple)."""
        return self.z.shape[0]

    def to_input(self, spec: CodeSpec) -> torch.Tensor:
        """(n, spec.input_dim) float: noise, one-hot categorical codes, continuous codes, one-hot label."""
        parts = [self.z]
        parts += [F.one_hot(self.cat[:, i], k).to(self.z.dtype) for i, k in enumerate(spec.cat)]
        parts.append(self.cont)
        if spec.cond:
            if self.y is None:
                raise ValueError("this model is conditional: the latent needs a label y")
            parts.append(F.one_hot(self.y, spec.cond).to(self.z.dtype))
        return torch.cat(parts, dim=1)

    def to(self, device) -> "Latent":
        return Latent(self.z.to(device), self.cat.to(device), self.cont.to(device),
                      None if self.y is None else self.y.to(device))


def sample_latent(spec: CodeSpec, n: int, generator: torch.Generator, y: torch.Tensor | None = None) -> Latent:
    """Draw n latent points on the generator's device. ``y`` (n,) fixes the label; else uniform if conditional."""
    dev = generator.device
    z = (torch.rand(n, spec.noise_dim, generator=generator, device=dev) * 2 - 1) * spec.noise_scale
    cat = torch.stack([torch.randint(k, (n,), generator=generator, device=dev) for k in spec.cat], dim=1) \
        if spec.cat else torch.zeros(n, 0, dtype=torch.long, device=dev)
    cont = torch.rand(n, spec.cont, generator=generator, device=dev) * 2 - 1
    if spec.cond and y is None:
        y = torch.randint(spec.cond, (n,), generator=generator, device=dev)
    if not spec.cond:
        y = None
    return Latent(z, cat, cont, y)


def traversal_latent(spec: CodeSpec, generator: torch.Generator, *, cont_index: int | None = 0,
                     n_cols: int = 10, rows: str = "cat0", cat_cols: int | None = None) -> tuple[Latent, int, int]:
    """A grid of latents for a traversal figure, row-major.

    Rows: the values of the first categorical code (``rows="cat0"``), or of the label (``rows="y"``, C-InfoGAN);
    columns: continuous code ``cont_index`` swept over linspace(-1, 1, n_cols) with every other part fixed
    (one z per grid, shared by all cells). With ``cont_index=None`` the columns take fresh z draws instead.
    ``cat_cols=i`` makes the columns the values of categorical code i (n_cols = its size), e.g. the
    left-height x right-height table of rectangles with ``cat_cols=1``.
    Returns (latent, n_rows, n_cols).
    """
    if cat_cols is not None:
        if not 0 <= cat_cols < len(spec.cat):
            raise ValueError(f"cat_cols={cat_cols} but the spec has {len(spec.cat)} categorical code(s)")
        n_cols = spec.cat[cat_cols]
    dev = generator.device
    if rows == "y" and spec.cond:
        n_rows = spec.cond
    elif spec.cat:
        n_rows = spec.cat[0]
    else:
        n_rows = 1
    n = n_rows * n_cols
    ensure_fits(n * 4 * (spec.input_dim + 28 * 28), dev, f"a traversal grid of {n_rows}x{n_cols}")
    base = sample_latent(spec, 1, generator)
    z = base.z.expand(n, -1).clone()
    cat = base.cat.expand(n, -1).clone()
    cont = base.cont.expand(n, -1).clone()
    y = None if base.y is None else base.y.expand(n).clone()
    row_idx = torch.arange(n_rows, device=dev).repeat_interleave(n_cols)
    col_idx = torch.arange(n_cols, device=dev).repeat(n_rows)
    if rows == "y" and spec.cond:
        y = row_idx
    elif spec.cat:
        cat[:, 0] = row_idx
    if cat_cols is not None:
        cat[:, cat_cols] = col_idx
    elif cont_index is not None and spec.cont:
        cont[:, cont_index] = torch.linspace(-1, 1, n_cols, device=dev)[col_idx]
    else:
        fresh = sample_latent(spec, n_cols, generator)
        z = fresh.z[col_idx]
        if spec.cont:
            cont = fresh.cont[col_idx]
    return Latent(z, cat, cont, y), n_rows, n_cols

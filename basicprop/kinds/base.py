"""The factor-level API every shape kind implements, in the spirit of disentanglement_lib's ground-truth data.

A kind is a small, immutable description of a family of 28x28 uint8 images (background 0, like MNIST) with a
fixed set of discrete factors::

    kind = get_kind("rectangles")
    kind.factor_names                 # ("left_height", "right_height")
    kind.factor_sizes                 # (10, 10)
    f = kind.sample_factors(8, rng)   # (8, 2) int64 factor *indices*, 0 <= f[:, k] < factor_sizes[k]
    x = kind.render(f, rng)           # (8, 28, 28) uint8; noise drawn from rng
    y = kind.labels(f)                # (8,) int64 class label = index of the factor combination

Factors are indices; ``kind.factor_values[k][i]`` is the physical value of index ``i`` (a height in pixels, an
intensity scale, ...). The class label of every kind is the row-major index of the factor combination
(``numpy.ravel_multi_index``): for ``rectangles`` that is ``10 * left + right``.

A subclass defines ``name``, ``factor_names``, ``factor_values`` and ``_draw(combo)``, which returns the ink codes
(0 = background, 1..L = ink level) of one factor combination. The base class draws every combination once, and
``render`` indexes that table and adds noise for the whole batch (see :mod:`basicprop.noise`).
"""
from __future__ import annotations

import functools
from typing import Any, ClassVar

import numpy as np

from basicprop.noise import DEFAULT_BG_NOISE, DEFAULT_FG_NOISE, INK, NoiseTable, check_range

SIZE = 28  # images are SIZE x SIZE, like MNIST


class Kind:
    """A family of images with discrete ground-truth factors. Subclasses: one module per kind."""

    name: ClassVar[str]
    factor_names: ClassVar[tuple[str, ...]]

    def __init__(self, *, fg_noise=DEFAULT_FG_NOISE, bg_noise=None):
        self.fg_noise = check_range(fg_noise, "foreground noise", DEFAULT_FG_NOISE)
        self.bg_noise = check_range(bg_noise, "background noise", DEFAULT_BG_NOISE)

    # ----------------------------------------------------------------------------------------------- metadata
    @property
    def factor_values(self) -> tuple[tuple, ...]:
        """Physical value of every factor index, one tuple per factor."""
        raise NotImplementedError

    @property
    def factor_sizes(self) -> tuple[int, ...]:
        return tuple(len(v) for v in self.factor_values)

    @property
    def num_classes(self) -> int:
        """Number of factor combinations (= number of class labels)."""
        return int(np.prod(self.factor_sizes))

    @property
    def ink_scales(self) -> tuple[float, ...]:
        """Brightness of ink codes 1..L relative to full ink (1.0 = 255, or the full foreground noise range)."""
        return (1.0,)

    @property
    def params(self) -> dict[str, Any]:
        """Every generator parameter, JSON-able: ``get_kind(kind.name, **kind.params)`` rebuilds this kind."""
        return {
            "fg_noise": None if self.fg_noise is None else list(self.fg_noise),
            "bg_noise": None if self.bg_noise is None else list(self.bg_noise),
            **self._own_params(),
        }

    def _own_params(self) -> dict[str, Any]:
        """Kind-specific parameters (JSON-able); none by default."""
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"get_kind({self.name!r}, {args})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Kind) and (self.name, self.params) == (other.name, other.params)

    def __hash__(self) -> int:
        return hash((self.name, repr(self.params)))

    # ---------------------------------------------------------------------------------------------- factors
    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """(n, K) int64: each factor drawn independently and uniformly from its indices."""
        n = _check_count(n)
        sizes = np.array(self.factor_sizes, dtype=np.int64)
        return rng.integers(0, sizes, size=(n, len(sizes)), dtype=np.int64)

    def all_factors(self) -> np.ndarray:
        """(C, K) int64: every factor combination once, in label order (row k has label k)."""
        return self.factors_from_labels(np.arange(self.num_classes))

    def labels(self, factors) -> np.ndarray:
        """(n, K) factor indices -> (n,) int64 class labels (row-major index of the combination)."""
        factors = self.check_factors(factors)
        return np.ravel_multi_index(tuple(factors.T), self.factor_sizes).astype(np.int64)

    def factors_from_labels(self, labels) -> np.ndarray:
        """(n,) class labels -> (n, K) int64 factor indices; the inverse of :meth:`labels`."""
        labels = np.asarray(labels)
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"labels must be a 1-d integer array, got {labels.dtype} of shape {labels.shape}")
        if labels.size and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError(f"labels of kind '{self.name}' must lie in 0..{self.num_classes - 1}")
        return np.stack(np.unravel_index(labels, self.factor_sizes), axis=1).astype(np.int64)

    def check_factors(self, factors) -> np.ndarray:
        """Validate (n, K) factor indices; returns them as int64."""
        factors = np.asarray(factors)
        k = len(self.factor_sizes)
        if factors.ndim != 2 or factors.shape[1] != k:
            raise ValueError(f"factors of kind '{self.name}' must have shape (n, {k}), got {factors.shape}")
        if factors.size and not np.issubdtype(factors.dtype, np.integer):
            raise ValueError(f"factors must be integer indices, got dtype {factors.dtype}")
        factors = factors.astype(np.int64, copy=False)
        if factors.size:
            low, high = factors.min(axis=0), factors.max(axis=0)
            for j, (name, size) in enumerate(zip(self.factor_names, self.factor_sizes)):
                if low[j] < 0 or high[j] >= size:
                    raise ValueError(f"factor '{name}' of kind '{self.name}' must lie in 0..{size - 1}")
        return factors

    # ------------------------------------------------------------------------------------------- rendering
    def render(self, factors, rng: np.random.Generator) -> np.ndarray:
        """(n, K) factor indices -> (n, 28, 28) uint8 images; noise is drawn from ``rng``."""
        return self._noise.render(self.labels(factors), rng)

    def ink(self, factors) -> np.ndarray:
        """(n, K) factor indices -> (n, 28, 28) uint8 ink codes (0 background, 1..L ink level), no noise."""
        return self._table[self.labels(factors)]

    def _draw(self, combo: tuple[int, ...]) -> np.ndarray:
        """Ink codes (28, 28) uint8 of one factor combination (indices). Pure numpy, no pixel loops."""
        raise NotImplementedError

    @functools.cached_property
    def _table(self) -> np.ndarray:
        """(C, 28, 28) uint8 ink codes of every factor combination, in label order."""
        table = np.stack([self._draw(tuple(int(v) for v in combo)) for combo in self.all_factors()])
        assert table.shape == (self.num_classes, SIZE, SIZE) and table.max() <= len(self.ink_scales)
        table.setflags(write=False)
        return table

    @property
    def pixel_ranges(self) -> tuple[tuple[int, int], ...]:
        """Half-open pixel range ``(low, high)`` of every ink code: background first, then each ink level."""
        ranges = [(0, 1) if self.bg_noise is None else self.bg_noise]
        for scale in self.ink_scales:
            if self.fg_noise is None:
                value = int(round(INK * scale))
                ranges.append((value, value + 1))
            else:
                low = int(round(self.fg_noise[0] * scale))
                high = max(low + 1, int(round(self.fg_noise[1] * scale)))
                ranges.append((low, high))
        return tuple(ranges)

    @functools.cached_property
    def _noise(self) -> NoiseTable:
        return NoiseTable(self._table, self.pixel_ranges)


def _check_count(n) -> int:
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"number of samples must be a non-negative integer, got {n!r}")
    return int(n)


def grid(shape=(SIZE, SIZE)) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates ``(rows, cols)``, each (28, 28) float: pixel (r, c) has centre (r + .5, c + .5)."""
    rows, cols = np.indices(shape, dtype=np.float64)
    return rows + 0.5, cols + 0.5

"""Turn codes into the discrete variables the information metrics need.

Shapes are samples first: ``codes`` is ``(N, C)``, one column per code.

* A **discrete** code (a categorical code entered as its argmax, or any integer-valued column) keeps its values;
  they are relabelled to ``0..k-1`` in sorted order.
* A **continuous** code (a Gaussian mean, a uniform code) is cut into ``num_bins`` equal-width bins between its
  minimum and maximum, as disentanglement_lib's ``histogram_discretizer`` does (``np.histogram`` edges,
  ``np.digitize`` on all but the last edge), default 20 bins.

``discrete=None`` detects the kind of each column: a column whose finite values are all integers is discrete,
anything else continuous. Pass a boolean mask to override (e.g. an integer-valued continuous code).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

NUM_BINS = 20  # disentanglement_lib: discretizer.num_bins = 20


def as_2d(array, name: str) -> np.ndarray:
    """``(N,)`` or ``(N, C)`` array-like -> ``(N, C)`` float64 array; user errors raise ``ValueError``."""
    a = np.asarray(array)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise ValueError(f"{name} must be a numeric array, got dtype {a.dtype}")
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"{name} must be N×{name[0].upper()} (2-D, samples first), got shape {a.shape}")
    if a.shape[0] < 2 or a.shape[1] < 1:
        raise ValueError(f"{name} needs at least 2 samples and 1 column, got shape {a.shape}")
    a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return a


def is_integer_valued(column: np.ndarray) -> bool:
    return bool(np.all(column == np.round(column)))


def discrete_mask(codes: np.ndarray, discrete: Sequence[bool] | None = None) -> np.ndarray:
    """``(C,)`` bool: which code columns are discrete (see the module docstring)."""
    if discrete is None:
        return np.array([is_integer_valued(codes[:, i]) for i in range(codes.shape[1])], dtype=bool)
    mask = np.asarray(discrete, dtype=bool).reshape(-1)
    if mask.shape[0] != codes.shape[1]:
        raise ValueError(f"discrete mask has {mask.shape[0]} entries for {codes.shape[1]} code columns")
    return mask


def relabel(column: np.ndarray) -> np.ndarray:
    """Values -> ``0..k-1`` in sorted order, ``(N,)`` int64."""
    return np.unique(column, return_inverse=True)[1].reshape(-1).astype(np.int64)


def histogram_discretize(column: np.ndarray, num_bins: int = NUM_BINS) -> np.ndarray:
    """``(N,)`` float -> ``(N,)`` int64 bin index in ``0..num_bins-1`` (equal-width bins over the column's range)."""
    if num_bins < 2:
        raise ValueError(f"num_bins must be at least 2, got {num_bins}")
    edges = np.histogram_bin_edges(column, bins=num_bins)
    return (np.digitize(column, edges[:-1]) - 1).astype(np.int64)


def discretize(codes, discrete: Sequence[bool] | None = None, *, num_bins: int = NUM_BINS) -> np.ndarray:
    """``codes (N, C)`` -> ``(N, C)`` int64: discrete columns relabelled, continuous columns histogram-binned."""
    codes = as_2d(codes, "codes")
    mask = discrete_mask(codes, discrete)
    out = np.empty(codes.shape, dtype=np.int64)
    for i in range(codes.shape[1]):
        out[:, i] = relabel(codes[:, i]) if mask[i] else histogram_discretize(codes[:, i], num_bins)
    return out


def as_factors(factors, n: int | None = None) -> np.ndarray:
    """``factors (N, K)`` integer-valued -> int64, checked against ``n`` samples."""
    f = as_2d(factors, "factors")
    if n is not None and f.shape[0] != n:
        raise ValueError(f"codes have {n} samples but factors have {f.shape[0]}; both must be samples first")
    bad = [j for j in range(f.shape[1]) if not is_integer_valued(f[:, j])]
    if bad:
        raise ValueError(f"factors must be integer-valued; column(s) {bad} are not "
                         "(discretise a continuous factor first, e.g. eval.discretize.histogram_discretize)")
    return f.astype(np.int64)

"""Mutual Information Gap (Chen et al. 2018, "Isolating Sources of Disentanglement in VAEs").

For each factor ``j`` with ``H(factor_j) > 0``::

    MIG_j = (MI[top1, j] - MI[top2, j]) / H(factor_j)

with ``MI`` the code × factor matrix of :mod:`eval.mutual_info` (20-bin histogram discretisation of continuous
codes, sklearn ``mutual_info_score``) and top1/top2 the two codes with the most information about the factor.
``MIG`` is the mean over factors — disentanglement_lib's ``discrete_mig``. With a single code the second
term is 0. Constant factors carry no information and are left out of the mean (their ``MIG_j`` is NaN).

Known answers: codes equal to the factors -> ~1; independent random codes -> ~0; a duplicated code -> 0 for its
factor (both copies hold the same information).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from eval.discretize import NUM_BINS, as_2d, as_factors, discretize
from eval.mutual_info import discrete_entropy, discrete_mutual_info

MIG = "mig"                          # float, mean over non-constant factors
MIG_PER_FACTOR = "mig_per_factor"    # (K,), NaN for a constant factor
MIG_BEST_CODE = "mig_best_code"      # (K,) index of the code with the most information about each factor


def mig_from_matrix(m: np.ndarray, entropy: np.ndarray) -> dict:
    """``m (C, K)`` nats, ``entropy (K,)`` nats -> the MIG result dict."""
    ordered = np.sort(m, axis=0)[::-1]
    gap = ordered[0] - ordered[1] if m.shape[0] > 1 else ordered[0]
    informative = entropy > 0
    per = np.full(m.shape[1], np.nan)
    per[informative] = gap[informative] / entropy[informative]
    return {
        MIG: float(per[informative].mean()) if informative.any() else float("nan"),
        MIG_PER_FACTOR: per.tolist(),
        MIG_BEST_CODE: [int(i) for i in np.argmax(m, axis=0)],
    }


def mig(codes, factors, *, discrete: Sequence[bool] | None = None, num_bins: int = NUM_BINS) -> dict:
    """``codes (N, C)`` float, ``factors (N, K)`` int -> ``{MIG, MIG_PER_FACTOR, MIG_BEST_CODE}``."""
    codes = as_2d(codes, "codes")
    factors = as_factors(factors, codes.shape[0])
    m = discrete_mutual_info(discretize(codes, discrete, num_bins=num_bins), factors)
    return mig_from_matrix(m, discrete_entropy(factors))

"""Unsupervised accuracy of a categorical code against a categorical factor: Hungarian matching, NMI, ARI.

A categorical code is entered as its argmax; its values are arbitrary names, so it is scored after the best
relabelling:

* ``ACCURACY`` — best **one-to-one** mapping. Build the contingency table ``T (k_code, k_factor)``; solve the
  rectangular assignment ``scipy.optimize.linear_sum_assignment(T, maximize=True)``: each code value is matched
  to at most one factor value and each factor value to at most one code value. Samples whose code value is
  matched to their own factor value are correct; samples of an unmatched code value (when the code has more
  values than the factor) count as errors. So a code that splits one factor value into two halves loses half of
  that value — the strict reading, comparable with the "unsupervised accuracy" InfoGAN papers report.
* ``PURITY`` — the lenient **many-to-one** mapping: every code value maps to its most frequent factor value
  (equals ``ACCURACY`` when the code has no more values than the factor and the mapping is a bijection).
* ``NMI`` — ``sklearn.metrics.normalized_mutual_info_score`` (arithmetic mean normalisation), ``ARI`` —
  ``sklearn.metrics.adjusted_rand_score``.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from eval.discretize import as_2d, as_factors, discrete_mask

ACCURACY = "accuracy"
PURITY = "purity"
NMI = "nmi"
ARI = "ari"
MAPPING = "mapping"   # {code value: factor value} of the one-to-one matching

# keys of clustering(): (C_discrete, K) matrices plus the code indices they describe
CLUSTER_CODES = "cluster_codes"
CLUSTER_ACCURACY = "cluster_accuracy"
CLUSTER_PURITY = "cluster_purity"
CLUSTER_NMI = "cluster_nmi"
CLUSTER_ARI = "cluster_ari"


def contingency(code, factor):
    """``code (N,)``, ``factor (N,)`` -> (code values, factor values, counts (k_code, k_factor))."""
    cv, ci = np.unique(np.ravel(code), return_inverse=True)
    fv, fi = np.unique(np.ravel(factor), return_inverse=True)
    table = np.zeros((cv.size, fv.size), dtype=np.int64)
    np.add.at(table, (ci, fi), 1)
    return cv, fv, table


def hungarian_accuracy(code, factor) -> tuple[float, dict]:
    """``code (N,)``, ``factor (N,)`` integers -> (one-to-one accuracy, {code value: factor value})."""
    code, factor = np.ravel(code), np.ravel(factor)
    if code.shape != factor.shape:
        raise ValueError(f"code has {code.size} samples but factor has {factor.size}")
    cv, fv, table = contingency(code, factor)
    rows, cols = linear_sum_assignment(table, maximize=True)
    mapping = {int(cv[r]): int(fv[c]) for r, c in zip(rows, cols)}
    return float(table[rows, cols].sum() / code.size), mapping


def purity(code, factor) -> float:
    _, _, table = contingency(code, factor)
    return float(table.max(axis=1).sum() / table.sum())


def cluster_scores(code, factor) -> dict:
    """All four scores of one categorical code against one categorical factor."""
    acc, mapping = hungarian_accuracy(code, factor)
    code, factor = np.ravel(code), np.ravel(factor)
    return {
        ACCURACY: acc,
        PURITY: purity(code, factor),
        NMI: float(normalized_mutual_info_score(factor, code)),
        ARI: float(adjusted_rand_score(factor, code)),
        MAPPING: mapping,
    }


def clustering(codes, factors, *, discrete: Sequence[bool] | None = None) -> dict:
    """Every discrete code against every factor -> ``(C_discrete, K)`` matrices (continuous codes are skipped)."""
    codes = as_2d(codes, "codes")
    factors = as_factors(factors, codes.shape[0])
    idx = np.flatnonzero(discrete_mask(codes, discrete))
    shape = (idx.size, factors.shape[1])
    acc, pur, nmi, ari = (np.zeros(shape) for _ in range(4))
    for r, i in enumerate(idx):
        for j in range(factors.shape[1]):
            s = cluster_scores(codes[:, i], factors[:, j])
            acc[r, j], pur[r, j], nmi[r, j], ari[r, j] = s[ACCURACY], s[PURITY], s[NMI], s[ARI]
    return {CLUSTER_CODES: idx.tolist(), CLUSTER_ACCURACY: acc.tolist(), CLUSTER_PURITY: pur.tolist(),
            CLUSTER_NMI: nmi.tolist(), CLUSTER_ARI: ari.tolist()}


def code_factor_accuracy(codes, factors, factor_names: Sequence[str]) -> dict[str, float]:
    """Hungarian accuracy of every categorical code against every factor, and a one-to-one code <-> factor match.

    ``codes (N, n_cat)`` int predicted categories, ``factors (N, K)`` int. Returns ``acc/cat{i}/{factor}`` for every
    pair and ``acc/{factor}`` for the factors matched to a code (the matching maximises the summed accuracy, so two
    codes never claim the same factor). The trainer's evaluations score Q with it (``train(score_codes=...)``).
    """
    codes, factors = np.asarray(codes), np.asarray(factors)
    n_cat, k = codes.shape[1], factors.shape[1]
    if n_cat == 0 or k == 0 or len(codes) == 0:
        return {}
    table = np.array([[hungarian_accuracy(codes[:, i], factors[:, j])[0] for j in range(k)] for i in range(n_cat)])
    out = {f"acc/cat{i}/{factor_names[j]}": float(table[i, j]) for i in range(n_cat) for j in range(k)}
    for i, j in zip(*linear_sum_assignment(table, maximize=True)):
        out[f"acc/{factor_names[j]}"] = float(table[i, j])
    return out

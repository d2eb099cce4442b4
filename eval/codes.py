"""A checkpoint's codes as arrays (samples first), and the Spearman correlation of continuous codes with ordered
factors, shared by the encoder and generator directions of :mod:`eval.disentangle`.

Codes enter the metrics as: categorical code -> argmax of Q's logits / sampled value (discrete); continuous code
-> Q's mean / sampled value (continuous); the C-InfoGAN label ``y`` -> its value (discrete).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.stats import rankdata, spearmanr

from eval.keys import SPEARMAN, SPEARMAN_CODES, SPEARMAN_FACTORS
from eval.score import CODE_NAMES, FACTOR_NAMES


def code_layout(spec) -> list[tuple[str, str, int]]:
    """[(name, part, index)] for the codes of a spec: ('y', 'y', 0), ('cat0', 'cat', 0), ('cont0', 'cont', 0)..."""
    out = [("y", "y", 0)] if spec.cond else []
    out += [(f"cat{i}", "cat", i) for i in range(len(spec.cat))]
    out += [(f"cont{j}", "cont", j) for j in range(spec.cont)]
    return out


def latent_codes(latent, layout) -> tuple[np.ndarray, list[bool]]:
    """Latent -> (N, C) float codes in ``layout`` order, and which are discrete."""
    cols, disc = [], []
    for _, part, i in layout:
        if part == "y":
            cols.append(latent.y.cpu().numpy().astype(np.float64))
        elif part == "cat":
            cols.append(latent.cat[:, i].cpu().numpy().astype(np.float64))
        else:
            cols.append(latent.cont[:, i].cpu().numpy().astype(np.float64))
        disc.append(part != "cont")
    return np.stack(cols, axis=1), disc


def q_codes(q, spec) -> tuple[np.ndarray, list[str], list[bool]]:
    """Q's output -> (N, C) codes: argmax of each categorical head, then the continuous means; names; discrete."""
    cols = [logits.argmax(dim=1).cpu().numpy().astype(np.float64) for logits in q.cat_logits]
    names = [f"cat{i}" for i in range(len(q.cat_logits))]
    if spec.cont:
        mean = q.cont_mean.cpu().numpy().astype(np.float64)
        cols += [mean[:, j] for j in range(mean.shape[1])]
        names += [f"cont{j}" for j in range(mean.shape[1])]
    if not cols:
        raise ValueError("Q of this checkpoint predicts no codes (only the C-InfoGAN label): nothing to score")
    return np.stack(cols, axis=1), names, [True] * len(q.cat_logits) + [False] * spec.cont


def spearman_matrix(codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """(N, C), (N, K) -> (C, K) Spearman rank correlation (0 where either side is constant)."""
    out = np.zeros((codes.shape[1], factors.shape[1]))
    for i in range(codes.shape[1]):
        for j in range(factors.shape[1]):
            a, b = codes[:, i], factors[:, j]
            if np.ptp(a) > 0 and np.ptp(b) > 0:
                out[i, j] = spearmanr(a, b).statistic
    return out


def spearman_given(codes: np.ndarray, factors: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """(N, C), (N, K), (N,) int -> (C, K): the mean over groups of :func:`spearman_matrix` within each group, e.g.
    a C-InfoGAN code against a measurement among the images of one requested label (groups under 3 samples
    skipped; zeros when none is left). Pooled over groups, differences between groups that no code controls (a 1
    is narrower than a 0) dilute the correlation."""
    mats = [spearman_matrix(codes[groups == g], factors[groups == g]) for g in np.unique(groups)
            if np.sum(groups == g) >= 3]
    return np.mean(mats, axis=0) if mats else np.zeros((codes.shape[1], factors.shape[1]))


def pooled_spearman_ceiling(values: np.ndarray, groups: np.ndarray, balanced: bool = False) -> float:
    """(N,) float, (N,) int -> the pooled Spearman ρ of a code that orders ``values`` perfectly within every group
    and is spread the same way in each (a uniform code independent of the group, e.g. a C-InfoGAN code beside the
    label): the code is each value's percentile within its group. Differences between groups that the code does
    not control cap it below 1: on MNIST's test digits the width gives 0.69 (a 1 is narrower than most 0s at any
    code). ``balanced``: every group weighs the same, whatever its count -- the images of a generator that draws
    each label equally often, as C-InfoGAN does (0.71 for the width on MNIST's test digits)."""
    percentile = np.zeros(len(values))
    weights = np.ones(len(values))
    for g in np.unique(groups):
        inside = groups == g
        percentile[inside] = (rankdata(values[inside]) - 0.5) / inside.sum()
        if balanced:
            weights[inside] = 1 / inside.sum()
    return _weighted_pearson(_weighted_ranks(percentile, weights), _weighted_ranks(values, weights), weights)


def _weighted_ranks(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Each value's mid-rank when value i counts weights[i] times: the weight below it plus half its ties' (with
    unit weights Spearman's ranks less 1/2)."""
    _, inverse = np.unique(values, return_inverse=True)
    per_value = np.bincount(inverse, weights=weights)
    below = np.cumsum(per_value) - per_value
    return (below + per_value / 2)[inverse]


def _weighted_pearson(a: np.ndarray, b: np.ndarray, weights: np.ndarray) -> float:
    w = weights / weights.sum()
    da, db = a - w @ a, b - w @ b
    spread = (w @ (da * da)) * (w @ (db * db))
    return float((w @ (da * db)) / np.sqrt(spread)) if spread > 0 else float("nan")   # nan: one side constant


def spearman_columns(discrete: Sequence[bool], ordinal: Sequence[bool]) -> tuple[list[int], list[int]]:
    """(the continuous codes' columns, the ordered factors' columns): what the Spearman correlations cover."""
    return [i for i, d in enumerate(discrete) if not d], [j for j, o in enumerate(ordinal) if o]


def add_spearman(result: dict, codes: np.ndarray, discrete: Sequence[bool], raw: np.ndarray,
                 ordinal: Sequence[bool]) -> None:
    """Spearman of every continuous code with every ordered factor / continuous measurement, into ``result``.

    ``codes (N, C)``, ``raw (N, K)`` float factor values; ``result`` holds the score's code and factor names."""
    cont, cols = spearman_columns(discrete, ordinal)
    result[SPEARMAN_CODES] = [result[CODE_NAMES][i] for i in cont]
    result[SPEARMAN_FACTORS] = [result[FACTOR_NAMES][j] for j in cols]
    result[SPEARMAN] = spearman_matrix(codes[:, cont], raw[:, cols]).tolist()

"""All array metrics in one call: ``score(codes, factors, rng=...)`` -> one flat dict.

This is the core of ``python -m eval score`` and of both directions of ``python -m eval disentangle``.
Shapes are samples first: ``codes (N, C)`` float (categorical codes as their argmax, continuous codes as their
mean), ``factors (N, K)`` integers. Which code columns are discrete is detected (integer-valued columns) unless
``discrete`` says so explicitly; see :mod:`eval.discretize`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from eval import clustering as _clustering
from eval import dci as _dci
from eval import mig as _mig
from eval import mutual_info as _mi
from eval import probes as _probes
from eval import sap as _sap
from eval.discretize import NUM_BINS, as_2d, as_factors, discrete_mask, discretize

N_SAMPLES = "n_samples"
CODE_NAMES = "code_names"
FACTOR_NAMES = "factor_names"
CODE_DISCRETE = "code_discrete"        # (C,) bool
BEST_FACTOR = "best_factor"            # (C,) index of the factor each code holds most (normalised) information on
FACTOR_BINNED = "factor_binned"      # (K,) bool, binned continuous measurements (MI and MIG only)
BEST_ACCURACY = "best_accuracy"        # (C,) one-to-one accuracy of a discrete code against its best factor (None)


@dataclass(frozen=True)
class ScoreConfig:
    """Every default of :func:`score` (and of ``python -m eval score``) in one place."""
    num_bins: int = NUM_BINS            # histogram bins for continuous codes (disentanglement_lib: 20)
    sap: bool = True                    # SAP (LinearSVC C=0.01 per code and factor)
    dci: bool = True                    # DCI with gradient-boosted trees (the slowest metric)
    dci_max_train: int | None = None    # cap on DCI's training split (None: all 2/3 of the samples)
    probes: bool = True                 # logistic-regression and MLP probes
    probe_max_train: int | None = _probes.MAX_TRAIN
    mlp: bool = True                    # the MLP probe (the logistic one always runs when probes=True)


def score(codes, factors, *, rng: np.random.Generator, discrete: Sequence[bool] | None = None,
          config: ScoreConfig = ScoreConfig(), code_names: Sequence[str] | None = None,
          factor_names: Sequence[str] | None = None, binned: Sequence[bool] | None = None) -> dict:
    """``codes (N, C)`` float, ``factors (N, K)`` int -> flat dict of every metric (keys are module constants).

    ``binned`` marks factor columns that are binned continuous measurements (e.g. MNIST slant in 20 bins): they
    enter the MI matrix and MIG only; SAP, DCI, the probes and the clustering scores run on the other
    (categorical) factors, and their per-factor entries for binned columns are None.
    Randomness (train/test splits, classifier seeds) comes only from ``rng``.
    """
    # The models fitted here are small: multi-threaded BLAS/OpenMP only adds overhead, and on a busy machine its
    # spin-waiting threads make e.g. the logistic probe 50x slower. One thread for everything inside.
    with threadpool_limits(limits=1):
        return _score(codes, factors, rng=rng, discrete=discrete, config=config, code_names=code_names,
                      factor_names=factor_names, binned=binned)


def _score(codes, factors, *, rng, discrete, config, code_names, factor_names, binned) -> dict:
    codes = as_2d(codes, "codes")
    factors = as_factors(factors, codes.shape[0])
    n, c = codes.shape
    k = factors.shape[1]
    code_names = list(code_names) if code_names is not None else [f"code{i}" for i in range(c)]
    factor_names = list(factor_names) if factor_names is not None else [f"factor{j}" for j in range(k)]
    if len(code_names) != c or len(factor_names) != k:
        raise ValueError(f"{len(code_names)} code names for {c} codes / "
                         f"{len(factor_names)} factor names for {k} factors")
    mask = discrete_mask(codes, discrete)

    m = _mi.discrete_mutual_info(discretize(codes, mask, num_bins=config.num_bins), factors)
    h = _mi.discrete_entropy(factors)
    norm = _mi.normalize(m, h)
    out: dict = {N_SAMPLES: n, CODE_NAMES: code_names, FACTOR_NAMES: factor_names, CODE_DISCRETE: mask.tolist(),
                 _mi.MI_NATS: m.tolist(), _mi.MI_NORMALIZED: norm.tolist(), _mi.FACTOR_ENTROPY: h.tolist()}
    out.update(_mig.mig_from_matrix(m, h))
    binned = np.zeros(k, bool) if binned is None else np.asarray(binned, dtype=bool).reshape(-1)
    if binned.shape[0] != k:
        raise ValueError(f"binned mask has {binned.shape[0]} entries for {k} factors")
    cat = np.flatnonzero(~binned)
    out[FACTOR_BINNED] = binned.tolist()
    out.update(_scatter(_clustering.clustering(codes, factors[:, cat], discrete=mask), cat, k))

    best = np.argmax(norm, axis=1)
    out[BEST_FACTOR] = best.astype(int).tolist()
    acc = out[_clustering.CLUSTER_ACCURACY]
    rows = {i: r for r, i in enumerate(out[_clustering.CLUSTER_CODES])}
    out[BEST_ACCURACY] = [acc[rows[i]][best[i]] if i in rows and not binned[best[i]] else None for i in range(c)]

    if cat.size and config.sap:
        out.update(_scatter(_sap.sap(codes, factors[:, cat], rng=rng, discrete=mask), cat, k))
    if cat.size and config.dci:
        out.update(_scatter(_dci.dci(codes, factors[:, cat], rng=rng, max_train=config.dci_max_train), cat, k))
    if cat.size and config.probes:
        out.update(_scatter(_probes.probes(codes, factors[:, cat], rng=rng, discrete=mask,
                                           max_train=config.probe_max_train, mlp=config.mlp), cat, k))
    return out


# per-factor results of a metric run on the categorical factor columns ``cat`` only, spread back to all K
_PER_FACTOR = {_sap.SAP_PER_FACTOR, _probes.PROBE_LINEAR, _probes.PROBE_MLP, _probes.PROBE_CHANCE}
_PER_CODE_FACTOR = {_sap.SAP_SCORE_MATRIX, _dci.IMPORTANCE, _clustering.CLUSTER_ACCURACY,
                    _clustering.CLUSTER_PURITY, _clustering.CLUSTER_NMI, _clustering.CLUSTER_ARI}


def _scatter(result: dict, cat: np.ndarray, k: int) -> dict:
    if cat.size == k:
        return result
    out = dict(result)
    for key, value in result.items():
        if key in _PER_FACTOR:
            full = [None] * k
            for pos, j in enumerate(cat):
                full[j] = value[pos]
            out[key] = full
        elif key in _PER_CODE_FACTOR:
            rows = []
            for row in value:
                full = [None] * k
                for pos, j in enumerate(cat):
                    full[j] = row[pos]
                rows.append(full)
            out[key] = rows
    return out

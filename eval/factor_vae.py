"""The FactorVAE disentanglement score (Kim & Mnih 2018, "Disentangling by Factorising"), as disentanglement_lib's
``compute_factor_vae`` with its study defaults.

1. Global scale: the variance (ddof=1) of every code over ``num_variance_estimate`` observations; codes whose
   standard deviation is below ``threshold`` (0.05), and constant codes, are pruned as collapsed.
2. One vote: pick a factor ``k`` uniformly, draw ``batch_size`` (64) factor vectors, set factor ``k`` of all of
   them to the first one's value, encode their observations, and vote ``(k, argmin_d var_d / global_var_d)`` over
   the active codes ``d`` (the code that varies least when factor ``k`` is held fixed).
3. ``num_train`` (10,000) votes build the majority-vote classifier ``code d -> the factor it was voted for most``;
   accuracy = fraction of votes the classifier gets right, on the training votes and on ``num_eval`` (5,000) new
   ones. ``FACTOR_VAE`` is the evaluation accuracy.

Votes are counted in a ``(K, C)`` matrix over *all* codes, the argmin's index mapped back from the active codes
to its column (disentanglement_lib indexes the full matrix with the position among the active codes, which mixes
columns up when an early code is pruned; with no code pruned the two agree). ``FACTOR_VAE_ACTIVE_DIMS`` is the
number of active codes (disentanglement_lib reports ``len`` of the boolean mask, i.e. all codes).

The pure core is :func:`votes` (code variances of the fixed-factor batches -> vote matrix) and
:func:`factor_vae_from_votes`; :func:`compute_factor_vae` draws the batches from a disentanglement_lib-style
ground-truth data object. Known answers: codes equal to the factors -> 1.0; codes that ignore the factors -> about
``1 / K`` (chance).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from basicprop.ground_truth import check_random_state

FACTOR_VAE = "factor_vae"                                # float, evaluation accuracy
FACTOR_VAE_TRAIN = "factor_vae_train_accuracy"           # float
FACTOR_VAE_ACTIVE_DIMS = "factor_vae_num_active_dims"    # int
FACTOR_VAE_CLASSIFIER = "factor_vae_classifier"          # (C,) factor each code votes for; -1 for a pruned code


@dataclass(frozen=True)
class FactorVAEConfig:
    """disentanglement_lib's ``factor_vae_score`` settings (unsupervised_study_v1)."""
    batch_size: int = 64                  # observations per vote
    num_train: int = 10_000               # votes to build the majority-vote classifier
    num_eval: int = 5_000                 # votes to evaluate it
    num_variance_estimate: int = 10_000   # observations for the global variances
    threshold: float = 0.05               # prune codes whose standard deviation is below this

    def validate(self) -> "FactorVAEConfig":
        for name in ("num_train", "num_eval"):
            _check_int(getattr(self, name), name, 1)
        for name in ("batch_size", "num_variance_estimate"):
            _check_int(getattr(self, name), name, 2)
        if not (isinstance(self.threshold, (int, float)) and np.isfinite(self.threshold) and self.threshold >= 0):
            raise ValueError(f"threshold must be a finite number >= 0, got {self.threshold!r}")
        return self


def _check_int(value, name: str, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def active_dims(variances, threshold: float = FactorVAEConfig.threshold) -> np.ndarray:
    """``(C,)`` variances -> ``(C,)`` bool: codes whose standard deviation is at least ``threshold`` (and not
    constant: a constant code has nothing to compare, even with threshold 0)."""
    variances = np.asarray(variances, dtype=np.float64)
    return (np.sqrt(variances) >= threshold) & (variances > 0)


def votes(local_variances, fixed_factor, global_variances, active, num_factors: int) -> np.ndarray:
    """The ``(K, C)`` int64 vote matrix of ``M`` fixed-factor batches.

    local_variances: ``(M, C)`` variance (ddof=1) of each batch's codes; fixed_factor: ``(M,)`` the factor held
    fixed in each batch; global_variances: ``(C,)``; active: ``(C,)`` bool, at least one True.
    """
    local_variances = np.asarray(local_variances, dtype=np.float64)
    fixed_factor = np.asarray(fixed_factor, dtype=np.int64)
    columns = np.flatnonzero(np.asarray(active, dtype=bool))
    ratio = local_variances[:, columns] / np.asarray(global_variances, dtype=np.float64)[columns]
    best = columns[np.argmin(ratio, axis=1)]
    out = np.zeros((num_factors, local_variances.shape[1]), dtype=np.int64)
    np.add.at(out, (fixed_factor, best), 1)
    return out


def factor_vae_from_votes(train_votes, eval_votes, active) -> dict:
    """``(K, C)`` training and evaluation vote matrices -> the FactorVAE result dict (majority-vote classifier)."""
    train_votes, eval_votes = np.asarray(train_votes), np.asarray(eval_votes)
    classifier = np.argmax(train_votes, axis=0)                      # (C,) majority factor of each code
    codes = np.arange(train_votes.shape[1])
    active = np.asarray(active, dtype=bool)
    return {
        FACTOR_VAE: float(eval_votes[classifier, codes].sum() / eval_votes.sum()),
        FACTOR_VAE_TRAIN: float(train_votes[classifier, codes].sum() / train_votes.sum()),
        FACTOR_VAE_ACTIVE_DIMS: int(active.sum()),
        FACTOR_VAE_CLASSIFIER: np.where(active, classifier, -1).astype(int).tolist(),
    }


def encode(representation_function: Callable, observations, n: int) -> np.ndarray:
    """``representation_function(observations)`` checked: (n, C) float64, finite (a 1-d result is one code)."""
    codes = representation_function(observations)
    if hasattr(codes, "detach"):  # a torch tensor (eval does not need torch for this)
        codes = codes.detach().cpu().numpy()
    codes = np.asarray(codes)
    if codes.ndim == 1:
        codes = codes[:, None]
    if codes.ndim != 2 or codes.shape[0] != n or not np.issubdtype(codes.dtype, np.number):
        raise ValueError(f"representation_function must return a numeric (n, C) array for n observations; "
                         f"got {codes.dtype} of shape {codes.shape} for {n}")
    codes = codes.astype(np.float64)
    if not np.all(np.isfinite(codes)):
        raise ValueError("representation_function returned NaN or infinite values")
    return codes


def _fixed_batches(ground_truth_data, representation_function, random_state, count: int, batch_size: int):
    """``count`` batches with one factor held fixed: (local variances (count, C), fixed factor (count,))."""
    local, fixed = [], np.empty(count, dtype=np.int64)
    for m in range(count):
        k = _randint(random_state, ground_truth_data.num_factors)
        factors = ground_truth_data.sample_factors(batch_size, random_state)
        factors[:, k] = factors[0, k]
        observations = ground_truth_data.sample_observations_from_factors(factors, random_state)
        local.append(np.var(encode(representation_function, observations, batch_size), axis=0, ddof=1))
        fixed[m] = k
    return np.stack(local), fixed


def _randint(random_state, high: int) -> int:
    """One integer in ``[0, high)`` from a RandomState (``randint``, as disentanglement_lib) or a Generator."""
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(high))
    return int(random_state.integers(high))


def compute_factor_vae(ground_truth_data, representation_function: Callable, random_state,
                       config: FactorVAEConfig = FactorVAEConfig()) -> dict:
    """The FactorVAE score of ``representation_function`` (observations -> ``(n, C)`` codes) on ground-truth data.

    ground_truth_data: disentanglement_lib's interface (``num_factors``, ``sample_factors``,
    ``sample_observations_from_factors``, ``sample_observations``), e.g. :class:`basicprop.ground_truth.
    GroundTruthData`. random_state: a ``numpy.random.RandomState`` or ``Generator``, passed on to the data, or an
    int seed (``RandomState(seed)``, as disentanglement_lib's ``evaluation.random_seed``).
    With no active code every score is 0.
    """
    config = config.validate()
    random_state = check_random_state(random_state)
    observations = ground_truth_data.sample_observations(config.num_variance_estimate, random_state)
    global_variances = np.var(encode(representation_function, observations, config.num_variance_estimate),
                              axis=0, ddof=1)
    active = active_dims(global_variances, config.threshold)
    if not active.any():
        return {FACTOR_VAE: 0.0, FACTOR_VAE_TRAIN: 0.0, FACTOR_VAE_ACTIVE_DIMS: 0,
                FACTOR_VAE_CLASSIFIER: [-1] * global_variances.size}
    k = ground_truth_data.num_factors
    train = votes(*_fixed_batches(ground_truth_data, representation_function, random_state, config.num_train,
                                  config.batch_size), global_variances, active, k)
    test = votes(*_fixed_batches(ground_truth_data, representation_function, random_state, config.num_eval,
                                 config.batch_size), global_variances, active, k)
    return factor_vae_from_votes(train, test, active)

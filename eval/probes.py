"""Classifier probes: how well can a simple classifier read each factor from *all* codes together?

Split 2:1 into train and test (``rng``; ``max_train`` caps the train part, default 5,000). Features: continuous
codes standardised on the train split, discrete codes one-hot (values seen in the whole set; a discrete code with
more than 256 values is standardised instead). Per factor:

* ``PROBE_LINEAR`` — ``LogisticRegression(max_iter=1000)`` held-out accuracy;
* ``PROBE_MLP`` — ``MLPClassifier(hidden_layer_sizes=(64,), solver="lbfgs", max_iter=100)`` with the L2 penalty
  ``alpha = MLP_DECAY * n_train`` held-out accuracy (a small nonlinear probe: a factor readable only nonlinearly
  shows up here but not above). Full-batch L-BFGS reads these few thousand points in 100 iterations where Adam
  with early stopping stopped at the start (0.29 against the linear probe's 0.94 on the same codes); sklearn divides
  ``alpha`` by the number of samples, so the penalty per weight is the same at every size, strong enough that
  distractor codes do not overfit it below the linear probe and weak enough for |x|-shaped factors;
* ``PROBE_CHANCE`` — the accuracy of always predicting the most frequent train value.

Unlike MIG/SAP these ignore *which* code holds the factor: they measure information, not disentanglement.
"""
from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

from eval.discretize import as_2d, as_factors, discrete_mask, relabel
from eval.splits import TEST_FRACTION, standardize, train_test_split

PROBE_LINEAR = "probe_linear"     # (K,) held-out accuracy
PROBE_MLP = "probe_mlp"           # (K,)
PROBE_CHANCE = "probe_chance"     # (K,)
PROBE_NUM_TRAIN = "probe_num_train"

MLP_HIDDEN = (64,)
MLP_MAX_ITER = 100
MLP_DECAY = 0.004     # alpha per training sample
MAX_TRAIN = 5000
MAX_ONE_HOT = 256


def features(codes: np.ndarray, mask: np.ndarray, train: np.ndarray, test: np.ndarray):
    """Standardised continuous codes, then one-hot discrete codes (a discrete code with more than
    ``MAX_ONE_HOT`` values is standardised like a continuous one)."""
    many = [i for i in np.flatnonzero(mask) if np.unique(codes[:, i]).size > MAX_ONE_HOT]
    cont = [i for i in range(codes.shape[1]) if not mask[i] or i in many]
    parts_train, parts_test = [], []
    if cont:
        a, b = standardize(codes[train][:, cont], codes[test][:, cont])
        parts_train.append(a)
        parts_test.append(b)
    for i in np.flatnonzero(mask):
        if i in many:
            continue
        lab = relabel(codes[:, i])
        eye = np.eye(lab.max() + 1)
        parts_train.append(eye[lab[train]])
        parts_test.append(eye[lab[test]])
    return np.hstack(parts_train), np.hstack(parts_test)


def probes(codes, factors, *, rng: np.random.Generator, discrete: Sequence[bool] | None = None,
           test_fraction: float = TEST_FRACTION, max_train: int | None = MAX_TRAIN, mlp: bool = True) -> dict:
    """``codes (N, C)`` float, ``factors (N, K)`` int -> per-factor held-out probe accuracies."""
    codes = as_2d(codes, "codes")
    factors = as_factors(factors, codes.shape[0])
    mask = discrete_mask(codes, discrete)
    train, test = train_test_split(codes.shape[0], rng, test_fraction, max_train)
    seed = int(rng.integers(2**31 - 1))
    x_train, x_test = features(codes, mask, train, test)
    linear, nonlinear, chance = [], [], []
    for j in range(factors.shape[1]):
        y_train, y_test = factors[train, j], factors[test, j]
        values, counts = np.unique(y_train, return_counts=True)
        mode = values[np.argmax(counts)]
        chance.append(float(np.mean(y_test == mode)))
        if values.size < 2:
            linear.append(chance[-1])
            nonlinear.append(chance[-1])
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            lr = LogisticRegression(max_iter=1000).fit(x_train, y_train)
            linear.append(float(np.mean(lr.predict(x_test) == y_test)))
            if mlp:
                net = MLPClassifier(hidden_layer_sizes=MLP_HIDDEN, solver="lbfgs", alpha=MLP_DECAY * len(y_train),
                                    max_iter=MLP_MAX_ITER, random_state=seed).fit(x_train, y_train)
                nonlinear.append(float(np.mean(net.predict(x_test) == y_test)))
            else:
                nonlinear.append(float("nan"))
    return {PROBE_LINEAR: linear, PROBE_MLP: nonlinear, PROBE_CHANCE: chance, PROBE_NUM_TRAIN: int(train.size)}

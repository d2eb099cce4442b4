"""Separated Attribute Predictability (Kumar et al. 2018), disentanglement_lib's discrete-factor variant.

Split the samples 2:1 into train and test (``rng``). For every code ``i`` and factor ``j`` fit a classifier
that predicts factor ``j`` from code ``i`` alone and score its test accuracy ``S[i, j]``; then::

    SAP = mean_j ( S[top1, j] - S[top2, j] )

The single-code classifier is, as in disentanglement_lib (``sap_score.continuous_factors=False``):

* continuous code: ``sklearn.svm.LinearSVC(C=0.01, class_weight="balanced")`` on the code, **standardised on the
  train split** (disentanglement_lib feeds the raw mean, which makes the score depend on the code's scale; with
  standardisation rescaling a code changes nothing);
* discrete code (a categorical argmax): the lookup table "code value -> most frequent factor value on the train
  split" (a linear SVM on an arbitrary category number would measure the numbering, not the information;
  the table is the best any classifier can do with that code). Unseen code values predict the overall mode.

With a single code the second term is 0.
"""
from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.svm import LinearSVC

from eval.discretize import as_2d, as_factors, discrete_mask
from eval.splits import TEST_FRACTION, standardize, train_test_split

SAP = "sap"                              # float
SAP_PER_FACTOR = "sap_per_factor"        # (K,)
SAP_SCORE_MATRIX = "sap_score_matrix"    # (C, K) held-out accuracy of each single-code classifier

SVC_C = 0.01  # disentanglement_lib: svm.LinearSVC(C=0.01, class_weight="balanced")


def lookup_predict(code_train: np.ndarray, y_train: np.ndarray, code_test: np.ndarray) -> np.ndarray:
    """Predict the most frequent train factor value for each code value (integers)."""
    values, inverse = np.unique(code_train, return_inverse=True)
    ys, y_inv = np.unique(y_train, return_inverse=True)
    counts = np.zeros((values.size, ys.size), dtype=np.int64)
    np.add.at(counts, (inverse, y_inv), 1)
    table = ys[np.argmax(counts, axis=1)]
    fallback = ys[np.argmax(counts.sum(axis=0))]
    pos = np.clip(np.searchsorted(values, code_test), 0, values.size - 1)
    known = values[pos] == code_test
    return np.where(known, table[pos], fallback)


def svc_predict(code_train: np.ndarray, y_train: np.ndarray, code_test: np.ndarray, seed: int) -> np.ndarray:
    if np.unique(y_train).size < 2:
        return np.full(code_test.shape, y_train[0])
    x_train, x_test = standardize(code_train[:, None], code_test[:, None])
    clf = LinearSVC(C=SVC_C, class_weight="balanced", random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x_train, y_train)
    return clf.predict(x_test)


def sap_from_matrix(score: np.ndarray) -> dict:
    ordered = np.sort(score, axis=0)[::-1]
    second = ordered[1] if score.shape[0] > 1 else np.zeros(score.shape[1])
    per = ordered[0] - second
    return {SAP: float(per.mean()), SAP_PER_FACTOR: per.tolist(), SAP_SCORE_MATRIX: score.tolist()}


def sap(codes, factors, *, rng: np.random.Generator, discrete: Sequence[bool] | None = None,
        test_fraction: float = TEST_FRACTION) -> dict:
    """``codes (N, C)`` float, ``factors (N, K)`` int -> ``{SAP, SAP_PER_FACTOR, SAP_SCORE_MATRIX}``."""
    codes = as_2d(codes, "codes")
    factors = as_factors(factors, codes.shape[0])
    mask = discrete_mask(codes, discrete)
    train, test = train_test_split(codes.shape[0], rng, test_fraction)
    seed = int(rng.integers(2**31 - 1))
    score = np.zeros((codes.shape[1], factors.shape[1]))
    for i in range(codes.shape[1]):
        code = codes[:, i]
        for j in range(factors.shape[1]):
            y = factors[:, j]
            if mask[i]:
                pred = lookup_predict(code[train], y[train], code[test])
            else:
                pred = svc_predict(code[train], y[train], code[test], seed)
            score[i, j] = np.mean(pred == y[test])
    return sap_from_matrix(score)

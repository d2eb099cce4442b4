"""Modularity and explicitness (Ridgeway & Mozer 2018, "Learning Deep Disentangled Embeddings With the F-Statistic
Loss"), as disentanglement_lib's ``compute_modularity_explicitness``.

**Modularity** (on the training codes): ``m[i, j]`` is the mutual information of the discretised code ``i`` with
factor ``j`` (the matrix of :mod:`eval.mutual_info`: categorical codes as their values, continuous codes in 20
equal-width bins). With ``theta_i = max_j m[i, j]``::

    delta_i = (sum_j m[i, j]**2 - theta_i**2) / (theta_i**2 * (K - 1))      modularity_i = 1 - delta_i

and 0 for a code with no information about any factor; ``MODULARITY`` is the mean over codes. A code that informs
one factor only scores 1, a code that informs all factors equally scores 0. With one factor modularity is
undefined (``K - 1 = 0``) and reported as NaN.

**Explicitness**: codes standardised with the training mean and standard deviation (a constant code is only
centred); per factor a ``sklearn.linear_model.LogisticRegression()`` (scikit-learn's defaults: multinomial, L2,
C=1, lbfgs) predicts the factor from all codes, scored by the macro average over the factor's values of the ROC
AUC of that value's probability against the rest (two values: both columns, which agree). ``EXPLICITNESS_{TRAIN,TEST}``
are the means over factors on the train and test sets (disentanglement_lib draws 10,000 train and 5,000 test
points). A factor class absent from a set is left out of that set's macro average; a factor with a single value
in the training set gets AUC 0.5 (nothing to predict). Known answers: codes equal to the factors -> modularity 1,
explicitness ~1; codes independent of the factors -> explicitness ~0.5.
"""
from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from eval.discretize import NUM_BINS, as_2d, as_factors, discretize
from eval.mutual_info import discrete_mutual_info

MODULARITY = "modularity"                                  # float (NaN with one factor)
MODULARITY_PER_CODE = "modularity_per_code"                # (C,)
EXPLICITNESS_TRAIN = "explicitness_train"                  # float, mean ROC AUC on the training set
EXPLICITNESS_TEST = "explicitness_test"                    # float, mean ROC AUC on the test set
EXPLICITNESS_PER_FACTOR = "explicitness_test_per_factor"   # (K,)


def modularity_from_matrix(m) -> dict:
    """``m (C, K)`` mutual information -> ``{MODULARITY, MODULARITY_PER_CODE}``."""
    squared = np.square(np.asarray(m, dtype=np.float64))
    k = squared.shape[1]
    top = squared.max(axis=1)
    if k < 2:
        per = np.full(squared.shape[0], np.nan)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            per = np.where(top > 0, 1.0 - (squared.sum(axis=1) - top) / (top * (k - 1)), 0.0)
    return {MODULARITY: float(per.mean()), MODULARITY_PER_CODE: per.tolist()}


def modularity(codes, factors, *, discrete: Sequence[bool] | None = None, num_bins: int = NUM_BINS) -> dict:
    """``codes (N, C)`` float, ``factors (N, K)`` int -> ``{MODULARITY, MODULARITY_PER_CODE}``."""
    codes = as_2d(codes, "codes")
    factors = as_factors(factors, codes.shape[0])
    return modularity_from_matrix(discrete_mutual_info(discretize(codes, discrete, num_bins=num_bins), factors))


def macro_auc(y, proba, classes) -> float:
    """Mean one-vs-rest ROC AUC over the ``classes`` (columns of ``proba (n, len(classes))``) present in ``y``."""
    scores = [roc_auc_score(y == c, proba[:, col]) for col, c in enumerate(classes)
              if 0 < np.sum(y == c) < y.size]
    return float(np.mean(scores)) if scores else 0.5


def explicitness_per_factor(x_train, y_train, x_test, y_test) -> tuple[float, float]:
    """Standardised codes ``x (n, C)``, one factor ``y (n,)`` -> (train AUC, test AUC) of a logistic regression."""
    classes = np.unique(y_train)
    if classes.size < 2:
        return 0.5, 0.5
    clf = LogisticRegression()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x_train, y_train)
    return (macro_auc(y_train, clf.predict_proba(x_train), clf.classes_),
            macro_auc(y_test, clf.predict_proba(x_test), clf.classes_))


def explicitness(codes_train, factors_train, codes_test, factors_test) -> dict:
    """Train and test ``codes (N, C)`` float, ``factors (N, K)`` int -> the explicitness result dict."""
    codes_train = as_2d(codes_train, "codes")
    factors_train = as_factors(factors_train, codes_train.shape[0])
    codes_test = as_2d(codes_test, "codes")
    factors_test = as_factors(factors_test, codes_test.shape[0])
    if codes_test.shape[1] != codes_train.shape[1] or factors_test.shape[1] != factors_train.shape[1]:
        raise ValueError(f"train and test sets differ in width: codes {codes_train.shape[1]} / "
                         f"{codes_test.shape[1]}, factors {factors_train.shape[1]} / {factors_test.shape[1]}")
    mean, std = codes_train.mean(axis=0), codes_train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    x_train, x_test = (codes_train - mean) / std, (codes_test - mean) / std
    pairs = [explicitness_per_factor(x_train, factors_train[:, j], x_test, factors_test[:, j])
             for j in range(factors_train.shape[1])]
    train, test = np.array(pairs).T
    return {EXPLICITNESS_TRAIN: float(train.mean()), EXPLICITNESS_TEST: float(test.mean()),
            EXPLICITNESS_PER_FACTOR: test.tolist()}


def modularity_explicitness(codes_train, factors_train, codes_test, factors_test, *,
                            discrete: Sequence[bool] | None = None, num_bins: int = NUM_BINS) -> dict:
    """Modularity of the training codes and explicitness on train and test, one flat dict."""
    out = modularity(codes_train, factors_train, discrete=discrete, num_bins=num_bins)
    out.update(explicitness(codes_train, factors_train, codes_test, factors_test))
    return out

"""Disentanglement, Completeness, Informativeness (Eastwood & Williams 2018), as in disentanglement_lib.

Split the samples 2:1 into train and test (``rng``). For each factor ``j`` fit
``sklearn.ensemble.GradientBoostingClassifier()`` (defaults: 100 trees of depth 3, learning rate 0.1) on all
codes; its ``feature_importances_`` are column ``j`` of the importance matrix ``R (C, K)``. Then, with
entropies in base ``K`` (rows) and base ``C`` (columns) and ``1e-11`` added as in disentanglement_lib::

    D_i = 1 - H_K(R[i, :] / sum R[i, :])       DISENTANGLEMENT = sum_i D_i * (sum R[i, :] / sum R)
    C_j = 1 - H_C(R[:, j] / sum R[:, j])       COMPLETENESS   = sum_j C_j * (sum R[:, j] / sum R)
    INFORMATIVENESS_{TRAIN,TEST} = mean_j accuracy of the boosted trees on the train / test split

With one factor ``D`` is undefined (log base 1) and reported as NaN; with one code ``C`` likewise.

Cost: 100 × (factor values) trees per factor. ``max_train`` caps the training split (the disentangle pipeline
uses 2,000 of the 10,000 samples so the whole run fits its time budget; ``eval score`` uses all of them unless
told otherwise). Trees are invariant to rescaling a code; permuting codes permutes ``R``'s rows.
"""
from __future__ import annotations

import numpy as np
from scipy.stats import entropy
from sklearn.ensemble import GradientBoostingClassifier

from eval.discretize import as_2d, as_factors
from eval.splits import TEST_FRACTION, train_test_split

DISENTANGLEMENT = "dci_disentanglement"
COMPLETENESS = "dci_completeness"
INFORMATIVENESS_TRAIN = "dci_informativeness_train"
INFORMATIVENESS_TEST = "dci_informativeness_test"
IMPORTANCE = "dci_importance"            # (C, K)
DCI_NUM_TRAIN = "dci_num_train"          # int, training samples actually used


def importance_gbt(x_train, y_train, x_test, y_test, seed: int) -> tuple[np.ndarray, float, float]:
    """``x (n, C)``, ``y (n, K)`` int -> (importance (C, K), mean train accuracy, mean test accuracy)."""
    n_codes, n_factors = x_train.shape[1], y_train.shape[1]
    imp = np.zeros((n_codes, n_factors))
    train_acc, test_acc = [], []
    for j in range(n_factors):
        if np.unique(y_train[:, j]).size < 2:  # a constant factor: nothing to learn, nothing important
            train_acc.append(1.0)
            test_acc.append(float(np.mean(y_test[:, j] == y_train[0, j])))
            continue
        model = GradientBoostingClassifier(random_state=seed)
        model.fit(x_train, y_train[:, j])
        imp[:, j] = np.abs(model.feature_importances_)
        train_acc.append(float(np.mean(model.predict(x_train) == y_train[:, j])))
        test_acc.append(float(np.mean(model.predict(x_test) == y_test[:, j])))
    return imp, float(np.mean(train_acc)), float(np.mean(test_acc))


def disentanglement(imp: np.ndarray) -> float:
    if imp.shape[1] < 2:
        return float("nan")
    per_code = 1.0 - entropy(imp.T + 1e-11, base=imp.shape[1])
    weights = imp if imp.sum() > 0 else np.ones_like(imp)
    return float(np.sum(per_code * weights.sum(axis=1) / weights.sum()))


def completeness(imp: np.ndarray) -> float:
    if imp.shape[0] < 2:
        return float("nan")
    per_factor = 1.0 - entropy(imp + 1e-11, base=imp.shape[0])
    weights = imp if imp.sum() > 0 else np.ones_like(imp)
    return float(np.sum(per_factor * weights.sum(axis=0) / weights.sum()))


def dci(codes, factors, *, rng: np.random.Generator, test_fraction: float = TEST_FRACTION,
        max_train: int | None = None) -> dict:
    """``codes (N, C)`` float, ``factors (N, K)`` int -> D, C, I (train/test) and the importance matrix."""
    codes = as_2d(codes, "codes")
    factors = as_factors(factors, codes.shape[0])
    train, test = train_test_split(codes.shape[0], rng, test_fraction, max_train)
    seed = int(rng.integers(2**31 - 1))
    imp, acc_train, acc_test = importance_gbt(codes[train], factors[train], codes[test], factors[test], seed)
    return {
        DISENTANGLEMENT: disentanglement(imp),
        COMPLETENESS: completeness(imp),
        INFORMATIVENESS_TRAIN: acc_train,
        INFORMATIVENESS_TEST: acc_test,
        IMPORTANCE: imp.tolist(),
        DCI_NUM_TRAIN: int(train.size),
    }

"""Modularity and explicitness: known answers on a full factorial design (factors exactly independent), and a
cross-check against a second implementation written here (histograms and AUCs counted with loops)."""
from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import MultiLabelBinarizer

from eval.discretize import histogram_discretize
from eval.modularity import (EXPLICITNESS_PER_FACTOR, EXPLICITNESS_TEST, EXPLICITNESS_TRAIN, MODULARITY,
                             MODULARITY_PER_CODE, explicitness, modularity, modularity_explicitness,
                             modularity_from_matrix)

SIZES = (10, 5, 8)


def full_factorial(repeats: int, seed: int) -> np.ndarray:
    """Every combination of SIZES ``repeats`` times, shuffled: empirically exact independence and uniformity."""
    grid = np.array(list(itertools.product(*map(range, SIZES))))
    return np.random.default_rng(seed).permutation(np.repeat(grid, repeats, axis=0))


@pytest.fixture(scope="module")
def train():
    return full_factorial(5, 0)      # 2000 samples


@pytest.fixture(scope="module")
def test():
    return full_factorial(2, 1)      # 800 samples


def test_identity_is_perfectly_modular_and_explicit(train, test):
    out = modularity_explicitness(train, train, test, test)
    assert out[MODULARITY] == pytest.approx(1.0, abs=1e-12)          # independent factors: MI exactly 0
    assert out[EXPLICITNESS_TRAIN] > 0.99 and out[EXPLICITNESS_TEST] > 0.99
    noisy = train + np.random.default_rng(2).normal(0, 0.05, train.shape)
    assert modularity(noisy, train)[MODULARITY] > 0.99                # continuous codes, 20 bins


def test_random_codes_are_chance(train, test):
    rng = np.random.default_rng(3)
    out = modularity_explicitness(rng.normal(size=(len(train), 4)), train, rng.normal(size=(len(test), 4)), test)
    assert out[EXPLICITNESS_TEST] == pytest.approx(0.5, abs=0.03)
    assert out[MODULARITY] < 0.8


def test_a_code_of_two_factors_has_the_known_modularity(train):
    both = train[:, 0] * 8 + train[:, 2]                              # holds factor 0 and factor 2 entirely
    out = modularity(np.stack([both, train[:, 1]], axis=1), train)
    expected = 1 - math.log(8) ** 2 / (2 * math.log(10) ** 2)         # delta = m_2^2 / (m_0^2 (K - 1))
    assert out[MODULARITY_PER_CODE] == pytest.approx([expected, 1.0], abs=1e-12)
    assert modularity_from_matrix(np.zeros((2, 3)))[MODULARITY_PER_CODE] == [0.0, 0.0]   # no information: 0
    assert math.isnan(modularity(train[:, :1], train[:, :1])[MODULARITY])                # one factor: undefined


def test_explicitness_edge_cases(train, test):
    const = np.zeros((len(train), 1))
    out = explicitness(np.c_[const, train], train, np.c_[np.zeros((len(test), 1)), test], test)
    assert out[EXPLICITNESS_TEST] > 0.99                              # a constant code is only centred
    one_value = np.c_[train[:, :1], np.zeros(len(train), int)]
    assert explicitness(train, one_value, test, np.c_[test[:, :1], np.zeros(len(test), int)])[
        EXPLICITNESS_PER_FACTOR][1] == 0.5
    with pytest.raises(ValueError, match="differ in width"):
        explicitness(train, train, test[:, :2], test)
    with pytest.raises(ValueError, match="integer-valued"):
        modularity(train, train + 0.5)


# ------------------------------------------------------------------ a second implementation, with loops
def loop_mutual_info(x, y):
    """MI in nats of two integer sequences from their counted joint histogram."""
    n = len(x)
    joint, px, py = Counter(zip(x, y)), Counter(x), Counter(y)
    return sum(c / n * math.log(c * n / (px[a] * py[b])) for (a, b), c in joint.items())


def loop_modularity(codes_d, factors):
    per = []
    for i in range(codes_d.shape[1]):
        m = [loop_mutual_info(codes_d[:, i].tolist(), factors[:, j].tolist()) ** 2 for j in range(factors.shape[1])]
        top = max(m)
        per.append(0.0 if top == 0 else 1 - (sum(m) - top) / (top * (len(m) - 1)))
    return sum(per) / len(per)


def loop_auc(scores, positive):
    """P(score of a positive > score of a negative) + half the ties, over all pairs."""
    pos = [s for s, p in zip(scores, positive) if p]
    neg = [s for s, p in zip(scores, positive) if not p]
    wins = sum((a > b) + 0.5 * (a == b) for a in pos for b in neg)
    return wins / (len(pos) * len(neg))


def test_cross_check_against_loops_and_the_library_formula(train, test):
    rng = np.random.default_rng(4)
    mix = np.array([[1.0, 0.0, 0.3], [0.2, 1.0, 0.0], [0.0, 0.5, 1.0], [0.1, 0.1, 0.1]]).T   # (K, C)
    c_train = train @ mix + rng.normal(0, 1.0, (len(train), 4))
    c_test = test[:300] @ mix + rng.normal(0, 1.0, (300, 4))
    ours = modularity_explicitness(c_train, train, c_test, test[:300])

    binned = np.stack([histogram_discretize(c_train[:, i]) for i in range(4)], axis=1)
    assert ours[MODULARITY] == pytest.approx(loop_modularity(binned, train), abs=1e-9)
    assert 0.2 < ours[MODULARITY] < 0.95

    mean, std = c_train.mean(axis=0), c_train.std(axis=0)
    x_train, x_test = (c_train - mean) / std, (c_test - mean) / std
    for j in range(len(SIZES)):
        clf = LogisticRegression().fit(x_train, train[:, j])
        proba = clf.predict_proba(x_test)
        loops = np.mean([loop_auc(proba[:, col].tolist(), (test[:300, j] == c).tolist())
                         for col, c in enumerate(clf.classes_)])
        mlb = MultiLabelBinarizer()        # disentanglement_lib's explicitness_per_factor scoring
        library = roc_auc_score(mlb.fit_transform(np.expand_dims(test[:300, j], 1)), proba)
        assert ours[EXPLICITNESS_PER_FACTOR][j] == pytest.approx(loops, abs=1e-9)
        assert ours[EXPLICITNESS_PER_FACTOR][j] == pytest.approx(library, abs=1e-9)
    assert 0.6 < ours[EXPLICITNESS_TEST] < 0.99

"""FactorVAE score: known answers (identity -> 1, random -> 1/K, pruning), and a cross-check against a second
implementation written here with plain loops, following disentanglement_lib's compute_factor_vae step by step."""
from __future__ import annotations

import numpy as np
import pytest

from basicprop.ground_truth import GroundTruthData
from eval.factor_vae import (FACTOR_VAE, FACTOR_VAE_ACTIVE_DIMS, FACTOR_VAE_CLASSIFIER, FACTOR_VAE_TRAIN,
                             FactorVAEConfig, active_dims, compute_factor_vae, factor_vae_from_votes, votes)

SMALL = FactorVAEConfig(num_train=400, num_eval=300, num_variance_estimate=1000)


class FactorData:
    """Ground-truth data whose observations are the factors plus a little noise: (n, K) float."""

    def __init__(self, sizes=(5, 4, 6, 3), noise=0.1):
        self.factors_num_values = list(sizes)
        self.num_factors = len(sizes)
        self.observation_shape = (len(sizes),)
        self.noise = noise

    def sample_factors(self, num, random_state):
        return np.stack([random_state.randint(k, size=num) for k in self.factors_num_values], axis=1)

    def sample_observations_from_factors(self, factors, random_state):
        return factors + self.noise * random_state.normal(size=factors.shape)

    def sample(self, num, random_state):
        factors = self.sample_factors(num, random_state)
        return factors, self.sample_observations_from_factors(factors, random_state)

    def sample_observations(self, num, random_state):
        return self.sample(num, random_state)[1]


def test_identity_scores_one():
    out = compute_factor_vae(FactorData(), lambda x: x, np.random.RandomState(0), SMALL)
    assert out[FACTOR_VAE] == 1.0 and out[FACTOR_VAE_TRAIN] == 1.0
    assert out[FACTOR_VAE_ACTIVE_DIMS] == 4 and out[FACTOR_VAE_CLASSIFIER] == [0, 1, 2, 3]


def test_random_codes_score_chance():
    noise = np.random.default_rng(1)
    out = compute_factor_vae(FactorData(), lambda x: noise.normal(size=(len(x), 6)), np.random.RandomState(0),
                             SMALL)
    assert out[FACTOR_VAE] == pytest.approx(1 / 4, abs=0.08)
    assert out[FACTOR_VAE_ACTIVE_DIMS] == 6


def test_collapsed_codes_are_pruned_and_never_voted_for():
    def rep(x):  # code 0 collapsed (std 0.01 < 0.05), codes 1..4 the factors, code 5 constant
        return np.concatenate([0.01 * x[:, :1], x, np.zeros((len(x), 1))], axis=1)

    out = compute_factor_vae(FactorData(), rep, np.random.RandomState(0), SMALL)
    assert out[FACTOR_VAE] == 1.0 and out[FACTOR_VAE_ACTIVE_DIMS] == 4
    assert out[FACTOR_VAE_CLASSIFIER] == [-1, 0, 1, 2, 3, -1]
    flat = compute_factor_vae(FactorData(), lambda x: np.zeros((len(x), 3)), np.random.RandomState(0), SMALL)
    assert flat == {FACTOR_VAE: 0.0, FACTOR_VAE_TRAIN: 0.0, FACTOR_VAE_ACTIVE_DIMS: 0,
                    FACTOR_VAE_CLASSIFIER: [-1, -1, -1]}


def test_rendered_rectangles_with_measured_heights_score_one():
    def heights(x):  # (n, 28, 28, 1) -> (n, 2): ink rows of each bar
        ink = x[..., 0] > 100 / 255
        return np.stack([ink[:, :, 3:13].mean(axis=2).sum(axis=1), ink[:, :, 15:25].mean(axis=2).sum(axis=1)], 1)

    config = FactorVAEConfig(num_train=100, num_eval=100, num_variance_estimate=500)
    out = compute_factor_vae(GroundTruthData("rectangles"), heights, 0, config)
    assert out[FACTOR_VAE] == 1.0 and out[FACTOR_VAE_CLASSIFIER] == [0, 1]


def test_same_seed_same_score_and_generator_accepted():
    rep = lambda x: x @ np.array([[1.0, 0.3], [0.2, 1.0], [0.5, 0.5], [0.0, 1.0]])  # noqa: E731
    a = compute_factor_vae(FactorData(), rep, 7, SMALL)
    assert a == compute_factor_vae(FactorData(), rep, np.random.RandomState(7), SMALL)
    centre = lambda x: (x[..., 0] * np.arange(28)).sum(axis=(1, 2)) / x[..., 0].sum(axis=(1, 2))  # noqa: E731
    gen = compute_factor_vae(GroundTruthData("line"), centre, np.random.default_rng(0),
                             FactorVAEConfig(num_train=20, num_eval=20, num_variance_estimate=100))
    assert gen[FACTOR_VAE] == 1.0                                      # one factor: every vote is right


def test_bad_settings_and_representations_are_value_errors():
    with pytest.raises(ValueError, match="batch_size must be an integer >= 2"):
        compute_factor_vae(FactorData(), lambda x: x, 0, FactorVAEConfig(batch_size=1))
    with pytest.raises(ValueError, match="threshold"):
        FactorVAEConfig(threshold=-1).validate()
    with pytest.raises(ValueError, match=r"\(n, C\) array"):
        compute_factor_vae(FactorData(), lambda x: x[:3], 0, SMALL)
    with pytest.raises(ValueError, match="NaN"):
        compute_factor_vae(FactorData(), lambda x: x * np.nan, 0, SMALL)
    with pytest.raises(ValueError, match="random_state"):
        compute_factor_vae(FactorData(), lambda x: x, None, SMALL)


# ------------------------------------------------------------------ a second implementation, plain loops
def loop_variance(rows):
    """Sample variance (ddof=1) of each column of a list of rows."""
    n, c = len(rows), len(rows[0])
    out = []
    for d in range(c):
        mean = sum(r[d] for r in rows) / n
        out.append(sum((r[d] - mean) ** 2 for r in rows) / (n - 1))
    return out


def reference_factor_vae(data, rep, random_state, config):
    """disentanglement_lib's compute_factor_vae, step by step, with loops for every statistic."""
    global_var = loop_variance(rep(data.sample_observations(config.num_variance_estimate, random_state)).tolist())
    active = [d for d, v in enumerate(global_var) if v ** 0.5 >= config.threshold]

    def batch_votes(count):
        table = [[0] * len(global_var) for _ in range(data.num_factors)]
        for _ in range(count):
            k = random_state.randint(data.num_factors)
            factors = data.sample_factors(config.batch_size, random_state)
            factors[:, k] = factors[0, k]
            local = loop_variance(rep(data.sample_observations_from_factors(factors, random_state)).tolist())
            best = min(active, key=lambda d: local[d] / global_var[d])
            table[k][best] += 1
        return table

    train, test = batch_votes(config.num_train), batch_votes(config.num_eval)
    majority = [max(range(data.num_factors), key=lambda k: (train[k][d], -k)) for d in range(len(global_var))]
    right = lambda table: sum(table[majority[d]][d] for d in range(len(global_var)))  # noqa: E731
    total = lambda table: sum(map(sum, table))  # noqa: E731
    return {"train_accuracy": right(train) / total(train), "eval_accuracy": right(test) / total(test),
            "num_active_dims": len(active)}


def test_cross_check_against_the_loop_implementation():
    mix = np.array([[1.0, 0.4, 0.0], [0.3, 1.0, 0.1], [0.0, 0.6, 1.0], [0.5, 0.0, 0.2]])
    rep = lambda x: np.concatenate([x @ mix, 0.001 * x[:, :1]], axis=1)  # noqa: E731  last code collapsed
    config = FactorVAEConfig(batch_size=16, num_train=300, num_eval=200, num_variance_estimate=500)
    ours = compute_factor_vae(FactorData(noise=0.8), rep, np.random.RandomState(3), config)
    ref = reference_factor_vae(FactorData(noise=0.8), rep, np.random.RandomState(3), config)
    assert ours[FACTOR_VAE] == pytest.approx(ref["eval_accuracy"], abs=1e-9)
    assert ours[FACTOR_VAE_TRAIN] == pytest.approx(ref["train_accuracy"], abs=1e-9)
    assert ours[FACTOR_VAE_ACTIVE_DIMS] == ref["num_active_dims"] == 3
    assert 0.3 < ours[FACTOR_VAE] < 1.0                                 # a mixed code: neither chance nor perfect


def test_votes_and_majority_on_arrays_match_loops():
    rng = np.random.default_rng(0)
    local = rng.random((200, 5))
    fixed = rng.integers(0, 3, 200)
    global_var = rng.random(5) + 0.5
    active = np.array([True, False, True, True, False])
    table = votes(local, fixed, global_var, active, 3)
    expect = np.zeros((3, 5), dtype=np.int64)
    for m in range(200):
        expect[fixed[m], min((0, 2, 3), key=lambda d: local[m, d] / global_var[d])] += 1
    np.testing.assert_array_equal(table, expect)
    out = factor_vae_from_votes(table, expect, active)
    assert out[FACTOR_VAE_TRAIN] == pytest.approx(sum(expect[:, d].max() for d in range(5)) / 200, abs=1e-12)
    assert out[FACTOR_VAE_CLASSIFIER][1] == out[FACTOR_VAE_CLASSIFIER][4] == -1
    assert active_dims([0.0025, 0.0024, 0.0]).tolist() == [True, False, False]   # std 0.05 is kept

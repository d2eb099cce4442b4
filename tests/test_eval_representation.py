"""Scoring a representation function as disentanglement_lib's compute_* do: known answers on rendered rectangles
(measured bar heights -> ~1, noise -> chance), batching, seeding, and errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from basicprop.ground_truth import GroundTruthData
from eval.factor_vae import FactorVAEConfig
from eval.representation import METRICS, compute, generate_codes

SMALL = dict(num_train=600, num_test=300, dci_max_train=300,
             factor_vae=FactorVAEConfig(num_train=150, num_eval=100, num_variance_estimate=500))


def heights(x):
    """(n, 28, 28, 1) rectangles -> (n, 2) rows of ink in the left and right bar: the factors, measured."""
    ink = x[..., 0] > 100 / 255
    return np.stack([ink[:, :, 3:13].mean(axis=2).sum(axis=1), ink[:, :, 15:25].mean(axis=2).sum(axis=1)], axis=1)


def test_measured_factors_score_about_one():
    out = compute(GroundTruthData("rectangles"), heights, np.random.RandomState(0), **SMALL)
    assert out["n_samples"] == 600 and out["num_codes"] == 2
    assert out["factor_names"] == ["left_height", "right_height"]
    assert out["mig"] > 0.9 and out["sap"] > 0.8
    assert out["dci_disentanglement"] > 0.95 and out["dci_informativeness_test"] > 0.95
    assert out["factor_vae"] == 1.0 and out["factor_vae_num_active_dims"] == 2
    assert out["modularity"] > 0.99 and out["explicitness_test"] > 0.99


def test_noise_scores_chance():
    noise = np.random.default_rng(5)
    out = compute("rectangles", lambda x: noise.normal(size=(len(x), 3)), 0, **SMALL)
    assert out["mig"] < 0.05 and out["sap"] < 0.05 and out["dci_disentanglement"] < 0.2
    assert out["factor_vae"] == pytest.approx(0.5, abs=0.12)           # two factors
    assert out["explicitness_test"] == pytest.approx(0.5, abs=0.05)


def test_batches_seed_and_torch_codes():
    sizes = []

    def rep(x):
        sizes.append(len(x))
        return torch.from_numpy(heights(x)).requires_grad_()            # a torch model's output

    codes, factors = generate_codes(GroundTruthData("rectangles"), rep, 40, np.random.RandomState(0), 16)
    assert sizes == [16, 16, 8] and codes.shape == (40, 2) and factors.shape == (40, 2)
    np.testing.assert_array_equal(codes, factors * 2 + 3)              # heights 3 + 2i
    a = compute("rectangles", heights, np.random.RandomState(4), num_train=200, metrics=("mig", "sap"))
    b = compute(GroundTruthData("rectangles"), heights, 4, num_train=200, metrics=["sap", "mig"])
    assert a == b and "dci_disentanglement" not in a and "factor_vae" not in a


class RandomStateOnlyData:
    """A third-party dataset in disentanglement_lib's style: it calls RandomState methods only."""
    num_factors = 2
    factors_num_values = [4, 3]
    observation_shape = (2,)

    def sample_factors(self, num, random_state):
        return np.stack([random_state.randint(4, size=num), random_state.randint(3, size=num)], axis=1)

    def sample_observations_from_factors(self, factors, random_state):
        return factors + random_state.uniform(-0.1, 0.1, size=factors.shape)

    def sample(self, num, random_state):
        factors = self.sample_factors(num, random_state)
        return factors, self.sample_observations_from_factors(factors, random_state)

    def sample_observations(self, num, random_state):
        return self.sample(num, random_state)[1]


def test_random_state_reaches_a_library_dataset_unchanged():
    out = compute(RandomStateOnlyData(), lambda x: x, 0, metrics=("mig", "factor_vae", "modularity"), **{
        k: v for k, v in SMALL.items() if k != "dci_max_train"})
    assert out["factor_names"] == ["factor0", "factor1"]
    assert out["mig"] > 0.9 and out["factor_vae"] == 1.0 and out["modularity"] > 0.99


def test_bad_arguments_are_value_errors():
    data = GroundTruthData("line")
    with pytest.raises(ValueError, match=r"unknown metric 'beta_vae'; choose from \['mig'"):
        compute(data, heights, 0, metrics=("mig", "beta_vae"))
    with pytest.raises(ValueError, match="no metric"):
        compute(data, heights, 0, metrics=())
    with pytest.raises(ValueError, match="num_train must be an integer >= 3"):
        compute(data, heights, 0, num_train=2)
    with pytest.raises(ValueError, match="callable"):
        compute(data, "encoder", 0)
    with pytest.raises(ValueError, match="random_state"):
        compute(data, heights, -1)
    with pytest.raises(ValueError, match="unknown kind"):
        compute("lines", heights, 0)
    widths = iter([1, 2, 1, 2])
    with pytest.raises(ValueError, match="different widths"):
        compute(data, lambda x: np.zeros((len(x), next(widths))), 0, num_train=20, metrics=("mig",))
    assert set(METRICS) == {"mig", "sap", "dci", "factor_vae", "modularity"}

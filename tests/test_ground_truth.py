"""The disentanglement_lib adapter: its interface, the RandomState it is handed, and a metric run the way the
library runs it (a faithful re-implementation of ``compute_mig``'s code path, since the library is not a
dependency)."""
from __future__ import annotations

import inspect

import numpy as np
import pytest
from sklearn.metrics import mutual_info_score

from basicprop import get_kind
from basicprop.ground_truth import GroundTruthData, as_generator, check_random_state
from eval.representation import compute

INK = 100 / 255  # ink threshold of eval.measure, on observations in [0, 1]


# disentanglement_lib's ground_truth_data.GroundTruthData: method -> parameters after self
DLIB_SIGNATURES = {
    "sample_factors": ["num", "random_state"],
    "sample_observations_from_factors": ["factors", "random_state"],
    "sample": ["num", "random_state"],
    "sample_observations": ["num", "random_state"],
}


def test_signatures_match_disentanglement_lib():
    for name, params in DLIB_SIGNATURES.items():
        assert list(inspect.signature(getattr(GroundTruthData, name)).parameters)[1:] == params
    for name in ("num_factors", "factors_num_values", "observation_shape"):
        assert isinstance(inspect.getattr_static(GroundTruthData, name), property)


def test_metadata_of_rectangles_and_kind_parameters():
    data = GroundTruthData("rectangles", bg_noise=(0, 60))
    assert data.num_factors == 2 and data.factors_num_values == [10, 10]
    assert data.observation_shape == (28, 28, 1)
    assert data.kind == get_kind("rectangles", bg_noise=(0, 60))
    assert GroundTruthData(get_kind("line")).factors_num_values == [10]
    with pytest.raises(ValueError, match="unknown kind"):
        GroundTruthData("rectangle")
    with pytest.raises(ValueError, match="no parameter"):
        GroundTruthData("line", width=3)


def test_random_state_is_accepted_deterministic_and_advances():
    data = GroundTruthData("rectangles")
    f1, x1 = data.sample(32, np.random.RandomState(0))   # today's kinds would raise AttributeError: integers
    f2, x2 = data.sample(32, np.random.RandomState(0))
    assert f1.shape == (32, 2) and f1.dtype == np.int64
    assert x1.shape == (32, 28, 28, 1) and x1.dtype == np.float32 and 0 <= x1.min() and x1.max() <= 1
    np.testing.assert_array_equal(f1, f2)
    np.testing.assert_array_equal(x1, x2)
    rs = np.random.RandomState(0)
    assert not np.array_equal(data.sample_factors(32, rs), data.sample_factors(32, rs))   # the stream moves on
    gen = np.random.default_rng(3)
    assert as_generator(gen) is gen
    np.testing.assert_array_equal(data.sample_factors(8, 5), data.sample_factors(8, 5))   # an int is a seed
    assert data.sample_observations(4, np.random.default_rng(0)).shape == (4, 28, 28, 1)


@pytest.mark.parametrize("bad", [None, -1, 1.5, True, "0"])
def test_bad_random_state_is_a_value_error(bad):
    with pytest.raises(ValueError, match="random_state must be"):
        GroundTruthData("line").sample_factors(2, bad)
    with pytest.raises(ValueError, match="random_state must be"):
        check_random_state(bad)


def test_fixing_a_factor_in_place_as_factor_vae_does():
    """disentanglement_lib's FactorVAE score overwrites a column of the sampled factors, then renders them."""
    data = GroundTruthData("rectangles")
    rs = np.random.RandomState(1)
    factors = data.sample_factors(64, rs)
    factors[:, 1] = factors[0, 1]
    x = data.sample_observations_from_factors(factors, rs)
    right_rows = (x[:, :, 15:25, 0] > INK).mean(axis=2) >= 0.5
    assert np.unique(right_rows.sum(axis=1)).size == 1                   # the right bar's height is fixed
    assert np.unique((x[:, :, 3:13, 0] > INK).mean(axis=2).sum(axis=1)).size > 1


def test_observations_are_the_rendered_images_over_255():
    data = GroundTruthData("line", fg_noise=None)
    factors = np.array([[0], [9]])
    x = data.sample_observations_from_factors(factors, np.random.RandomState(0))
    np.testing.assert_array_equal(x[..., 0], data.kind.render(factors, np.random.default_rng(0)) / np.float32(255))
    with pytest.raises(ValueError, match="must lie in 0..9"):
        data.sample_observations_from_factors(np.array([[10]]), np.random.RandomState(0))


# --------------------------------------------- disentanglement_lib's compute_mig, transcribed (codes x points)
def dlib_generate_batch_factor_code(ground_truth_data, representation_function, num_points, random_state,
                                    batch_size):
    representations = None
    factors = None
    i = 0
    while i < num_points:
        num_points_iter = min(num_points - i, batch_size)
        current_factors, current_observations = ground_truth_data.sample(num_points_iter, random_state)
        if i == 0:
            factors = current_factors
            representations = representation_function(current_observations)
        else:
            factors = np.vstack((factors, current_factors))
            representations = np.vstack((representations, representation_function(current_observations)))
        i += num_points_iter
    return np.transpose(representations), np.transpose(factors)


def dlib_histogram_discretize(target, num_bins=20):
    discretized = np.zeros_like(target)
    for i in range(target.shape[0]):
        discretized[i, :] = np.digitize(target[i, :], np.histogram(target[i, :], num_bins)[1][:-1])
    return discretized


def dlib_compute_mig(ground_truth_data, representation_function, random_state, num_train, batch_size=16):
    mus_train, ys_train = dlib_generate_batch_factor_code(ground_truth_data, representation_function, num_train,
                                                          random_state, batch_size)
    assert mus_train.shape[1] == num_train
    discretized_mus = dlib_histogram_discretize(mus_train)
    m = np.zeros([discretized_mus.shape[0], ys_train.shape[0]])
    for i in range(discretized_mus.shape[0]):
        for j in range(ys_train.shape[0]):
            m[i, j] = mutual_info_score(ys_train[j, :], discretized_mus[i, :])
    entropy = np.array([mutual_info_score(ys_train[j, :], ys_train[j, :]) for j in range(ys_train.shape[0])])
    sorted_m = np.sort(m, axis=0)[::-1]
    return {"discrete_mig": np.mean(np.divide(sorted_m[0, :] - sorted_m[1, :], entropy[:]))}


def bar_ink(observations):
    """(n, 28, 28, 1) -> (n, 2) continuous codes: the ink of the left bar and of the right bar."""
    x = observations[..., 0].astype(np.float64)
    return np.stack([x[:, :, 3:13].sum(axis=(1, 2)), x[:, :, 15:25].sum(axis=(1, 2))], axis=1)


def test_compute_mig_runs_on_the_adapter_as_the_library_would():
    data = GroundTruthData("rectangles")
    ours = compute(data, bar_ink, np.random.RandomState(0), num_train=800, metrics=("mig",))
    theirs = dlib_compute_mig(data, bar_ink, np.random.RandomState(0), num_train=800)
    assert ours["mig"] == pytest.approx(theirs["discrete_mig"], abs=1e-9)
    assert theirs["discrete_mig"] > 0.9                        # the bar heights are the factors
    assert compute("rectangles", bar_ink, 0, num_train=800, metrics=("mig",))["mig"] == pytest.approx(ours["mig"])

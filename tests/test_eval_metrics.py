"""Known answers for the pure metrics (disentanglement_lib style): identity -> 1, random -> 0, invariances."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from eval import clustering, dci, mig, mutual_info, probes, sap
from eval.discretize import discretize, histogram_discretize
from eval.score import ScoreConfig, score

N = 3000
SIZES = (10, 5, 8)


@pytest.fixture(scope="module")
def factors() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.stack([rng.integers(0, k, N) for k in SIZES], axis=1)


def noisy(factors, scale=0.05, seed=1):
    """The factors as continuous codes: factor value plus a little noise."""
    return factors + np.random.default_rng(seed).normal(0, scale, factors.shape)


# ----------------------------------------------------------------------------------------- discretisation
def test_histogram_discretize_matches_numpy_edges():
    x = np.array([0.0, 0.49, 0.5, 0.99, 1.0])
    assert histogram_discretize(x, 2).tolist() == [0, 0, 1, 1, 1]
    assert histogram_discretize(np.linspace(0, 1, 100), 20).max() == 19


def test_discretize_detects_integer_columns():
    codes = np.array([[3, 0.5], [7, 0.25], [3, 0.1]])
    d = discretize(codes)
    assert d[:, 0].tolist() == [0, 1, 0]          # relabelled values
    assert discretize(codes, [False, False])[:, 0].tolist() == [0, 19, 0]


# ------------------------------------------------------------------------------------------ MI and MIG
def test_mi_identity_is_the_factor_entropy():
    f = np.repeat(np.arange(4), 25)[:, None]      # exactly uniform: H = log 4
    r = mutual_info.mutual_info(f, f)
    assert r[mutual_info.FACTOR_ENTROPY][0] == pytest.approx(np.log(4))
    assert r[mutual_info.MI_NATS][0][0] == pytest.approx(np.log(4))
    assert r[mutual_info.MI_NORMALIZED][0][0] == pytest.approx(1.0)


def test_mig_identity_is_one(factors):
    assert mig.mig(factors, factors)[mig.MIG] > 0.98
    r = mig.mig(noisy(factors), factors)          # continuous codes, 20 bins
    assert r[mig.MIG] > 0.97
    assert r[mig.MIG_BEST_CODE] == [0, 1, 2]


def test_mig_random_codes_is_zero(factors):
    codes = np.random.default_rng(5).normal(size=(N, 3))
    assert mig.mig(codes, factors)[mig.MIG] < 0.05


def test_mig_duplicated_code_is_zero_for_that_factor(factors):
    codes = factors[:, [0, 0, 1, 2]]
    r = mig.mig(codes, factors)
    assert r[mig.MIG_PER_FACTOR][0] == pytest.approx(0.0, abs=1e-9)
    assert r[mig.MIG] < 0.7


def test_mixed_codes_lower_mig(factors):
    c = noisy(factors[:, :2])
    mixed = np.stack([c[:, 0] + c[:, 1] * 2, c[:, 0] - c[:, 1] * 2], axis=1)
    assert mig.mig(mixed, factors[:, :2])[mig.MIG] < mig.mig(c, factors[:, :2])[mig.MIG] - 0.3


def test_mig_single_code_and_constant_factor():
    f = np.stack([np.arange(100) % 5, np.zeros(100, int)], axis=1)
    r = mig.mig(f[:, :1], f)
    assert r[mig.MIG] == pytest.approx(1.0)
    assert np.isnan(r[mig.MIG_PER_FACTOR][1])


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), scale=st.floats(0.01, 100), sign=st.sampled_from([-1.0, 1.0]),
       shift=st.floats(-100, 100))
def test_mig_invariant_to_permutation_and_rescaling(factors, seed, scale, sign, shift):
    rng = np.random.default_rng(seed)
    codes = np.c_[noisy(factors, 0.3, seed), rng.normal(size=N)]
    perm = rng.permutation(codes.shape[1])
    base = mig.mig(codes, factors)
    moved = mig.mig(codes[:, perm] * sign * scale + shift, factors)
    assert moved[mig.MIG] == pytest.approx(base[mig.MIG], abs=1e-9)
    assert [perm[i] for i in moved[mig.MIG_BEST_CODE]] == base[mig.MIG_BEST_CODE]


# -------------------------------------------------------------------------------------------------- SAP
def test_sap_identity_and_random(factors):
    rng = np.random.default_rng(0)
    r = sap.sap(factors, factors, rng=rng)
    assert np.diag(r[sap.SAP_SCORE_MATRIX]).tolist() == [1.0, 1.0, 1.0]
    assert r[sap.SAP] > 0.8  # 1 minus the runner-up code's (chance-level) accuracy
    assert sap.sap(rng.normal(size=(N, 3)), factors, rng=rng)[sap.SAP] < 0.05


def test_sap_binary_factors_continuous_codes():
    rng = np.random.default_rng(0)
    f = rng.integers(0, 2, (2000, 2))
    r = sap.sap(noisy(f, 0.1), f, rng=rng)
    m = np.array(r[sap.SAP_SCORE_MATRIX])
    assert m[0, 0] > 0.98 and m[1, 1] > 0.98 and m[0, 1] < 0.6
    assert r[sap.SAP] == pytest.approx(0.5, abs=0.05)


def test_sap_invariant_to_permutation_and_rescaling(factors):
    codes = noisy(factors, 0.3)
    a = sap.sap(codes, factors, rng=np.random.default_rng(3))
    b = sap.sap(-7.5 * codes[:, [2, 0, 1]] + 3, factors, rng=np.random.default_rng(3))
    assert b[sap.SAP] == pytest.approx(a[sap.SAP], abs=0.01)


# -------------------------------------------------------------------------------------------------- DCI
def test_dci_identity_and_random(factors):
    r = dci.dci(noisy(factors[:1500, :2]), factors[:1500, :2], rng=np.random.default_rng(0), max_train=500)
    assert r[dci.DISENTANGLEMENT] > 0.9 and r[dci.COMPLETENESS] > 0.9
    assert r[dci.INFORMATIVENESS_TEST] > 0.95
    rnd = dci.dci(np.random.default_rng(1).normal(size=(1500, 2)), factors[:1500, :2], rng=np.random.default_rng(0),
                  max_train=500)
    assert rnd[dci.INFORMATIVENESS_TEST] < 0.3


def test_dci_from_importance_matrix():
    assert dci.disentanglement(np.eye(3)) == pytest.approx(1.0, abs=1e-6)
    assert dci.completeness(np.eye(3)) == pytest.approx(1.0, abs=1e-6)
    assert dci.disentanglement(np.ones((3, 3))) == pytest.approx(0.0, abs=1e-6)
    assert np.isnan(dci.disentanglement(np.ones((3, 1))))


# ------------------------------------------------------------------------------------------- clustering
def test_hungarian_exact_on_permuted_labels():
    rng = np.random.default_rng(0)
    f = rng.integers(0, 10, 1000)
    perm = rng.permutation(10)
    acc, mapping = clustering.hungarian_accuracy(perm[f], f)
    assert acc == 1.0
    assert all(perm[v] == k for k, v in mapping.items())
    s = clustering.cluster_scores(perm[f], f)
    assert s[clustering.NMI] == pytest.approx(1.0) and s[clustering.ARI] == pytest.approx(1.0)


def test_hungarian_code_with_more_values_than_the_factor():
    f = np.arange(800) % 4
    code = f * 2 + (np.arange(800) // 4) % 2      # every factor value split evenly into two code values
    assert clustering.hungarian_accuracy(code, f)[0] == 0.5   # one-to-one: half of each value is unmatched
    assert clustering.purity(code, f) == 1.0                   # many-to-one
    assert clustering.hungarian_accuracy(f // 2, f)[0] == 0.5  # fewer values than the factor


def test_clustering_matrix_skips_continuous_codes(factors):
    codes = np.c_[factors[:, 0], noisy(factors[:, 1:2])]
    r = clustering.clustering(codes, factors)
    assert r[clustering.CLUSTER_CODES] == [0]
    assert r[clustering.CLUSTER_ACCURACY][0][0] == 1.0
    assert r[clustering.CLUSTER_ACCURACY][0][1] < 0.4


# ----------------------------------------------------------------------------------------------- probes
def test_probes_identity_and_random(factors):
    r = probes.probes(factors, factors, rng=np.random.default_rng(0), max_train=1000)
    assert min(r[probes.PROBE_LINEAR]) == 1.0 and min(r[probes.PROBE_MLP]) > 0.97
    rnd = probes.probes(np.random.default_rng(1).normal(size=(N, 2)), factors, rng=np.random.default_rng(0),
                        max_train=1000, mlp=False)
    assert all(a < c + 0.06 for a, c in zip(rnd[probes.PROBE_LINEAR], rnd[probes.PROBE_CHANCE]))


# ------------------------------------------------------------------------------------------------ score
def test_score_identity_all_metrics(factors):
    cfg = ScoreConfig(dci_max_train=500, probe_max_train=1000)
    r = score(factors[:1500], factors[:1500], rng=np.random.default_rng(0), config=cfg)
    assert r["mig"] > 0.97 and r["best_accuracy"] == [1.0, 1.0, 1.0]
    assert r["best_factor"] == [0, 1, 2]
    assert r["dci_informativeness_test"] > 0.99


def test_score_binned_factors_only_in_mi(factors):
    cfg = ScoreConfig(dci=False, probes=False)
    r = score(factors, factors, rng=np.random.default_rng(0), config=cfg, binned=[False, True, False])
    assert r["factor_binned"] == [False, True, False]
    assert r["sap_per_factor"][1] is None and r["sap_per_factor"][0] is not None
    assert r["cluster_accuracy"][0][1] is None
    assert r["mig_per_factor"][1] > 0.95


def test_score_is_deterministic_given_rng(factors):
    cfg = ScoreConfig(dci_max_train=200, probe_max_train=300)
    codes, f = noisy(factors[:450, :2], 0.2), factors[:450, :2]
    a = score(codes, f, rng=np.random.default_rng(7), config=cfg)
    b = score(codes, f, rng=np.random.default_rng(7), config=cfg)
    assert a == b


@pytest.mark.parametrize("codes, facts, message", [
    (np.zeros((10, 2)), np.zeros((9, 1)), "samples"),
    (np.zeros((10, 2)), np.full((10, 1), 0.5), "integer"),
    (np.full((10, 2), np.nan), np.zeros((10, 1)), "NaN"),
    (np.zeros((10, 2, 2)), np.zeros((10, 1)), "2-D"),
])
def test_bad_input_raises_value_error(codes, facts, message):
    with pytest.raises(ValueError, match=message):
        mig.mig(codes, facts)

"""Metrics on skewed factors and non-square code x factor tables, against answers worked out by hand in this file
(plain-python entropy sums over small contingency tables, never the metric's own code)."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from eval import clustering, dci, mig, mutual_info, sap
from eval.discretize import discretize, histogram_discretize
from eval.splits import train_test_split

from eval.clustering import code_factor_accuracy   # what training logs as acc/...


def _entropy(counts) -> float:
    n = sum(counts)
    return -sum(c / n * math.log(c / n) for c in counts if c)


def _mi(table) -> float:
    """I(a; b) in nats of a contingency table given as a list of rows."""
    n = sum(map(sum, table))
    rows = [sum(r) for r in table]
    cols = [sum(c) for c in zip(*table)]
    return sum(c / n * math.log(c * n / (rows[i] * cols[j]))
               for i, r in enumerate(table) for j, c in enumerate(r) if c)


# Twenty samples, two factors: a skewed binary one (p = 0.9 / 0.1) and a uniform one with four values.
F_SKEW = np.array([0] * 18 + [1] * 2)
F_UNI = np.arange(20) % 4
FACTORS = np.c_[F_SKEW, F_UNI]
H_SKEW = -(0.9 * math.log(0.9) + 0.1 * math.log(0.1))        # 0.3251 nats, far from log 2 = 0.6931
H_UNI = math.log(4)
NEAR_SKEW = F_SKEW.copy()
NEAR_SKEW[0] = 1                   # the skewed factor with one of its 0s flipped: table [[17, 0], [1, 2]]
I_NEAR = _mi([[17, 0], [1, 2]])
HALF_UNI = F_UNI // 2              # the uniform factor with its values merged in pairs: I = log 2


def test_hand_tables_are_what_they_say():
    assert _entropy([18, 2]) == pytest.approx(H_SKEW) and H_SKEW == pytest.approx(0.325083, abs=1e-6)
    assert _mi([[18, 0], [0, 2]]) == pytest.approx(H_SKEW)
    assert I_NEAR == pytest.approx(0.85 * math.log(1 / 0.9) + 0.05 * math.log(1 / 2.7) + 0.1 * math.log(1 / 0.15))


def test_mutual_info_on_skewed_and_non_square_tables():
    codes = np.c_[F_SKEW, NEAR_SKEW, HALF_UNI]             # three codes, two factors
    r = mutual_info.mutual_info(codes, FACTORS)
    # rows: the code's values; columns: the factor's values (counted from the arrays above)
    want = [[H_SKEW, _mi([[5, 5, 4, 4], [0, 0, 1, 1]])],
            [I_NEAR, _mi([[4, 5, 4, 4], [1, 0, 1, 1]])],
            [_mi([[10, 0], [8, 2]]), math.log(2)]]
    assert np.array(r[mutual_info.MI_NATS]) == pytest.approx(np.array(want), abs=1e-9)
    assert r[mutual_info.FACTOR_ENTROPY] == pytest.approx([H_SKEW, H_UNI])
    assert np.array(r[mutual_info.MI_NORMALIZED]) == pytest.approx(np.array(want) / [H_SKEW, H_UNI], abs=1e-9)


def test_mutual_info_constant_factor_normalises_to_zero():
    r = mutual_info.mutual_info(np.c_[F_UNI], np.c_[np.zeros(20, int), F_UNI])
    assert r[mutual_info.FACTOR_ENTROPY] == pytest.approx([0.0, H_UNI])
    assert np.array(r[mutual_info.MI_NORMALIZED]) == pytest.approx(np.array([[0.0, 1.0]]))


def test_mig_skewed_factor_is_normalised_by_its_entropy_not_log_k():
    codes = np.c_[F_SKEW, NEAR_SKEW]                         # two codes, one skewed factor
    r = mig.mig(codes, F_SKEW)
    want = (H_SKEW - I_NEAR) / H_SKEW                        # 0.2624; over log 2 it would be 0.1231
    assert r[mig.MIG] == pytest.approx(want, abs=1e-9)
    assert r[mig.MIG] != pytest.approx((H_SKEW - I_NEAR) / math.log(2), abs=0.05)
    assert r[mig.MIG_BEST_CODE] == [0]


def test_mig_more_codes_than_factors():
    codes = np.c_[HALF_UNI, F_SKEW, NEAR_SKEW, F_UNI]        # four codes, two factors
    r = mig.mig(codes, FACTORS)
    per_skew = (H_SKEW - I_NEAR) / H_SKEW                    # top two: F_SKEW, NEAR_SKEW
    per_uni = (H_UNI - math.log(2)) / H_UNI                  # top two: F_UNI, HALF_UNI
    assert r[mig.MIG_PER_FACTOR] == pytest.approx([per_skew, per_uni], abs=1e-9)
    assert r[mig.MIG] == pytest.approx((per_skew + per_uni) / 2, abs=1e-9)
    assert r[mig.MIG_BEST_CODE] == [1, 3]


def test_mig_fewer_codes_than_factors():
    r = mig.mig(HALF_UNI, FACTORS)                           # one code: the second term is 0
    per = [_mi([[10, 0], [8, 2]]) / H_SKEW, math.log(2) / H_UNI]
    assert r[mig.MIG_PER_FACTOR] == pytest.approx(per, abs=1e-9)
    assert r[mig.MIG] == pytest.approx(sum(per) / 2, abs=1e-9)
    r = mig.mig(np.c_[F_UNI, HALF_UNI], np.c_[F_UNI, np.full(20, 3)])       # a constant factor is left out
    assert r[mig.MIG] == pytest.approx((H_UNI - math.log(2)) / H_UNI)
    assert math.isnan(r[mig.MIG_PER_FACTOR][1])


def test_mig_all_factors_constant_is_nan_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = mig.mig(np.c_[F_UNI, HALF_UNI], np.zeros((20, 2), int))
        assert math.isnan(r[mig.MIG]) and all(math.isnan(v) for v in r[mig.MIG_PER_FACTOR])
        r = mig.mig(np.c_[F_UNI, HALF_UNI], np.c_[F_UNI, np.zeros(20, int)])
        assert r[mig.MIG] == pytest.approx((H_UNI - math.log(2)) / H_UNI)
        assert mutual_info.mutual_info(F_UNI, np.zeros(20, int))[mutual_info.MI_NORMALIZED] == [[0.0]]


def test_mig_from_matrix_by_hand():
    m = np.array([[0.1, 0.5], [0.4, 0.5], [0.2, 0.0]])       # three codes, two factors, nats
    r = mig.mig_from_matrix(m, np.array([0.5, 1.0]))
    assert r[mig.MIG_PER_FACTOR] == pytest.approx([(0.4 - 0.2) / 0.5, 0.0])
    assert r[mig.MIG] == pytest.approx(0.2)
    assert r[mig.MIG_BEST_CODE] == [1, 0] and all(type(i) is int for i in r[mig.MIG_BEST_CODE])


def test_continuous_code_binned_by_equal_width():
    col = np.array([0.0, 0.05, 0.1, 0.49, 0.5, 0.51, 0.99, 1.0])
    assert histogram_discretize(col, 2).tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    assert histogram_discretize(col, 10).tolist() == [0, 0, 1, 4, 5, 5, 9, 9]
    # a continuous copy of the skewed factor keeps all its information in 20 bins (its two values land in the
    # end bins); a constant code falls in the middle bin of [v - 0.5, v + 0.5] and carries none
    codes = np.c_[F_SKEW * 0.7 + 0.1, np.full(20, 0.25)]
    assert discretize(codes).tolist() == np.c_[F_SKEW * 19, np.full(20, 10)].tolist()
    r = mig.mig(codes, F_SKEW)
    assert r[mig.MIG] == pytest.approx(1.0)


# ---- SAP

def test_sap_from_matrix_by_hand():
    score = np.array([[0.9, 0.3], [0.6, 0.8], [0.1, 0.75]])  # three codes, two factors
    r = sap.sap_from_matrix(score)
    assert r[sap.SAP_PER_FACTOR] == pytest.approx([0.3, 0.05])
    assert r[sap.SAP] == pytest.approx(0.175)
    assert sap.sap_from_matrix(np.array([[0.7, 0.4]]))[sap.SAP_PER_FACTOR] == pytest.approx([0.7, 0.4])


def test_sap_skewed_factor_discrete_codes_by_hand():
    """Lookup-table classifiers: a copy of the factor scores 1, a constant code scores the share of the train
    mode (0) in the test split; three codes, two factors, 60 samples."""
    f_skew = np.tile(F_SKEW, 3)
    f_uni = np.tile(F_UNI, 3)
    codes = np.c_[f_skew, np.zeros(60), f_uni]
    r = sap.sap(codes, np.c_[f_skew, f_uni], rng=np.random.default_rng(0), test_fraction=0.5)
    train, test = train_test_split(60, np.random.default_rng(0), 0.5)
    assert test.size == 30
    mode_skew = float(np.mean(f_skew[test] == 0))
    vals, counts = np.unique(f_uni[train], return_counts=True)
    mode_uni = float(np.mean(f_uni[test] == vals[np.argmax(counts)]))
    want = np.array([[1.0, _lookup_accuracy(f_skew, f_uni, train, test)],
                     [mode_skew, mode_uni],
                     [_lookup_accuracy(f_uni, f_skew, train, test), 1.0]])
    assert want[2, 0] == mode_skew < 1                           # f_uni's values all map to the mode 0
    assert np.array(r[sap.SAP_SCORE_MATRIX]) == pytest.approx(want)
    assert r[sap.SAP_PER_FACTOR] == pytest.approx([1.0 - mode_skew, 1.0 - max(mode_uni, want[0, 1])])


def _lookup_accuracy(code, y, train, test) -> float:
    """Most frequent train value of ``y`` for each code value (ties: the smallest), scored on test."""
    table = {}
    for v in np.unique(code[train]):
        ys, counts = np.unique(y[train][code[train] == v], return_counts=True)
        table[v] = ys[np.argmax(counts)]
    return float(np.mean([table[c] == t for c, t in zip(code[test], y[test])]))


def test_sap_unseen_code_value_predicts_the_overall_mode():
    pred = sap.lookup_predict(np.array([0, 0, 1, 1, 1]), np.array([2, 5, 5, 5, 5]), np.array([0, 1, 7, -1]))
    assert pred.tolist() == [2, 5, 5, 5]                      # a tie goes to the smaller value; unseen -> mode 5


# ---- DCI

def test_dci_from_non_square_importance_by_hand():
    one_each = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])         # three codes, two factors
    assert dci.disentanglement(one_each) == pytest.approx(1.0, abs=1e-6)
    assert dci.completeness(one_each) == pytest.approx(1.0, abs=1e-6)
    shared = np.array([[1.0, 1.0], [0.0, 0.0], [0.0, 0.0]])           # one code holds both factors
    assert dci.disentanglement(shared) == pytest.approx(0.0, abs=1e-6)
    assert dci.completeness(shared) == pytest.approx(1.0, abs=1e-6)
    split = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 2.0]])            # factor 0 spread over two of three codes
    assert dci.disentanglement(split) == pytest.approx(1.0, abs=1e-6)
    assert dci.completeness(split) == pytest.approx((1 - math.log(2) / math.log(3) + 1) / 2, abs=1e-6)
    weighted = np.array([[2.0, 0.0], [1.0, 1.0]])
    h = -(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3)) / math.log(2)
    assert dci.disentanglement(weighted) == pytest.approx(0.5 * 1 + 0.5 * 0, abs=1e-6)
    assert dci.completeness(weighted) == pytest.approx(0.75 * (1 - h) + 0.25 * 1, abs=1e-6)
    wide = np.array([[1.0, 0.0, 0.0, 1.0]])                           # one code, four factors
    assert math.isnan(dci.completeness(wide))
    assert dci.disentanglement(wide) == pytest.approx(1 - math.log(2) / math.log(4), abs=1e-6)
    assert dci.disentanglement(np.zeros((2, 2))) == pytest.approx(0.0, abs=1e-6)


def test_dci_skewed_factors_more_codes_than_factors():
    rng = np.random.default_rng(0)
    n = 600
    skew = (rng.random(n) < 0.1).astype(int)
    uni = rng.integers(0, 4, n)
    codes = np.c_[uni + rng.normal(0, 0.05, n), skew + rng.normal(0, 0.05, n), rng.normal(0, 1, n)]
    r = dci.dci(codes, np.c_[skew, uni], rng=np.random.default_rng(1))
    imp = np.array(r[dci.IMPORTANCE])
    assert imp.shape == (3, 2) and np.argmax(imp, axis=0).tolist() == [1, 0]
    assert r[dci.DISENTANGLEMENT] > 0.9 and r[dci.COMPLETENESS] > 0.9
    assert r[dci.INFORMATIVENESS_TEST] == pytest.approx(1.0) and r[dci.INFORMATIVENESS_TRAIN] == 1.0
    assert r[dci.DCI_NUM_TRAIN] == 400


def test_dci_constant_factor_is_predicted_and_unimportant():
    rng = np.random.default_rng(0)
    uni = rng.integers(0, 3, 90)
    imp, acc_train, acc_test = dci.importance_gbt(uni[:60, None] + 0.0, np.c_[np.zeros(60, int), uni[:60]],
                                                  uni[60:, None] + 0.0, np.c_[np.ones(30, int), uni[60:]], 0)
    assert imp[:, 0].tolist() == [0.0] and imp[0, 1] == pytest.approx(1.0)    # the constant factor first
    assert acc_train == 1.0 and acc_test == pytest.approx(0.5)      # the constant factor differs on test


# ---- Hungarian accuracy, purity, NMI; the trainer's accuracy is eval's

def _from_table(table):
    code, factor = [], []
    for i, row in enumerate(table):
        for j, c in enumerate(row):
            code += [i] * c
            factor += [j] * c
    return np.array(code), np.array(factor)


def test_hungarian_more_code_values_than_factor_values_by_hand():
    code, factor = _from_table([[8, 1], [1, 5], [3, 2]])     # best one-to-one: 8 + 5 of 20
    acc, mapping = clustering.hungarian_accuracy(code * 10 + 3, factor)
    assert acc == pytest.approx(13 / 20) and mapping == {3: 0, 13: 1}
    assert clustering.purity(code, factor) == pytest.approx(16 / 20)
    assert code_factor_accuracy(code[:, None], factor[:, None], ("f",)) == {"acc/cat0/f": 13 / 20, "acc/f": 13 / 20}


def test_hungarian_fewer_code_values_than_factor_values_by_hand():
    code, factor = _from_table([[5, 4, 0], [0, 6, 1]])       # 5 + 6 of 16, not 4 + ... nor the diagonal 5 + 6
    acc, mapping = clustering.hungarian_accuracy(code, factor)
    assert acc == pytest.approx(11 / 16) and mapping == {0: 0, 1: 1}
    code, factor = _from_table([[1, 9, 0], [0, 2, 4]])       # 9 + 4 = 13 beats the diagonal 1 + 2
    assert clustering.hungarian_accuracy(code, factor) == (pytest.approx(13 / 16), {0: 1, 1: 2})
    assert clustering.purity(code, factor) == pytest.approx(13 / 16)


def test_nmi_and_ari_by_hand_on_a_skewed_table():
    code, factor = _from_table([[17, 0], [1, 2]])
    s = clustering.cluster_scores(code, factor)
    h_code, h_factor = _entropy([17, 3]), _entropy([18, 2])
    assert s[clustering.NMI] == pytest.approx(2 * _mi([[17, 0], [1, 2]]) / (h_code + h_factor))
    pairs = lambda k: k * (k - 1) / 2                                   # noqa: E731
    index = pairs(17) + pairs(1) + pairs(2)
    a, b, total = pairs(17) + pairs(3), pairs(18) + pairs(2), pairs(20)
    expected = a * b / total
    assert s[clustering.ARI] == pytest.approx((index - expected) / ((a + b) / 2 - expected))
    assert s[clustering.ACCURACY] == pytest.approx(19 / 20) and s[clustering.PURITY] == pytest.approx(19 / 20)


def test_training_accuracy_equals_eval_accuracy_and_matches_each_factor_once():
    rng = np.random.default_rng(0)
    a = np.where(rng.random(400) < 0.9, 0, rng.integers(0, 4, 400))          # skewed
    b = rng.integers(0, 3, 400)
    noisy_a = np.where(rng.random(400) < 0.7, a, rng.integers(0, 4, 400)) * 5 + 2
    codes = np.c_[noisy_a, a, b // 2 + 10]                                    # three codes, two factors
    out = code_factor_accuracy(codes, np.c_[a, b], ("a", "b"))
    for i in range(3):
        for j, f in enumerate((a, b)):
            assert out[f"acc/cat{i}/{'ab'[j]}"] == clustering.hungarian_accuracy(codes[:, i], f)[0]
    assert out["acc/a"] == 1.0                                 # the exact copy claims factor a ...
    assert out["acc/b"] == max(clustering.hungarian_accuracy(codes[:, i], b)[0] for i in (0, 2))  # ... not b
    assert set(out) == {f"acc/cat{i}/{f}" for i in range(3) for f in "ab"} | {"acc/a", "acc/b"}


def test_result_keys_are_the_documented_names():
    """Reports and saved JSON use these literal names; a renamed key breaks every reader."""
    codes = np.c_[F_UNI, HALF_UNI]
    assert set(mig.mig(codes, F_UNI)) == {"mig", "mig_per_factor", "mig_best_code"}
    assert set(mutual_info.mutual_info(codes, F_UNI)) == {"mi_nats", "mi_normalized", "factor_entropy"}
    assert set(sap.sap(codes, F_UNI, rng=np.random.default_rng(0))) == {"sap", "sap_per_factor",
                                                                        "sap_score_matrix"}
    assert (dci.DISENTANGLEMENT, dci.COMPLETENESS, dci.INFORMATIVENESS_TRAIN, dci.INFORMATIVENESS_TEST,
            dci.IMPORTANCE, dci.DCI_NUM_TRAIN) == ("dci_disentanglement", "dci_completeness",
                                                   "dci_informativeness_train", "dci_informativeness_test",
                                                   "dci_importance", "dci_num_train")
    assert set(clustering.cluster_scores(F_UNI, HALF_UNI)) == {"accuracy", "purity", "nmi", "ari", "mapping"}
    assert set(clustering.clustering(codes, F_UNI)) == {"cluster_codes", "cluster_accuracy", "cluster_purity",
                                                       "cluster_nmi", "cluster_ari"}


def test_dci_weights_codes_and_factors_by_their_importance():
    small = np.array([[0.3, 0.0], [0.05, 0.05]])              # sums below 1: still weighted, 0.75 / 0.25
    assert dci.disentanglement(small) == pytest.approx(0.75 * 1 + 0.25 * 0, abs=1e-6)
    h = -(0.3 / 0.35 * math.log(0.3 / 0.35) + 0.05 / 0.35 * math.log(0.05 / 0.35)) / math.log(2)
    assert dci.completeness(small) == pytest.approx(0.35 / 0.4 * (1 - h) + 0.05 / 0.4 * 1, abs=1e-6)
    assert dci.completeness(np.zeros((3, 2))) == pytest.approx(0.0, abs=1e-6)
    assert math.isnan(dci.disentanglement(np.ones((4, 1))))
    assert dci.completeness(np.array([[1.0], [0.0]])) == pytest.approx(1.0, abs=1e-6)       # one factor
    assert dci.disentanglement(np.array([[1.0, 0.0]])) == pytest.approx(1.0, abs=1e-6)     # one code


def test_dci_max_train_caps_the_training_split():
    rng = np.random.default_rng(0)
    f = rng.integers(0, 2, 90)
    r = dci.dci(f[:, None] + 0.0, f, rng=np.random.default_rng(0), max_train=20)
    assert r[dci.DCI_NUM_TRAIN] == 20 and r[dci.INFORMATIVENESS_TEST] == 1.0
    r = dci.dci(f[:, None] + 0.0, f, rng=np.random.default_rng(0), test_fraction=0.5)
    assert r[dci.DCI_NUM_TRAIN] == 45


CODES_2 = np.c_[F_UNI, HALF_UNI]


@pytest.mark.parametrize("metric", [
    lambda c, f: mig.mig(c, f), lambda c, f: mutual_info.mutual_info(c, f),
    lambda c, f: sap.sap(c, f, rng=np.random.default_rng(0)), lambda c, f: dci.dci(c, f, rng=np.random.default_rng(0)),
    lambda c, f: clustering.clustering(c, f)], ids=["mig", "mi", "sap", "dci", "clustering"])
def test_every_metric_names_the_bad_argument(metric):
    with pytest.raises(ValueError, match="^codes must be N"):
        metric(np.zeros((20, 2, 2)), F_UNI)
    with pytest.raises(ValueError, match="^codes have 20 samples but factors have 19"):
        metric(CODES_2, F_UNI[:19])
    with pytest.raises(ValueError, match="^factors must be integer-valued"):
        metric(CODES_2, F_UNI + 0.5)


def test_the_discrete_mask_and_bin_count_reach_the_discretiser():
    """An integer-valued code entered as continuous is binned (2 bins merge its 4 values into halves)."""
    codes = np.c_[F_UNI]
    r = mutual_info.mutual_info(codes, F_UNI, discrete=[False], num_bins=2)
    assert r[mutual_info.MI_NATS] == [[pytest.approx(math.log(2))]]
    assert mutual_info.mutual_info(codes, F_UNI, num_bins=2)[mutual_info.MI_NATS] == [[pytest.approx(H_UNI)]]
    r = mig.mig(codes, F_UNI, discrete=[False], num_bins=2)
    assert r[mig.MIG] == pytest.approx(0.5)
    assert mig.mig(codes, F_UNI, num_bins=2)[mig.MIG] == pytest.approx(1.0)
    assert clustering.clustering(np.c_[F_UNI, F_UNI], F_UNI, discrete=[False, True])[clustering.CLUSTER_CODES] == [1]


def test_sap_discrete_mask_chooses_lookup_or_linear_classifier():
    """A code 0, 1, 2, 3 for a factor that is 1 only at code value 2 (not linearly separable on the code):
    the lookup table reads it exactly, a linear SVM on the code cannot."""
    code = np.tile(np.arange(4), 30)
    factor = (code == 2).astype(int)
    as_lookup = sap.sap(code, factor, rng=np.random.default_rng(0))
    as_linear = sap.sap(code, factor, rng=np.random.default_rng(0), discrete=[False])
    assert as_lookup[sap.SAP] == 1.0 and as_linear[sap.SAP] < 0.9


def test_sap_balanced_svm_on_a_skewed_factor():
    """Balanced class weights: a weak continuous code still predicts the rare value, so the held-out accuracy on a
    0.9 / 0.1 factor falls below always answering the mode; without balancing it is the mode's 0.9."""
    rng = np.random.default_rng(0)
    factor = (rng.random(600) < 0.1).astype(int)
    code = factor * 1.0 + rng.normal(0, 1.0, 600)
    r = sap.sap(code, factor, rng=np.random.default_rng(0))
    _, test = train_test_split(600, np.random.default_rng(0))
    mode_share = float(np.mean(factor[test] == 0))
    assert r[sap.SAP] < mode_share - 0.1


def test_sap_constant_factor_with_a_continuous_code_scores_one():
    code = np.linspace(-1, 1, 30)
    r = sap.sap(np.c_[code, -code], np.c_[np.full(30, 4), (code > 0).astype(int)], rng=np.random.default_rng(0))
    assert np.array(r[sap.SAP_SCORE_MATRIX]) == pytest.approx(np.array([[1.0, 1.0], [1.0, 1.0]]))
    assert r[sap.SAP_PER_FACTOR] == pytest.approx([0.0, 0.0])


def test_hungarian_rejects_arrays_of_different_lengths():
    with pytest.raises(ValueError, match="^code has 3 samples but factor has 2$"):
        clustering.hungarian_accuracy([0, 1, 1], [1, 0])
    acc, _ = clustering.hungarian_accuracy(np.c_[[0, 1, 1]], np.array([[1], [0], [0]]))    # (N, 1) columns
    assert acc == 1.0 and clustering.purity(np.c_[[0, 0, 1]], np.c_[[1, 0, 0]]) == pytest.approx(2 / 3)


def test_training_accuracy_without_codes_factors_or_samples_is_empty():
    f = np.c_[F_UNI]
    assert code_factor_accuracy(np.zeros((20, 0), int), f, ("u",)) == {}
    assert code_factor_accuracy(np.c_[F_UNI], np.zeros((20, 0), int), ()) == {}
    assert code_factor_accuracy(np.zeros((0, 1), int), np.zeros((0, 1), int), ("u",)) == {}
    assert code_factor_accuracy(np.c_[HALF_UNI], f, ("u",)) == {"acc/cat0/u": 0.5, "acc/u": 0.5}

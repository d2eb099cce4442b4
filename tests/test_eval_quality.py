"""Sample quality on known answers: the Fréchet distance against its closed form (scipy's sqrtm, computed here),
precision / recall / density / coverage against a brute-force double loop over the definitions of Naeem et al.
(ICML 2020), identical sets, far-apart sets, and the features of the factor classifiers."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import linalg

from eval.factor_classifiers import FactorClassifier, new_net
from eval.sample_quality import (COVERAGE, DENSITY, FD, PRECISION, RECALL, classifier_features, frechet_distance,
                                 prdc, real_manifold, sample_quality)


def closed_form_fd(mu1, s1, mu2, s2) -> float:
    covmean = linalg.sqrtm(s1 @ s2).real
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * covmean))


def brute_prdc(real, fake, k):
    """The definitions, one pair at a time."""
    def dist(a, b):
        return float(np.sqrt(np.sum((a - b) ** 2)))

    def radius(points, i):
        d = sorted(dist(points[i], points[j]) for j in range(len(points)) if j != i)
        return d[k - 1]

    r_real = [radius(real, i) for i in range(len(real))]
    r_fake = [radius(fake, j) for j in range(len(fake))]
    precision = np.mean([any(dist(f, r) <= r_real[i] for i, r in enumerate(real)) for f in fake])
    recall = np.mean([any(dist(r, f) <= r_fake[j] for j, f in enumerate(fake)) for r in real])
    density = sum(dist(f, r) <= r_real[i] for f in fake for i, r in enumerate(real)) / (k * len(fake))
    coverage = np.mean([min(dist(r, f) for f in fake) <= r_real[i] for i, r in enumerate(real)])
    return {PRECISION: precision, RECALL: recall, DENSITY: density, COVERAGE: coverage}


def test_identical_sets_fd_zero_and_prdc_one():
    x = np.random.default_rng(0).normal(size=(400, 8))
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)
    r = prdc(x, x, k=5)
    assert r[PRECISION] == 1.0 and r[RECALL] == 1.0 and r[COVERAGE] == 1.0
    # each real ball holds its centre and its k nearest neighbours (no ties in continuous data), so the balls hold
    # N (k + 1) fakes in all: density (k + 1) / k, about 1 as for two samples of one distribution. The k-th
    # neighbour lies exactly on its ball's edge and counts as inside, whatever the rounding of each block.
    assert r[DENSITY] == 6 / 5


def test_far_apart_sets_score_zero():
    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(300, 4)), rng.normal(size=(250, 4)) + 100.0
    r = prdc(real, fake)
    assert r == {PRECISION: 0.0, RECALL: 0.0, DENSITY: 0.0, COVERAGE: 0.0}
    assert frechet_distance(real, fake) == pytest.approx(4 * 100.0 ** 2, rel=0.01)


def test_shifted_gaussian_matches_the_closed_form():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(20000, 3)) @ np.array([[1.0, 0.5, 0.0], [0.0, 1.0, 0.3], [0.0, 0.0, 0.7]])
    b = rng.normal(size=(20000, 3)) @ np.array([[2.0, 0.0, 0.0], [0.4, 0.5, 0.0], [0.0, 0.1, 1.5]]) + [1, -2, 0.5]
    expected = closed_form_fd(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)
    # and against the population parameters, to the sampling error
    la = np.array([[1.0, 0.5, 0.0], [0.0, 1.0, 0.3], [0.0, 0.0, 0.7]])
    lb = np.array([[2.0, 0.0, 0.0], [0.4, 0.5, 0.0], [0.0, 0.1, 1.5]])
    population = closed_form_fd(np.zeros(3), la.T @ la, np.array([1, -2, 0.5]), lb.T @ lb)
    assert frechet_distance(a, b) == pytest.approx(population, rel=0.03)
    # a pure shift: ||mu1 - mu2||^2
    shifted = a + [3.0, 0.0, -4.0]
    assert frechet_distance(a, shifted) == pytest.approx(25.0, rel=1e-9)


@pytest.mark.parametrize("seed, shift, k", [(0, 0.0, 5), (1, 0.7, 5), (2, 2.0, 3), (3, 0.3, 1)])
def test_prdc_matches_a_brute_force_double_loop(seed, shift, k):
    rng = np.random.default_rng(seed)
    real = rng.normal(size=(50, 3))
    fake = rng.normal(size=(45, 3)) * 1.3 + shift
    fast, slow = prdc(real, fake, k=k), brute_prdc(real, fake, k)
    for key in (PRECISION, RECALL, DENSITY, COVERAGE):
        assert fast[key] == pytest.approx(slow[key], abs=1e-12), key


def test_blocks_and_a_reused_manifold_give_the_same_numbers(monkeypatch):
    import eval.sample_quality as sq
    rng = np.random.default_rng(4)
    real, fake = rng.normal(size=(130, 5)), rng.normal(size=(120, 5)) + 0.5
    whole = prdc(real, fake)
    monkeypatch.setattr(sq, "CHUNK", 16)
    assert prdc(real, fake) == whole
    entries = sample_quality(real, fake, manifold=real_manifold(real))
    assert {k: entries[k] for k in whole} == whole and entries["n_real"] == 130 and entries[FD] > 0


@pytest.mark.parametrize("real, fake, k, message", [
    (np.zeros((10, 2)), np.zeros((10, 3)), 5, "feature sizes differ"),
    (np.zeros((10, 2)), np.zeros((4, 2)), 5, "k must be"),
    (np.zeros(10), np.zeros((10, 2)), 5, "expected"),
    (np.full((10, 2), np.nan), np.zeros((10, 2)), 5, "finite"),
])
def test_bad_inputs_raise(real, fake, k, message):
    with pytest.raises(ValueError, match=message):
        prdc(real, fake, k=k)


def test_classifier_features_are_the_penultimate_layer():
    net = new_net(10, (4, 8), torch.Generator().manual_seed(0)).eval()
    clf = FactorClassifier("position", 10, net, 1.0, {"source": "line"})
    images = np.random.default_rng(0).integers(0, 256, (7, 28, 28), dtype=np.uint8)
    feats = classifier_features([clf, clf], images)
    assert feats.shape == (7, 256) and (feats >= 0).all()
    x = torch.from_numpy(images).unsqueeze(1).float() / 255
    with torch.no_grad():
        logits = net(x).numpy()
    # the last layer reads exactly these activations
    np.testing.assert_allclose(feats[:, :128] @ net.fc2.weight.detach().numpy().T + net.fc2.bias.detach().numpy(),
                               logits, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(feats[:, :128], feats[:, 128:])


def test_ball_scale_tells_clustered_real_sets_and_the_report_warns():
    from eval.report import _headline_text
    from eval.sample_quality import REAL_BALL, TIGHT_BALLS
    rng = np.random.default_rng(5)
    spread = rng.normal(size=(400, 6))
    clusters = np.repeat(rng.normal(size=(10, 6)) * 10, 40, axis=0)      # ten distinct points, 40 copies each
    wide, tight = sample_quality(spread, spread[::-1]), sample_quality(clusters, spread)
    assert wide[REAL_BALL] > 0.2 and tight[REAL_BALL] == 0.0
    jitter = sample_quality(clusters + 1e-2 * rng.normal(size=clusters.shape), spread)[REAL_BALL]
    assert 0 < jitter < TIGHT_BALLS

    def text(entries):
        report = {f"quality.{k}": v for k, v in entries.items()}
        return "\n".join(_headline_text({**report, "quality.features": "test features"}))
    assert "tight clusters" in text(tight) and "tight clusters" not in text(wide)

"""Sample quality: how close generated images are to real ones, in the feature space of the project's own factor
classifiers (:mod:`eval.factor_classifiers`: the MNIST digit CNN, the BasicProp factor CNNs).

Two pure functions over feature arrays (samples first):

* :func:`frechet_distance` — the Fréchet distance between Gaussians fitted to two feature sets,
  ``||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))``. The formula of FID, but in these classifiers'
  features rather than Inception's: the numbers are comparable across checkpoints of one dataset, never with
  published Inception FIDs.
* :func:`prdc` — precision, recall, density and coverage with ``k`` nearest neighbours (Naeem et al., ICML 2020,
  "Reliable Fidelity and Diversity Metrics for Generative Models"): each point's k-NN radius within its own set
  (itself not counted) defines a manifold. Precision: fraction of fakes inside the real manifold; recall: fraction
  of reals inside the fake manifold; density: mean number of real balls holding a fake, over k (about 1 when the
  sets match, above 1 when fakes crowd where reals are dense); coverage: fraction of reals whose ball holds a fake.

:func:`classifier_features` maps images to the classifiers' penultimate-layer activations (concatenated over the
dataset's classifiers); :func:`sample_quality` returns the report entries.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

FD = "fd"
PRECISION = "precision"
RECALL = "recall"
DENSITY = "density"
COVERAGE = "coverage"
FEATURES = "features"          # which classifiers' features, e.g. "classifier penultimate layer: position (128)"
N_REAL = "n_real"
N_FAKE = "n_fake"
K = "k"
REAL_BALL = "real_ball"        # median k-NN radius of the real features over their RMS distance from their mean
NEAREST_K = 5
# Below this REAL_BALL the real images sit in tight clusters (few distinct images or a few discrete factors: the
# line 0-0.005, rectangles 0.02-0.04, against 0.44 for MNIST): the k-NN balls are then about the clusters' own
# pixel noise, and precision, recall, density and coverage count near-copies of real images rather than images
# of the data distribution.
TIGHT_BALLS = 0.1
CHUNK = 1024                   # rows of a distance block: 1024 x 10,000 float32 = 40 MB
# A point on a ball's edge (the k-th neighbour itself) counts as inside, as with exact distances: its float32
# distance is computed again in another block, whose rounding (BLAS blocking, thread count) may differ, so the
# squared radii are widened by this relative margin, far above float32 rounding and far below any real gap.
EDGE = 1 + 1e-5


def _as_features(x, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"{name}: expected (N, D) features with N >= 2, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name}: features must be finite")
    return x


def _sqrtm_psd(m: np.ndarray) -> np.ndarray:
    """The symmetric square root of a symmetric positive semi-definite matrix (negative rounding clipped)."""
    w, v = np.linalg.eigh((m + m.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(feats_a, feats_b) -> float:
    """``feats_a (N, D)``, ``feats_b (M, D)`` float -> the Fréchet distance between their fitted Gaussians.

    ``tr((S_a S_b)^(1/2))`` is computed as ``tr((A S_b A)^(1/2))`` with ``A = S_a^(1/2)`` (same eigenvalues,
    symmetric, so no complex rounding); 0 for identical sets up to rounding."""
    a, b = _as_features(feats_a, "feats_a"), _as_features(feats_b, "feats_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature sizes differ: {a.shape[1]} and {b.shape[1]}")
    mu = a.mean(axis=0) - b.mean(axis=0)
    s_a, s_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    root = _sqrtm_psd(s_a)
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root @ s_b @ root), 0, None)).sum()
    return float(max(mu @ mu + np.trace(s_a) + np.trace(s_b) - 2 * cross, 0.0))


def _squared_distances(x: np.ndarray, y: np.ndarray, y_sq: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances (len(x), len(y)) from one matrix product, in place, clipped at 0."""
    d2 = x @ y.T
    d2 *= -2
    d2 += y_sq[None, :]
    d2 += (x * x).sum(axis=1)[:, None]
    return np.maximum(d2, 0, out=d2)


def _radii2(x: np.ndarray, k: int) -> np.ndarray:
    """Squared distance of each point to its k-th nearest neighbour in ``x``, itself not counted (the k+1-th
    smallest distance of its row, the first being its own 0)."""
    sq = (x * x).sum(axis=1)
    return EDGE * np.concatenate([torch.topk(torch.from_numpy(_squared_distances(x[i:i + CHUNK], x, sq)), k + 1,
                                             dim=1, largest=False).values[:, k].numpy()
                                  for i in range(0, len(x), CHUNK)])


@dataclass(frozen=True)
class Manifold:
    """A real feature set ready for :func:`prdc_against`: centred float32 points and their squared k-NN radii."""
    points: np.ndarray
    centre: np.ndarray
    radii2: np.ndarray
    k: int


def real_manifold(real, k: int = NEAREST_K) -> Manifold:
    """The k-NN manifold of ``real (N, D)`` features, computed once for several fake sets."""
    real = _as_features(real, "real")
    if not 1 <= k < len(real):
        raise ValueError(f"k must be between 1 and the number of real points - 1, got k={k} for {len(real)}")
    centre = real.mean(axis=0)
    points = (real - centre).astype(np.float32)
    return Manifold(points, centre, _radii2(points, k), k)


def prdc_against(manifold: Manifold, fake) -> dict:
    """:func:`prdc` of ``fake (M, D)`` features against a :func:`real_manifold`."""
    real, r_real, k = manifold.points, manifold.radii2, manifold.k
    fake = _as_features(fake, "fake")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"feature sizes differ: {real.shape[1]} and {fake.shape[1]}")
    if not k < len(fake):
        raise ValueError(f"k must be below the number of fake points, got k={k} for {len(fake)}")
    fake = (fake - manifold.centre).astype(np.float32)
    r_fake = _radii2(fake, k)
    fake_sq = (fake * fake).sum(axis=1)
    balls = np.zeros(len(fake), dtype=np.int64)         # real balls holding fake j
    inside_fake = np.zeros(len(real), dtype=bool)       # real i in some fake ball
    covered = np.zeros(len(real), dtype=bool)           # real i's ball holds a fake
    for i in range(0, len(real), CHUNK):
        d2 = _squared_distances(real[i:i + CHUNK], fake, fake_sq)
        within = d2 <= r_real[i:i + CHUNK, None]
        balls += np.count_nonzero(within, axis=0)
        covered[i:i + CHUNK] = within.any(axis=1)
        inside_fake[i:i + CHUNK] = (d2 <= r_fake[None, :]).any(axis=1)
    return {PRECISION: float(np.mean(balls > 0)), RECALL: float(inside_fake.mean()),
            DENSITY: float(balls.sum() / (k * len(fake))), COVERAGE: float(covered.mean())}


def prdc(real, fake, k: int = NEAREST_K) -> dict:
    """``real (N, D)``, ``fake (M, D)`` float features -> {precision, recall, density, coverage} (Naeem et al.).

    Distances are compared squared, in float32 after moving the real mean to the origin (rounding far below the
    k-NN radii), in row blocks (memory ``CHUNK x max(N, M)``), never as a whole N x M matrix."""
    return prdc_against(real_manifold(real, k), fake)


def classifier_features(classifiers: Sequence, images: np.ndarray) -> np.ndarray:
    """``images (n, 28, 28)`` uint8 -> ``(n, sum of hidden sizes)`` float64: each classifier's penultimate-layer
    activations, concatenated in the classifiers' order."""
    return np.concatenate([c.features(images) for c in classifiers], axis=1).astype(np.float64)


def features_name(classifiers: Sequence) -> str:
    parts = ", ".join(f"{c.factor} ({c.net.fc1.out_features})" for c in classifiers)
    source = classifiers[0].info.get("source", "?") if classifiers else "?"
    return f"penultimate layer of the {source} factor classifiers: {parts}"


def ball_scale(manifold: Manifold) -> float:
    """The real set's median k-NN radius over the RMS distance of its points from their mean (0 when every point
    has k exact copies); below ``TIGHT_BALLS`` the PRDC numbers count near-copies (see ``TIGHT_BALLS``)."""
    spread = float(np.mean((manifold.points.astype(np.float64) ** 2).sum(axis=1)))
    return float(np.sqrt(np.median(manifold.radii2) / EDGE / spread)) if spread > 0 else 0.0


def sample_quality(real_features, fake_features, *, k: int = NEAREST_K, manifold: Manifold | None = None) -> dict:
    """Report entries (without prefix): Fréchet distance, precision / recall / density / coverage, the sizes and
    the real balls' relative size (:func:`ball_scale`). ``manifold``: :func:`real_manifold` of
    ``real_features``, when several fake sets are scored against them."""
    manifold = manifold or real_manifold(real_features, k)
    return {FD: frechet_distance(real_features, fake_features), **prdc_against(manifold, fake_features),
            N_REAL: int(len(real_features)), N_FAKE: int(len(fake_features)), K: int(manifold.k),
            REAL_BALL: ball_scale(manifold)}

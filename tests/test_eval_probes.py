"""The MLP probe never trails the linear probe by more than noise, and reads what the linear probe cannot.

The code sets are the ones that broke an MLP trained by Adam with early stopping (it stopped after its first
epochs: 0.29 where the logistic probe read 0.94): a continuous code that is a noisy copy of a 10-valued factor
beside a one-hot code, codes on a scale of thousands, a skewed factor, a one-hot code that *is* the factor,
distractor codes, and few samples."""
from __future__ import annotations

import numpy as np
import pytest

from eval.probes import PROBE_CHANCE, PROBE_LINEAR, PROBE_MLP, probes


def code_sets(n: int, rng: np.random.Generator) -> dict:
    """name -> (codes (n, C), factor (n,) int)."""
    out = {}
    f = rng.integers(0, 10, n)
    out["noisy copy beside a one-hot code"] = (np.c_[f + rng.normal(0, 0.3, n), rng.integers(0, 5, n),
                                                     rng.normal(size=n)], f)
    f = rng.integers(0, 10, n)
    out["scale of thousands"] = (np.c_[1000 * f + rng.normal(0, 100, n)], f)
    g = np.minimum(rng.geometric(0.35, n) - 1, 11)
    out["skewed factor"] = (np.c_[3.0 * g + rng.normal(0, 0.5, n), rng.normal(size=n)], g)
    c = rng.integers(0, 12, n)
    out["one-hot code is the factor"] = (np.c_[c, rng.normal(size=(n, 2))], c)
    f = rng.integers(0, 10, n)
    out["copy among 8 distractors"] = (np.c_[f + rng.normal(0, 0.5, n), rng.normal(size=(n, 8))], f)
    f = rng.integers(0, 10, n)
    z = np.c_[f, rng.normal(size=(n, 2))] @ rng.normal(size=(3, 4)) + rng.normal(0, 0.3, (n, 4))
    out["factor mixed into 4 codes"] = (np.c_[z, rng.integers(0, 10, n)], f)
    return out


@pytest.mark.parametrize("n", [150, 600, 2000])
def test_mlp_probe_never_trails_the_linear_probe(n):
    rng = np.random.default_rng(n)
    for name, (codes, factor) in code_sets(n, rng).items():
        r = probes(codes, factor[:, None], rng=np.random.default_rng(0))
        linear, mlp = r[PROBE_LINEAR][0], r[PROBE_MLP][0]
        assert mlp >= linear - 0.03, (name, n, linear, mlp)
        assert mlp > r[PROBE_CHANCE][0] + 0.1, (name, n)


@pytest.mark.parametrize("n", [300, 3000])
def test_mlp_probe_reads_a_nonlinear_factor_the_linear_probe_cannot(n):
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, n)
    factor = np.minimum((np.abs(x) * 5).astype(int), 4)            # |x| in 5 bins: no linear boundary in x
    r = probes(np.c_[x, rng.normal(size=n)], factor[:, None], rng=np.random.default_rng(0))
    assert r[PROBE_LINEAR][0] < 0.4
    assert r[PROBE_MLP][0] > 0.85
    assert r[PROBE_MLP][0] > r[PROBE_LINEAR][0] + 0.4


def test_mlp_probe_is_seeded():
    rng = np.random.default_rng(2)
    codes, factor = code_sets(400, rng)["copy among 8 distractors"]
    a = probes(codes, factor[:, None], rng=np.random.default_rng(5))
    b = probes(codes, factor[:, None], rng=np.random.default_rng(5))
    assert a == b

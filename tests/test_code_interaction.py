"""InfoGAN.code_interaction, read through the latents it feeds G: which codes move, to which values, with what z and
label, and the penalty recomputed from G's outputs by hand."""
from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

from gan_models.cinfogan import CInfoGAN
from gan_models.infogan import InfoGAN
from gan_models.latent import CodeSpec

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class _Recorder(torch.nn.Module):
    """A generator that remembers its input and draws a fixed nonlinear function of it."""

    def __init__(self, d: int):
        super().__init__()
        self.w = torch.nn.Parameter(torch.randn(d, 28 * 28, generator=torch.Generator().manual_seed(3)) / d ** 0.5)
        self.inputs = []

    def forward(self, v):
        self.inputs.append(v.detach().clone())
        return torch.tanh(v @ self.w).pow(2).view(-1, 1, 28, 28)


def _split(spec: CodeSpec, v: torch.Tensor):
    """The generator input cut back into z, categorical values, continuous codes and label."""
    z, rest = v[:, :spec.noise_dim], v[:, spec.noise_dim:]
    cats = []
    for k in spec.cat:
        cats.append(rest[:, :k].argmax(1))
        assert torch.equal(rest[:, :k], F.one_hot(cats[-1], k).float())
        rest = rest[:, k:]
    cont, rest = rest[:, :spec.cont], rest[:, spec.cont:]
    y = rest.argmax(1) if spec.cond else None
    return z, torch.stack(cats, 1) if cats else None, cont, y


def _groups(spec, cats, cont):
    """(n, n_cat + n_cont) values per code group: categorical values then continuous codes."""
    parts = ([cats.float()] if cats is not None else []) + [cont]
    return torch.cat(parts, 1)


@pytest.mark.parametrize("spec", [CodeSpec(6, (2, 3), 1), CodeSpec(5, (4,), 2), CodeSpec(4, (2, 2, 5), 0)])
def test_each_quadruple_moves_its_pair_of_codes_and_nothing_else(spec):
    model = InfoGAN(spec, lambda_interaction=1.0)
    model.G = _Recorder(spec.input_dim)
    n = 240
    penalty = model.code_interaction(n, torch.Generator().manual_seed(0))
    (v,) = model.G.inputs                                  # one G pass of 4n images
    assert v.shape == (4 * n, spec.input_dim)
    parts = [_split(spec, p) for p in v.chunk(4)]          # x11, x10, x01, x00
    z = [p[0] for p in parts]
    assert all(torch.equal(z[0], zi) for zi in z)          # z held fixed
    g11, g10, g01, g00 = (_groups(spec, p[1], p[2]) for p in parts)
    pairs = list(itertools.combinations(range(spec.n_cat + spec.cont), 2))
    for i in range(n):
        a, b = pairs[i % len(pairs)]                        # the pairs cycle in order
        others = [g for g in range(g00.shape[1]) if g not in (a, b)]
        for row, moved in ((g11[i], {a, b}), (g10[i], {a}), (g01[i], {b})):
            for g in range(g00.shape[1]):
                if g in moved:
                    assert row[g] != g00[i, g], (i, g)       # an alternative value always differs from the base
                else:
                    assert row[g] == g00[i, g], (i, g)
        assert all(g10[i, g] == g00[i, g] for g in others)
        assert g11[i, a] == g10[i, a] and g11[i, b] == g01[i, b]   # x11 combines the same two alternatives
    # alternative continuous values cover U(-1, 1); categorical ones stay in range(k)
    if spec.cont:
        alt = g11[:, spec.n_cat:]
        assert alt.min() >= -1 and alt.max() <= 1 and alt.min() < -0.8 and alt.max() > 0.8
    for j, k in enumerate(spec.cat):
        assert g11[:, j].min() >= 0 and g11[:, j].max() <= k - 1
        moved = g11[:, j] != g00[:, j]
        shifts = set(((g11[moved, j] - g00[moved, j]) % k).long().tolist())
        assert shifts == set(range(1, k))                   # every other value is reachable
    # the penalty is the mean squared mixed difference of exactly these images
    with torch.no_grad():
        x11, x10, x01, x00 = (torch.tanh(p @ model.G.w).pow(2) for p in v.chunk(4))
        expected = (x11 - x10 - x01 + x00).pow(2).mean()
    assert torch.allclose(penalty.detach(), expected, rtol=1e-6, atol=0)


def test_two_valued_codes_flip_and_continuous_alternatives_are_fresh_draws():
    spec = CodeSpec(4, (2, 2), 1)
    model = InfoGAN(spec, lambda_interaction=1.0)
    model.G = _Recorder(spec.input_dim)
    model.code_interaction(300, torch.Generator().manual_seed(1))
    parts = [_split(spec, p) for p in model.G.inputs[0].chunk(4)]
    cat11, cat00 = parts[0][1], parts[3][1]
    pairs = list(itertools.combinations(range(3), 2))
    for i in range(300):
        a, b = pairs[i % 3]
        for g in (a, b):
            if g < 2:
                assert cat11[i, g] == 1 - cat00[i, g]       # Cat(2): the only other value
    cont11, cont00 = parts[0][2][:, 0], parts[3][2][:, 0]
    assert not torch.allclose(cont11, cont00)
    assert abs(float(cont11.mean())) < 0.15                  # centred like U(-1, 1), not shifted by 1 or halved
    assert 0.4 < float(cont11.std()) < 0.75                  # U(-1, 1) has std 0.577


def test_the_penalty_draws_only_from_the_generator_it_is_given():
    spec = CodeSpec(6, (3, 3), 2)
    model = InfoGAN(spec, lambda_interaction=1.0)
    torch.manual_seed(123)
    a = model.code_interaction(32, torch.Generator().manual_seed(5))
    torch.manual_seed(456)                                   # another global RNG state changes nothing
    b = model.code_interaction(32, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    assert not torch.equal(a, model.code_interaction(32, torch.Generator().manual_seed(6)))


def test_the_conditional_penalty_keeps_the_given_labels():
    spec = CodeSpec(4, (3,), 2, cond=5)
    model = CInfoGAN(spec, lambda_interaction=1.0)
    model.G = _Recorder(spec.input_dim)
    y = torch.arange(40) % 5
    model.code_interaction(20, torch.Generator().manual_seed(0), y)
    for part in model.G.inputs[0].chunk(4):
        assert torch.equal(_split(spec, part)[3], y[:20])

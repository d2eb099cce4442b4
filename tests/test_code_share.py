"""benchmarks/code_share.py: how much of the slant and width each continuous code of a C-InfoGAN controls."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from gan_models.latent import CodeSpec, sample_latent

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from code_share import code_share  # noqa: E402

SPEC = CodeSpec(noise_dim=1, cat=(), cont=2, cond=10)
MNIST = {"kind": "mnist", "dataset": "mnist"}


class Bars:
    """A fake loaded C-InfoGAN: an upright bar 16 px tall whose width in pixels is ``rule(label, cont0, z)``."""

    def __init__(self, rule, meta=MNIST, spec=SPEC):
        self.rule, self.dataset_meta, self.spec = rule, meta, spec

    def sample_latent(self, n, generator):
        return sample_latent(self.spec, n, generator)

    def generate(self, latent):
        out = torch.zeros(latent.n, 1, 28, 28)
        for i in range(latent.n):
            w = int(self.rule(int(latent.y[i]), float(latent.cont[i, 0]), float(latent.z[i, 0])))
            out[i, 0, 6:22, 14 - w // 2:14 - w // 2 + w] = 1.0
        return out


def test_a_code_that_alone_sets_the_width_within_each_label_has_all_of_it():
    # the label sets a base width (a 1 is narrower than a 0); within a label only cont0 moves it
    found = code_share(Bars(lambda y, c, z: 2 + y // 2 + round(2 * (c + 1))), bases=60, steps=5)
    assert found["cont0"]["width"]["along"] == pytest.approx(1.0)
    assert found["cont0"]["width"]["share"] == pytest.approx(1.0)
    assert found["cont1"]["width"] == pytest.approx({"along": 0.0, "share": 0.0}, abs=1e-9)   # cont1 moves nothing
    assert found["cont0"]["slant"] == {"along": 0.0, "share": 0.0}          # an upright bar has no slant


def test_the_share_counts_what_z_moves_as_well():
    # cont0 and z each add up to 4 px: along every sweep the width follows cont0, but it owns about half of it
    found = code_share(Bars(lambda y, c, z: 3 + round(2 * (c + 1)) + round(2 * (z + 1))), bases=200, steps=5)
    assert found["cont0"]["width"]["along"] == pytest.approx(1.0)
    assert 0.35 < found["cont0"]["width"]["share"] < 0.65
    only_z = code_share(Bars(lambda y, c, z: 3 + round(2 * (z + 1))), bases=60, steps=5)
    assert only_z["cont0"]["width"] == pytest.approx({"along": 0.0, "share": 0.0}, abs=1e-9)


def test_only_mnist_c_infogan_checkpoints_with_continuous_codes_are_read():
    with pytest.raises(ValueError, match="C-InfoGAN checkpoint trained on MNIST"):
        code_share(Bars(lambda y, c, z: 4, meta={"kind": "line", "dataset": "basicprop-line"}))
    with pytest.raises(ValueError, match="continuous codes 0"):
        code_share(Bars(lambda y, c, z: 4, spec=CodeSpec(noise_dim=1, cat=(), cont=0, cond=10)))

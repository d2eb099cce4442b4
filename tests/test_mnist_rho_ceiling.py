"""benchmarks/mnist_rho_ceiling.py: how far a code beside the label can rank-correlate with slant and width."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gan_models.latent import CodeSpec, sample_latent

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
from mnist_rho_ceiling import ceilings, generator_ceilings  # noqa: E402

SPEC = CodeSpec(noise_dim=1, cat=(), cont=1, cond=10)


class Bars:
    """A fake loaded C-InfoGAN on MNIST: an upright bar 16 px tall, ``width(label, cont0)`` px wide."""

    def __init__(self, width, meta=None):
        self.width, self.spec = width, SPEC
        self.dataset_meta = meta or {"kind": "mnist", "dataset": "mnist"}

    def sample_latent(self, n, generator):
        return sample_latent(self.spec, n, generator)

    def generate(self, latent):
        out = torch.zeros(latent.n, 1, 28, 28)
        for i in range(latent.n):
            w = self.width(int(latent.y[i]), float(latent.cont[i, 0]))
            out[i, 0, 6:22, 14 - w // 2:14 - w // 2 + w] = 1.0
        return out


def test_a_generator_whose_digits_share_their_widths_has_a_ceiling_near_one():
    same = generator_ceilings(Bars(lambda y, c: 2 + round(3 * (c + 1))), n=400)["width"]
    assert same["ceiling"] > 0.95 and same["balanced"] > 0.95
    assert max(same["median_by_digit"]) - min(same["median_by_digit"]) <= 1.0
    apart = generator_ceilings(Bars(lambda y, c: 2 + 2 * y + round(c + 1)), n=400)["width"]
    assert apart["ceiling"] < 0.4                                  # the label sets most of the width
    assert apart["median_by_digit"] == sorted(apart["median_by_digit"])


def test_only_mnist_c_infogan_checkpoints_are_read():
    with pytest.raises(ValueError, match="C-InfoGAN checkpoint trained on MNIST"):
        generator_ceilings(Bars(lambda y, c: 4, meta={"kind": "line", "dataset": "basicprop-line"}))


def test_mnist_width_ceiling_rises_when_every_digit_is_drawn_equally_often(mnist_dir):
    """On the test digits (1s are the most frequent and the narrowest) the balanced ceiling is the higher."""
    width = ceilings("test", mnist_dir)["width"]
    assert 0.6 < width["ceiling"] < width["balanced"] < 0.8
    assert np.argmin(width["median_by_digit"]) == 1


def _script(*args):
    return subprocess.run([sys.executable, str(BENCHMARKS / "mnist_rho_ceiling.py"), *args],
                          capture_output=True, text=True)


def test_bad_input_is_one_error_line(tmp_path, mnist_dir):
    few = _script("--n", "5")
    assert few.returncode == 2 and few.stderr.strip().splitlines() == ["error: --n must be at least 100, got 5"]
    missing = _script(str(tmp_path / "nope.pt"), "--data-dir", str(mnist_dir))
    assert missing.returncode == 2 and missing.stdout.startswith("MNIST test")
    assert missing.stderr.strip().splitlines() == [f"error: {tmp_path / 'nope.pt'}: no such checkpoint"]

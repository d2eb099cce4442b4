"""``q_draws``: the encoder direction reads each categorical code the way Q was trained to read it (through the
code's nuisance of ``code_invariance``, or the random warp of ``cat_augment``), its probabilities averaged over
random views (eval.encoder_direction.read_q)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from eval.cli import group
from eval.config import DisentangleConfig, validate
from eval.encoder_direction import read_q
from gan_models.augment import invariance_view, random_affine
from gan_models.checkpoint import Loaded, build_model, to_float_images
from gan_models.config import make_config
from gan_models.latent import CodeSpec

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _loaded(code_invariance=(), cat_augment=0.0) -> Loaded:
    cfg = make_config("infogan", dataset="basicprop-rectangles", cat=(10, 10), cont=0,
                      code_invariance=code_invariance, cat_augment=cat_augment)
    torch.manual_seed(0)
    model = build_model(cfg.to_dict(), CodeSpec(cfg.noise_dim, cfg.cat, cfg.cont, 0)).eval()
    return Loaded(spec=model.spec, generator=model.G, discriminator=model.D, config=cfg.to_dict(),
                  dataset_meta={}, device=torch.device("cpu"))


def _images(n: int = 32) -> np.ndarray:
    g = np.random.default_rng(0)
    x = np.zeros((n, 28, 28), np.uint8)
    for i in range(n):
        left, width = g.integers(2, 20), g.integers(2, 6)
        x[i, 4:24, left:left + width] = g.integers(100, 256)
    return x


def test_each_code_is_read_through_its_own_nuisance_averaged_over_the_draws():
    model, images = _loaded(("shift_x", "none")), _images()
    q = read_q(model, images, q_draws=3, seed=7)
    plain = model.encode(images)
    x = to_float_images(images, "cpu")
    g = torch.Generator().manual_seed(7)
    by_hand = sum(model.encode(invariance_view(x, "shift_x", g)).cat_logits[0].softmax(1) for _ in range(3)) / 3
    assert torch.allclose(q.cat_logits[0].exp(), by_hand, atol=1e-6)
    assert float((q.cat_logits[0].softmax(1) - plain.cat_logits[0].softmax(1)).abs().max()) > 1e-5
    assert torch.equal(q.cat_logits[1], plain.cat_logits[1])                 # "none": the images as drawn
    assert torch.equal(read_q(model, images, 3, 7).cat_logits[0], q.cat_logits[0])       # seeded
    assert not torch.equal(read_q(model, images, 3, 8).cat_logits[0], q.cat_logits[0])


def test_with_cat_augment_every_code_is_read_through_one_warp_per_draw():
    model, images = _loaded(cat_augment=0.67), _images()
    q = read_q(model, images, q_draws=3, seed=7)
    x = to_float_images(images, "cpu")
    g = torch.Generator().manual_seed(7)
    draws = [model.encode(random_affine(x, 0.67, g)).cat_logits for _ in range(3)]
    for i in (0, 1):
        by_hand = sum(d[i].softmax(1) for d in draws) / 3
        assert torch.allclose(q.cat_logits[i].exp(), by_hand, atol=1e-6)
        assert float((q.cat_logits[i].exp() - model.encode(images).cat_logits[i].softmax(1)).abs().max()) > 1e-5
    assert torch.equal(q.cont_mean, model.encode(images).cont_mean)                   # continuous codes as drawn


def test_without_draws_or_nuisances_q_reads_the_images_as_drawn():
    images = _images()
    for model, draws in ((_loaded(("shift_x", "none")), 0), (_loaded(), 4)):
        q, plain = read_q(model, images, draws), model.encode(images)
        assert all(torch.equal(a, b) for a, b in zip(q.cat_logits, plain.cat_logits))


def test_bad_q_draws_one_error_line_exit_2(tmp_path):
    with pytest.raises(ValueError, match="--q-draws"):
        validate(DisentangleConfig(ckpt="x", q_draws=-1))
    result = CliRunner().invoke(group, ["disentangle", "--ckpt", str(tmp_path / "ckpt.pt"), "--q-draws", "-1"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "--q-draws" in lines[0], result.stderr

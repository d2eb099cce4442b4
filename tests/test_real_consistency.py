"""lambda_real_consistency: Q reads real images as it reads their warps (IMSAT's self-augmented training with warps
at the cat_augment strength). The loss on known logits, its sign and wiring in D's step, the draw order it leaves
alone, stacked runs, and its bad input."""
from __future__ import annotations

import math

import pytest
import torch
from click.testing import CliRunner

import cli
from gan_models import losses, make_config
from gan_models.augment import random_affine
from gan_models.infogan import Batch, InfoGAN
from gan_models.latent import CodeSpec, sample_latent

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SPEC = CodeSpec(noise_dim=8, cat=(4,), cont=2)


def test_warp_consistency_known_values_and_only_the_warped_reading_learns():
    same = torch.tensor([[2.0, -1.0, 0.5], [0.0, 3.0, 1.0]])
    assert float(losses.warp_consistency(same, same.clone())) == pytest.approx(0.0, abs=1e-7)
    clean = torch.tensor([[math.log(3.0), 0.0]], requires_grad=True)       # p = (3/4, 1/4)
    warped = torch.tensor([[0.0, 0.0]], requires_grad=True)                 # q = (1/2, 1/2)
    kl = losses.warp_consistency(clean, warped)
    assert float(kl.detach()) == pytest.approx(0.75 * math.log(1.5) + 0.25 * math.log(0.5), abs=1e-6)
    batch = losses.warp_consistency(torch.cat([clean, same[:1, :2]]), torch.cat([warped, same[:1, :2]]))
    assert float(batch.detach()) == pytest.approx(float(kl.detach()) / 2, abs=1e-6)          # a batch mean
    kl.backward()
    assert clean.grad is None                                               # the clean reading is the target
    assert warped.grad is not None and float(warped.grad[0, 0]) < 0         # q moves towards p: class 0 up


def _model(**kw) -> InfoGAN:
    torch.manual_seed(0)
    return InfoGAN(SPEC, d_batchnorm=False, cat_augment=1.0, **kw)


def _disagreement(model: InfoGAN, views) -> float:
    """The term on one step's real images and their warps, read by ``model``."""
    with torch.no_grad():
        return float(losses.warp_consistency(model.D.q(model.D(views.real, None)[1]).cat_logits[0],
                                             model.D.q(model.D.trunk(views.real_warped)).cat_logits[0]))


@pytest.mark.parametrize("weight", [0.0, 1.0])
def test_d_steps_make_q_read_warped_real_images_as_the_clean_ones(weight):
    """Only the new term trains D here (information weights at 0, the GAN loss subtracted): with it, gradient
    steps lower Q's disagreement between real images and their warps; without it nothing moves it (up to the
    rounding of subtracting the GAN loss)."""
    model = _model(lambda_cat=0.0, lambda_cont=0.0, lambda_real_consistency=weight)
    gen = torch.Generator().manual_seed(0)
    real, fake = torch.rand(2, 16, 1, 28, 28, generator=gen)
    views = _model(lambda_real_consistency=1.0).d_inputs(real, fake, 0.0, gen)     # one fixed set of warps
    before = _disagreement(model, views)
    assert before > 1e-3
    optim = torch.optim.SGD(model.D.parameters(), lr=0.05)
    for _ in range(5):
        optim.zero_grad()
        loss, stats = model.d_loss(views, None, sample_latent(model.spec, 16, gen))
        gan = losses.d_loss(*(model.D(v, None)[0] for v in (views.real, views.fake)))
        (loss - gan).backward()
        optim.step()
    after = _disagreement(model, views)
    if weight:
        assert float(stats["loss/real_consistency"]) > 0 and after < 0.8 * before, (before, after)
    else:
        assert "loss/real_consistency" not in stats and after == pytest.approx(before, rel=1e-3)


def test_the_term_draws_after_everything_else():
    """Switching it on leaves every other view of the step as drawn without it, so other runs keep their bytes;
    the warped real images are the real images under their own warps."""
    real = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    fake = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    off = _model().d_inputs(real, fake, 0.1, torch.Generator().manual_seed(0))
    on = _model(lambda_real_consistency=1.0).d_inputs(real, fake, 0.1, torch.Generator().manual_seed(0))
    assert torch.equal(off.real, on.real) and torch.equal(off.fake, on.fake)
    assert torch.equal(off.warped[0], on.warped[0])
    assert off.real_warped is None and on.real_warped.shape == real.shape
    assert not torch.allclose(on.real_warped, on.real, atol=0.05)


def test_train_step_logs_the_term_and_moves_both_nets():
    model = _model(lambda_real_consistency=1.0)
    before = [p.detach().clone() for p in model.D.parameters()]
    stats = model.train_step(Batch(torch.rand(8, 1, 28, 28)), model.make_optimizers(1e-4, 1e-4, (0.5, 0.999)),
                             generator=torch.Generator().manual_seed(0))
    assert float(stats["loss/real_consistency"]) >= 0
    assert all(not torch.equal(b, p) for b, p in zip(before, model.D.parameters()))


def test_model_and_config_refuse_it_without_warps_or_categories():
    with pytest.raises(ValueError, match="cat_augment"):
        InfoGAN(SPEC, lambda_real_consistency=1.0)
    with pytest.raises(ValueError, match="cat_augment"):
        InfoGAN(CodeSpec(noise_dim=8, cat=(), cont=2), cat_augment=1.0, lambda_real_consistency=1.0)
    with pytest.raises(ValueError, match="--cat-augment > 0"):
        make_config("infogan", lambda_real_consistency=1.0)
    with pytest.raises(ValueError, match="must be >= 0"):
        make_config("infogan-mnist", lambda_real_consistency=-1.0)
    assert make_config("infogan-mnist", lambda_real_consistency=1.0).lambda_real_consistency == 1.0


def test_bad_value_is_one_line_error_and_leaves_no_run(tmp_path):
    out = tmp_path / "run"
    r = CliRunner().invoke(cli.cli, ["train", "--dataset", "basicprop-line", "--steps", "2", "--cat-augment", "0",
                                     "--lambda-real-consistency", "1", "--out", str(out), "--no-progress"])
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "cat-augment" in lines[0], r.output
    assert not out.exists()

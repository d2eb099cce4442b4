"""gan_models: shapes, losses and single optimisation steps on random tensors (fast, CPU)."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from gan_models import losses
from gan_models.checkpoint import build_model
from gan_models.augment import MAX_SHIFT_PX, random_affine
from gan_models.cinfogan import CInfoGAN
from gan_models.config import PRESETS, TrainConfig, make_config, validate
from gan_models.infogan import Batch, InfoGAN
from gan_models.latent import CodeSpec, sample_latent, traversal_latent


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _model(preset: str, cond: int = 0, **kw):
    cfg = make_config(preset, **kw)
    spec = CodeSpec(cfg.noise_dim, cfg.cat, cfg.cont, cond if cfg.model == "cinfogan" else 0)
    torch.manual_seed(0)
    return build_model(cfg.to_dict(), spec), cfg


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_shapes_and_one_step_for_every_preset(preset):
    model, cfg = _model(preset, cond=10)
    spec = model.spec
    gen = torch.Generator().manual_seed(0)
    lat = sample_latent(spec, 8, gen)
    assert lat.z.shape == (8, spec.noise_dim) and lat.cat.shape == (8, spec.n_cat) and lat.cont.shape == (8, spec.cont)
    assert lat.to_input(spec).shape == (8, spec.input_dim)
    with torch.no_grad():
        x = model.generate(lat)
    assert x.shape == (8, 1, 28, 28) and 0 <= float(x.min()) and float(x.max()) <= 1
    logit, h = model.D(x, lat.y)
    assert logit.shape == (8,) and h.shape == (8, 1024)
    q = model.D.q(h)
    assert [t.shape for t in q.cat_logits] == [(8, k) for k in spec.cat]
    assert q.cont_mean.shape == (8, spec.cont)
    optims = model.make_optimizers(cfg.lr_d, cfg.lr_g, (cfg.beta1, cfg.beta2))
    y = lat.y if spec.cond else None
    stats = model.train_step(Batch(torch.rand(8, 1, 28, 28), y), optims, generator=gen, noise_std=0.1)
    assert all(v.dim() == 0 and torch.isfinite(v) for v in stats.values())
    for i in range(spec.n_cat):
        assert f"mi/cat{i}" in stats
    for j in range(spec.cont):
        assert f"mi/cont{j}" in stats


def test_presets_match_the_study_table():
    assert make_config("vanilla-gan").cat == () and make_config("vanilla-gan").cont == 0
    assert make_config("gan-codes").info_to_generator is False
    assert make_config("infogan-no-z").noise_dim == 0
    c = make_config("infogan-cat-only")
    assert c.noise_dim == 0 and c.cont == 0 and c.cat == (10,)
    assert make_config("infogan-real-mi").lambda_real_mi > 0
    r = make_config("infogan-rectangles")
    assert r.cat == (10, 10) and r.cont == 0 and r.lambda_interaction > 0
    assert r.instance_noise > 0 and r.instance_noise_steps == 0       # constant: hides the foreground pixel noise
    m = make_config("infogan-mnist")
    assert m.cat == (10,) and m.cont == 0 and m.cat_augment > 0 and m.noise_dim == 62


def test_config_errors_are_readable():
    with pytest.raises(ValueError, match="unknown preset 'nope'"):
        make_config("nope")
    with pytest.raises(ValueError, match=r"unknown config key\(s\) \['lr'\]"):
        make_config(lr=1.0)
    with pytest.raises(ValueError, match="at least 2 values"):
        make_config(cat=(1,))
    with pytest.raises(ValueError, match="unknown model"):
        validate(TrainConfig(model="vae"))
    with pytest.raises(ValueError, match="no input"):
        make_config(noise_dim=0, cat=(), cont=0)
    with pytest.raises(ValueError, match="noise_scale must be > 0"):
        make_config(noise_scale=0.0)
    with pytest.raises(ValueError, match="cat_augment must be >= 0"):
        make_config(cat_augment=-0.5)
    assert TrainConfig.from_dict(make_config().to_dict()) == make_config()


def test_noise_scale_scales_z_only():
    wide, narrow = CodeSpec(62, (10,), 2), CodeSpec(62, (10,), 2, noise_scale=0.2)
    a = sample_latent(wide, 256, torch.Generator().manual_seed(3))
    b = sample_latent(narrow, 256, torch.Generator().manual_seed(3))
    assert torch.allclose(b.z, 0.2 * a.z) and float(b.z.abs().max()) <= 0.2
    assert float(a.z.abs().max()) > 0.9                        # the default is still U(-1, 1)
    assert torch.equal(a.cat, b.cat) and torch.equal(a.cont, b.cont)
    assert CodeSpec.from_dict(narrow.to_dict()) == narrow
    old = {k: v for k, v in wide.to_dict().items() if k != "noise_scale"}   # a checkpoint from before the option
    assert CodeSpec.from_dict(old) == wide


def test_categorical_loss_applies_softmax_once():
    """Regression (double softmax): confident correct logits give ~0 loss, and the loss is -log_softmax."""
    logits = torch.full((4, 10), 0.0)
    target = torch.tensor([0, 3, 5, 9])
    logits[torch.arange(4), target] = 30.0
    assert float(losses.categorical_nll(logits, target)) < 1e-6   # softmax(softmax(.)) would give ~log(10) - 1
    logits = torch.randn(6, 7, generator=torch.Generator().manual_seed(1))
    target = torch.tensor([0, 1, 2, 3, 4, 6])
    want = -F.log_softmax(logits, 1)[torch.arange(6), target].mean()
    assert torch.allclose(losses.categorical_nll(logits, target), want)
    # and the model feeds Q's raw logits to it (no softmax in the Q head)
    model, _ = _model("infogan", cont=0)
    model.eval()
    gen = torch.Generator().manual_seed(0)
    lat = sample_latent(model.spec, 16, gen)
    with torch.no_grad():
        q = model.D.q(model.D(model.generate(lat))[1])
        total, stats = model.info_loss(q, lat)
    assert not torch.allclose(q.cat_logits[0].sum(1), torch.ones(16))
    assert torch.allclose(total, F.cross_entropy(q.cat_logits[0], lat.cat[:, 0]))
    assert math.isclose(float(stats["mi/cat0"]), math.log(10) - float(total), abs_tol=1e-6)


def test_gaussian_nll_and_mi_bounds():
    g = torch.Generator().manual_seed(0)
    x, mean, logstd = torch.randn(50, 3, generator=g), torch.randn(50, 3, generator=g), torch.randn(50, 3, generator=g)
    want = -torch.distributions.Normal(mean, logstd.exp()).log_prob(x).sum(1).mean()
    assert torch.allclose(losses.gaussian_nll(x, mean, logstd), want, atol=1e-5)
    want1 = -torch.distributions.Normal(mean, 1.0).log_prob(x).sum(1).mean()
    assert torch.allclose(losses.gaussian_nll(x, mean), want1, atol=1e-5)
    # U(-1, 1) code: H = log 2; a perfect Q with fixed std 1 still only reaches log 2 - 0.5 log(2 pi)
    c = torch.rand(100, 1) * 2 - 1
    bound = losses.mi_lower_bound(math.log(2), losses.gaussian_nll_per_dim(c, c)[0])
    assert math.isclose(float(bound), math.log(2) - 0.5 * math.log(2 * math.pi), rel_tol=1e-6)
    # an uninformative Q (mean 0) fitted std: bound = log 2 - 0.5 log(2 pi e / 3) < 0 = the true MI
    c = torch.linspace(-1, 1, 100001)[:, None]
    assert float(losses.mi_lower_bound(math.log(2), losses.gaussian_nll_fitted_std(c, torch.zeros_like(c))[0])) < 0


def test_real_data_mi_known_answers():
    k = 10
    confident_balanced = torch.eye(k).repeat(3, 1) * 50.0
    assert math.isclose(float(losses.real_data_mi(confident_balanced)), math.log(k), rel_tol=1e-4)
    collapsed = torch.zeros(30, k)
    collapsed[:, 2] = 50.0
    assert abs(float(losses.real_data_mi(collapsed))) < 1e-4
    assert abs(float(losses.real_data_mi(torch.zeros(30, k)))) < 1e-5


def test_q_gradient_reaches_the_shared_trunk():
    """Regression: Q must sit on D's trunk, so the information loss trains the trunk's first layer."""
    model, _ = _model("infogan")
    gen = torch.Generator().manual_seed(0)
    lat = sample_latent(model.spec, 16, gen)
    _, h = model.D(model.generate(lat).detach())
    total, _ = model.info_loss(model.D.q(h), lat)
    total.backward()
    first_conv = model.D.trunk[0].weight
    assert first_conv.grad is not None and float(first_conv.grad.abs().sum()) > 0
    assert model.D.head.weight.grad is None                       # the GAN head is untouched by Q's loss


def test_one_step_on_a_fixed_batch_lowers_the_info_loss():
    model, cfg = _model("infogan")
    optims = model.make_optimizers(cfg.lr_d, cfg.lr_g, (cfg.beta1, cfg.beta2))
    real = torch.rand(32, 1, 28, 28, generator=torch.Generator().manual_seed(5))

    def info_now():
        gen = torch.Generator().manual_seed(7)
        lat = sample_latent(model.spec, 32, gen)
        with torch.no_grad():
            return float(model.info_loss(model.D.q(model.D(model.generate(lat))[1]), lat)[0])

    before = info_now()
    model.train_step(Batch(real), optims, generator=torch.Generator().manual_seed(7))   # same latent as info_now
    after = info_now()
    assert after < before


def test_random_affine_moves_each_image_within_its_bounds():
    x = torch.zeros(256, 1, 28, 28)
    x[:, :, 12:16, 12:16] = 1.0                                    # a 4x4 square on the image centre (13.5, 13.5)
    assert random_affine(x, 0.0, torch.Generator()) is x
    y = random_affine(x, 1.0, torch.Generator().manual_seed(0))
    assert y.shape == x.shape and torch.equal(y, random_affine(x, 1.0, torch.Generator().manual_seed(0)))
    assert not torch.allclose(y[0], y[1])                          # each image its own warp
    mass = y.sum((1, 2, 3))
    assert float(mass.min()) > 16 * 0.75 ** 2 * 0.9 and float(mass.max()) < 16 * 1.25 ** 2 * 1.1   # scale 1 +- 0.25
    grid = torch.arange(28.0)
    cy = (y[:, 0].sum(2) * grid).sum(1) / mass                     # rotation and scale keep the centre in place,
    cx = (y[:, 0].sum(1) * grid).sum(1) / mass                     # so the centroid moves by the shift alone
    assert float((cx - 13.5).abs().max()) <= MAX_SHIFT_PX + 0.1 and float((cy - 13.5).abs().max()) <= MAX_SHIFT_PX + 0.1
    assert float((cx - 13.5).abs().max()) > MAX_SHIFT_PX / 2       # and it does move
    half = random_affine(x, 0.5, torch.Generator().manual_seed(0))
    assert float(((half[:, 0].sum(1) * grid).sum(1) / half.sum((1, 2, 3)) - 13.5).abs().max()) <= MAX_SHIFT_PX / 2 + 0.1


def test_cat_augment_reads_the_categories_from_warped_fakes():
    """Q's categorical term is computed on warped fakes, its gradient reaches G through the warp, and the
    continuous term still reads the fakes as drawn."""
    model, _ = _model("infogan", cat_augment=1.0)
    gen = torch.Generator().manual_seed(0)
    lat = sample_latent(model.spec, 16, gen)
    fake = model.generate(lat)
    q = model.D.q(model.D(fake)[1])
    warped = model._cat_logits(model._warp(fake, 0.0, gen), q)
    assert not torch.allclose(warped[0], q.cat_logits[0])
    plain, _ = model.info_loss(q, lat)
    total, _ = model.info_loss(q, lat, warped)
    cont = model.lambda_cont * losses.gaussian_nll(lat.cont, q.cont_mean, q.cont_logstd)
    cat = model.lambda_cat * losses.categorical_nll(warped[0], lat.cat[:, 0])
    assert torch.allclose(total, cat + cont) and not torch.allclose(total, plain)
    cat.backward()
    assert float(model.G.fc[0].weight.grad.abs().sum()) > 0
    off, _ = _model("infogan")
    assert off._warp(fake, 0.0, gen) is None and off._cat_logits(None, q) is None


class _Additive(torch.nn.Module):
    """A generator whose output is linear in its input: every code's effect adds up, so no interaction."""

    def __init__(self, d, square=False):
        super().__init__()
        self.fc = torch.nn.Sequential(torch.nn.Linear(d, 28 * 28))
        self.square = square

    def forward(self, x):
        y = self.fc(x)
        return (y * y if self.square else y).view(-1, 1, 28, 28)


@pytest.mark.parametrize("spec", [CodeSpec(8, (10, 10), 0), CodeSpec(8, (10,), 2), CodeSpec(8, (3, 4), 1)])
def test_code_interaction_is_zero_for_additive_codes_and_positive_otherwise(spec):
    torch.manual_seed(0)
    model = InfoGAN(spec, lambda_interaction=1.0)
    model.G = _Additive(spec.input_dim)
    gen = torch.Generator().manual_seed(0)
    assert model.code_interaction(64, gen).item() < 1e-10
    model.G = _Additive(spec.input_dim, square=True)        # products of codes: the effects do not add up
    assert model.code_interaction(64, gen).item() > 1e-4
    one = InfoGAN(CodeSpec(8, (10,), 0), lambda_interaction=1.0)   # a single code has no pair
    assert one.code_interaction(8, gen).item() == 0.0


def test_code_interaction_trains_the_generator_only():
    spec = CodeSpec(noise_dim=8, cat=(10, 10), cont=0)
    torch.manual_seed(0)
    model = InfoGAN(spec, lambda_interaction=10.0)
    optims = model.make_optimizers(2e-4, 1e-3, (0.5, 0.999))
    x = torch.rand(16, 1, 28, 28)
    stats = model.train_step(Batch(x), optims, generator=torch.Generator().manual_seed(0))
    assert stats["loss/interaction"] > 1e-6          # logged, and not zero: an untrained G's codes do not add up
    before = model.code_interaction(64, torch.Generator().manual_seed(1)).item()
    g_opt = torch.optim.SGD(model.G.parameters(), lr=0.5)
    model.D.zero_grad(set_to_none=True)
    for _ in range(5):
        g_opt.zero_grad()
        model.code_interaction(64, torch.Generator().manual_seed(1)).backward()
        assert all(p.grad is None for p in model.D.parameters())
        g_opt.step()
    assert model.code_interaction(64, torch.Generator().manual_seed(1)).item() < before


def test_cinfogan_conditions_g_and_d():
    spec = CodeSpec(noise_dim=8, cat=(), cont=2, cond=10)
    torch.manual_seed(0)
    model = CInfoGAN(spec)
    gen = torch.Generator().manual_seed(0)
    lat = sample_latent(spec, 6, gen)
    assert lat.y.shape == (6,)
    x = model.generate(lat)
    a, _ = model.D(x, lat.y)
    b, _ = model.D(x, (lat.y + 1) % 10)
    assert not torch.allclose(a, b)                                # D(x, y) depends on y
    with pytest.raises(ValueError, match="conditional"):
        model.D(x)
    with pytest.raises(ValueError, match="CInfoGAN"):
        InfoGAN(spec)


def test_traversal_grid_layout():
    spec = CodeSpec(noise_dim=4, cat=(10,), cont=2)
    lat, rows, cols = traversal_latent(spec, torch.Generator().manual_seed(0), cont_index=1, n_cols=5)
    assert (rows, cols) == (10, 5) and lat.n == 50
    assert lat._replace(y=None).n == 50
    assert torch.equal(lat.cat[:, 0], torch.arange(10).repeat_interleave(5))
    assert torch.allclose(lat.cont[:5, 1], torch.linspace(-1, 1, 5))
    assert torch.equal(lat.z, lat.z[:1].expand(50, -1)) and torch.equal(lat.cont[:, 0], lat.cont[:1, 0].expand(50))

def test_traversal_grid_over_two_categorical_codes():
    spec = CodeSpec(noise_dim=4, cat=(10, 7), cont=0)
    lat, rows, cols = traversal_latent(spec, torch.Generator().manual_seed(0), cat_cols=1)
    assert (rows, cols) == (10, 7)
    assert torch.equal(lat.cat[:, 0], torch.arange(10).repeat_interleave(7))
    assert torch.equal(lat.cat[:, 1], torch.arange(7).repeat(10))
    assert torch.equal(lat.z, lat.z[:1].expand(70, -1))
    with pytest.raises(ValueError, match="cat_cols"):
        traversal_latent(spec, torch.Generator().manual_seed(0), cat_cols=2)


def test_init_schemes_draw_different_weights():
    """'dcgan': conv/linear weights N(0, 0.02), BN weights N(1, 0.02); 'default': PyTorch's U(+-1/sqrt(fan_in))."""
    dcgan, _ = _model("infogan")
    default, _ = _model("infogan", init="default")
    w = dcgan.G.fc[0].weight.detach()
    assert abs(float(w.std()) - 0.02) < 0.002 and abs(float(dcgan.G.fc[1].weight.detach().mean()) - 1) < 0.01
    fan_in = default.G.fc[0].weight.shape[1]
    assert abs(float(default.G.fc[0].weight.detach().std()) - 1 / math.sqrt(3 * fan_in)) < 0.005
    assert torch.equal(default.G.fc[1].weight, torch.ones(1024))      # BatchNorm's own init: weight 1


@torch.no_grad()
def test_spectral_norm_bounds_d_layers_and_batchnorm_can_be_dropped():
    x = torch.rand(8, 1, 28, 28)
    sn, _ = _model("infogan", d_spectral_norm=True)
    for _ in range(20):                                     # power iterations run in training mode
        sn.D(x)
    sigma = torch.linalg.matrix_norm(sn.D.trunk[0].weight.flatten(1), 2)
    assert abs(float(sigma) - 1) < 0.05
    plain, _ = _model("infogan")
    assert float(torch.linalg.matrix_norm(plain.D.trunk[0].weight.flatten(1), 2)) < 0.9
    assert not torch.allclose(plain.D(x[:3])[0], plain.D(x)[0][:3], atol=1e-5)   # batch norm mixes the batch
    no_bn, _ = _model("infogan", d_batchnorm=False)
    assert not any(isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)) for m in no_bn.D.trunk.modules())
    assert torch.allclose(no_bn.D(x[:3])[0], no_bn.D(x)[0][:3], atol=1e-6)       # each image on its own


def test_real_label_is_the_target_of_d_on_real_images():
    """One-sided label smoothing: D's loss on real logits is minimal where sigmoid(logit) = real_label."""
    for target in (1.0, 0.9):
        logit = torch.tensor([math.log(0.9 / 0.1)], requires_grad=True)
        losses.d_loss(logit, torch.tensor([-30.0]), target).backward()
        assert (abs(float(logit.grad)) < 1e-6) == (target == 0.9)
    model, _ = _model("infogan", real_label=0.9)
    assert model.real_label == 0.9

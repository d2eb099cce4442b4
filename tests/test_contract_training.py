"""The training contract, pinned to known answers: which batch each step sees, that every network steps every
step, the losses on fixed logits, the sign and wiring of every term in each update, latent distributions, the
instance-noise schedule, and options that switch a term off. Real nets at batch 8, a few steps, CPU."""
from __future__ import annotations

import copy
import math
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gan_models import losses, make_config, train
from gan_models.infogan import Batch, InfoGAN
from gan_models.latent import CodeSpec, Latent, sample_latent, traversal_latent

pytestmark = pytest.mark.usefixtures("one_torch_thread")

N_DATA = 32          # images in the indexed dataset; pixel (0, 0) of image i holds i
SPEC = CodeSpec(noise_dim=8, cat=(4,), cont=2)


def _patch_everywhere(monkeypatch, module, name: str, new) -> None:
    """Replace ``module.name`` and every ``gan_models`` module's imported copy of it."""
    old = getattr(module, name)
    monkeypatch.setattr(module, name, new)
    for mod_name, mod in list(sys.modules.items()):
        if mod_name.startswith("gan_models") and getattr(mod, name, None) is old:
            monkeypatch.setattr(mod, name, new)


def _indexed_dataset(*args, **kwargs):
    from basicprop.datasets import Dataset

    idx = np.arange(N_DATA)
    images = np.zeros((N_DATA, 28, 28), np.uint8)
    images[:, 0, 0] = idx
    images[:, 10:18, 10:18] = 200
    factors = (idx % 4)[:, None].astype(np.int64)
    meta = {"dataset": "indexed", "kind": "line", "kind_params": {}, "seed": 0, "split": "train"}
    return Dataset(images, factors[:, 0].copy(), factors, ("position",), (4,), "indexed", meta)


def _params(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def _changed(before: list[torch.Tensor], module: torch.nn.Module) -> list[bool]:
    return [not torch.equal(b, p.detach()) for b, p in zip(before, module.parameters())]


@pytest.fixture(scope="module")
def trainer_run(tmp_path_factory):
    """One 16-step run on the indexed dataset with annealed instance noise; every train_step call recorded."""
    mp = pytest.MonkeyPatch()
    records = []
    original = InfoGAN.train_step

    def recording_step(self, batch, optims, *args, **kwargs):
        x = batch.x if hasattr(batch, "x") else batch[0]
        records.append({"idx": sorted((x[:, 0, 0, 0] * 255).round().long().tolist()),
                        "noise_std": kwargs.get("noise_std"), "G": _params(self.G), "D": _params(self.D),
                        "model": self})
        return original(self, batch, optims, *args, **kwargs)

    import basicprop.datasets
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _patch_everywhere(mp, basicprop.datasets, "load_dataset", _indexed_dataset)
        mp.setattr(InfoGAN, "train_step", recording_step)
        out = tmp_path_factory.mktemp("indexed") / "run"
        train(make_config("infogan", noise_dim=8, cat=(4,), steps=16, batch_size=8, instance_noise=0.2,
                          instance_noise_steps=8, log_every=8, ckpt_every=100, eval_every=100, eval_size=16,
                          progress=False, out=str(out)))
    finally:
        mp.undo()
        torch.set_num_threads(n)
    return records


def test_batches_vary_from_step_to_step_and_cover_the_data(trainer_run):
    batches = [r["idx"] for r in trainer_run]
    assert len(batches) == 16
    assert all(0 <= i < N_DATA for b in batches for i in b)
    assert all(len(set(b)) > 1 for b in batches)                       # not one image repeated
    assert all(a != b for a, b in zip(batches, batches[1:]))           # not the same batch twice in a row
    assert len({tuple(b) for b in batches}) == len(batches)
    seen = {i for b in batches for i in b}                             # 128 draws of 32 images
    assert len(seen) >= 28, sorted(seen)


def test_every_network_steps_every_step(trainer_run):
    model = trainer_run[-1]["model"]
    for prev, now in zip(trainer_run, trainer_run[1:]):
        for net in ("G", "D"):
            moved = [not torch.equal(a, b) for a, b in zip(prev[net], now[net])]
            assert all(moved), (net, moved)
    for net in ("G", "D"):                                             # and the last step moved them too
        assert all(_changed(trainer_run[-1][net], getattr(model, net)))


def test_instance_noise_anneals_linearly_from_start_to_zero(trainer_run):
    noise = [r["noise_std"] for r in trainer_run]
    assert noise[0] == pytest.approx(0.2)                              # start
    assert noise[4] == pytest.approx(0.1)                              # middle of the 8 annealing steps
    assert noise[7] == pytest.approx(0.2 / 8)
    assert noise[8:] == [0.0] * 8                                      # end: off after instance_noise_steps
    assert all(a > b for a, b in zip(noise[:8], noise[1:9]))


def test_instance_noise_without_annealing_is_constant_and_zero_when_off(tmp_path, monkeypatch):
    import basicprop.datasets
    seen = {}
    original = InfoGAN.train_step

    def step(self, batch, optims, *args, **kwargs):
        seen.setdefault(self.spec.noise_dim, []).append(kwargs.get("noise_std", 0.0))
        return original(self, batch, optims, *args, **kwargs)

    _patch_everywhere(monkeypatch, basicprop.datasets, "load_dataset", _indexed_dataset)
    monkeypatch.setattr(InfoGAN, "train_step", step)
    common = dict(cat=(4,), cont=0, steps=3, batch_size=8, log_every=3, ckpt_every=100, eval_every=100,
                  eval_size=8, progress=False)
    train(make_config("infogan", noise_dim=8, instance_noise=0.3, out=str(tmp_path / "a"), **common))
    train(make_config("infogan", noise_dim=9, out=str(tmp_path / "b"), **common))
    assert seen[8] == pytest.approx([0.3] * 3)
    assert seen[9] == [0.0] * 3


# ---- the loss functions against hand-computed values

def test_d_loss_known_values():
    t = torch.tensor
    assert float(losses.d_loss(t([20.0]), t([-20.0]))) == pytest.approx(0.0, abs=1e-6)   # both right
    assert float(losses.d_loss(t([-20.0]), t([20.0]))) == pytest.approx(40.0, abs=1e-4)  # both wrong
    assert float(losses.d_loss(t([20.0]), t([20.0]))) == pytest.approx(20.0, abs=1e-4)   # fake called real
    assert float(losses.d_loss(t([-20.0]), t([-20.0]))) == pytest.approx(20.0, abs=1e-4)  # real called fake
    assert float(losses.d_loss(t([0.0, 0.0]), t([0.0, 0.0]))) == pytest.approx(2 * math.log(2))
    # one-sided smoothing: real target 0.9 -> 0.1 * 20 for a confident real, fakes still target 0
    assert float(losses.d_loss(t([20.0]), t([-20.0]), real_label=0.9)) == pytest.approx(2.0, abs=1e-4)
    # mean over the batch: (log(1 + e^-2) + log(1 + e^1)) / 2 for the reals, log(1 + e^3) for the fakes
    r, f = t([2.0, -1.0]), t([3.0, 3.0])
    want = (math.log1p(math.exp(-2)) + math.log1p(math.exp(1))) / 2 + math.log1p(math.exp(3))
    assert float(losses.d_loss(r, f)) == pytest.approx(want, rel=1e-6)


def test_g_loss_known_values():
    t = torch.tensor
    assert float(losses.g_loss_nonsaturating(t([20.0]))) == pytest.approx(0.0, abs=1e-6)
    assert float(losses.g_loss_nonsaturating(t([-20.0]))) == pytest.approx(20.0, abs=1e-4)
    assert float(losses.g_loss_nonsaturating(t([0.0, 2.0]))) == pytest.approx(
        (math.log(2) + math.log1p(math.exp(-2))) / 2, rel=1e-6)


def test_information_terms_known_values():
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    target = torch.tensor([0, 2])
    want = (math.log(1 + 2 * math.exp(-2)) + math.log(3)) / 2          # -log softmax, averaged
    assert float(losses.categorical_nll(logits, target)) == pytest.approx(want, rel=1e-6)
    x, mean = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 0.0]])
    half_log_2pi = 0.5 * math.log(2 * math.pi)
    assert float(losses.gaussian_nll(x, mean)) == pytest.approx(0.5 + 2 * half_log_2pi, rel=1e-6)
    logstd = torch.full((1, 2), math.log(2.0))                         # std 2: 0.5 (1/2)^2 + log 2 per dim
    assert float(losses.gaussian_nll(x, mean, logstd)) == pytest.approx(
        0.125 + 2 * math.log(2.0) + 2 * half_log_2pi, rel=1e-6)
    assert float(losses.gaussian_nll(x, mean, fixed_std=0.5)) == pytest.approx(
        2.0 + 2 * math.log(0.5) + 2 * half_log_2pi, rel=1e-6)
    two = torch.tensor([[1.0, 0.0], [3.0, 0.0]])                       # summed over dims, mean over samples
    assert float(losses.gaussian_nll(two, torch.zeros(2, 2))) == pytest.approx(
        (0.5 + 4.5) / 2 + 2 * half_log_2pi, rel=1e-6)
    per_dim = losses.gaussian_nll_per_dim(two, torch.zeros(2, 2))
    assert per_dim.tolist() == pytest.approx([2.5 + half_log_2pi, half_log_2pi], rel=1e-6)
    per_dim = losses.gaussian_nll_per_dim(two, torch.zeros(2, 2), torch.full((2, 2), math.log(2.0)))
    assert per_dim.tolist() == pytest.approx([2.5 / 4 + math.log(2) + half_log_2pi,
                                              math.log(2) + half_log_2pi], rel=1e-6)
    fitted = losses.gaussian_nll_fitted_std(two, torch.zeros(2, 2))    # 0.5 log(2 pi e mse), mse = 5 and 0
    assert float(fitted[0]) == pytest.approx(0.5 * math.log(2 * math.pi * math.e * 5.0), rel=1e-6)
    assert float(fitted[1]) == pytest.approx(0.5 * math.log(2 * math.pi * math.e * 1e-12), rel=1e-6)
    assert float(losses.mi_lower_bound(math.log(10), torch.tensor(0.5))) == pytest.approx(math.log(10) - 0.5)
    assert float(losses.gaussian_nll(torch.zeros(3, 0), torch.zeros(3, 0))) == 0.0
    assert float(losses.gaussian_nll(torch.tensor([[1.0]]), torch.tensor([[-1.0]]))) == pytest.approx(
        2.0 + half_log_2pi, rel=1e-6)                                 # one continuous code: 0.5 * 2^2
    fitted = losses.gaussian_nll_fitted_std(torch.tensor([[1.0], [2.0]]), torch.tensor([[0.5], [0.5]]))
    assert float(fitted[0]) == pytest.approx(0.5 * math.log(2 * math.pi * math.e * (0.25 + 2.25) / 2), rel=1e-6)


def test_real_data_mi_known_values():
    confident = torch.eye(4).repeat(2, 1) * 50.0          # every image certain, every category used equally
    assert float(losses.real_data_mi(confident)) == pytest.approx(math.log(4), abs=1e-5)
    one_cat = torch.tensor([[50.0, 0.0, 0.0]]).repeat(6, 1)      # certain but always the same category
    assert float(losses.real_data_mi(one_cat)) == pytest.approx(0.0, abs=1e-5)
    assert float(losses.real_data_mi(torch.zeros(5, 3))) == pytest.approx(0.0, abs=1e-6)  # uniform Q
    # two categories, Q(c|x) = (0.75, 0.25) and (0.25, 0.75): marginal uniform, I = log 2 - H(0.75)
    lg = torch.log(torch.tensor([[0.75, 0.25], [0.25, 0.75]]))
    h = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert float(losses.real_data_mi(lg)) == pytest.approx(math.log(2) - h, rel=1e-6)
    # skewed marginal: (1, 0) and (0.5, 0.5): H(0.75, 0.25) - mean(0, log 2)
    lg = torch.log(torch.tensor([[1.0 - 1e-9, 1e-9], [0.5, 0.5]]))
    assert float(losses.real_data_mi(lg)) == pytest.approx(h - math.log(2) / 2, abs=1e-6)


# ---- sign and wiring of each term in each update (one step of the real nets, batch 8)

def _model(**kw) -> InfoGAN:
    torch.manual_seed(0)
    return InfoGAN(SPEC, d_batchnorm=False, **kw)


def _step(model: InfoGAN, monkeypatch, *, zero=(), lr: float = 1e-3, seed: int = 0):
    """One train_step (Adam, both nets at ``lr``) with the loss functions named in ``zero`` multiplied by 0.
    Returns (the model as it was before the step, the step's latent, its real batch)."""
    for name in zero:
        original = getattr(losses, name)
        _patch_everywhere(monkeypatch, losses, name,
                          lambda *a, _f=original, **k: 0.0 * _f(*a, **k))
    latents = []
    original_sample = sample_latent

    def spy(*a, **k):
        lat = original_sample(*a, **k)
        latents.append(lat)
        return lat

    import gan_models.latent
    _patch_everywhere(monkeypatch, gan_models.latent, "sample_latent", spy)
    before = copy.deepcopy(model)
    real = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(seed + 1))
    optims = model.make_optimizers(lr, lr, (0.5, 0.999))
    model.train_step(Batch(real), optims, generator=torch.Generator().manual_seed(seed), noise_std=0.0)
    monkeypatch.undo()
    return before, latents[0], real


def _fake(model: InfoGAN, lat: Latent) -> torch.Tensor:
    with torch.no_grad():
        return model.generate(lat)


def _logit(model: InfoGAN, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.D(x)[0].reshape(-1)


def _info_nll(model: InfoGAN, x: torch.Tensor, lat: Latent) -> float:
    """-log Q(c | x) by hand: softmax cross-entropy of each categorical code plus 0.5 (c - mean)^2."""
    q = model.encode(x)
    nll = sum(-F.log_softmax(lg, 1).gather(1, lat.cat[:, i:i + 1]).mean() for i, lg in enumerate(q.cat_logits))
    return float(nll + 0.5 * ((lat.cont - q.cont_mean) ** 2).sum(1).mean())


def test_d_step_separates_real_from_fake_and_g_step_fools_d(monkeypatch):
    model = _model(lambda_cat=0.0, lambda_cont=0.0, info_to_generator=False)
    before, lat, real = _step(model, monkeypatch)
    fake0 = _fake(before, lat)

    def d_bce(m):            # real -> 1, fake -> 0, written out
        return float(F.softplus(-_logit(m, real)).mean() + F.softplus(_logit(m, fake0)).mean())

    assert d_bce(model) < d_bce(before)
    g0, g1 = F.softplus(-_logit(model, fake0)).mean(), F.softplus(-_logit(model, _fake(model, lat))).mean()
    assert float(g1) < float(g0)                                       # G moved its fakes towards "real"


def test_information_term_trains_q_in_the_d_step_and_g_in_the_g_step(monkeypatch):
    model = _model()
    before, lat, _ = _step(model, monkeypatch, zero=("d_loss", "g_loss_nonsaturating"))
    fake0, fake1 = _fake(before, lat), _fake(model, lat)
    assert _info_nll(model, fake0, lat) < _info_nll(before, fake0, lat)     # D/Q step: Q reads c better
    assert _info_nll(model, fake1, lat) < _info_nll(model, fake0, lat)      # G step: c made more readable


def test_real_mi_term_raises_i_of_q_on_real_images(monkeypatch):
    model = _model(lambda_cat=0.0, lambda_cont=0.0, lambda_real_mi=1.0)
    before, _, real = _step(model, monkeypatch, zero=("d_loss",))

    def real_mi(m):
        return float(losses.real_data_mi(m.encode(real).cat_logits[0]))

    assert real_mi(model) > real_mi(before)


@pytest.mark.parametrize("info_to_generator", [False, True])
def test_info_to_generator_false_keeps_the_information_term_out_of_g(monkeypatch, info_to_generator):
    model = _model(info_to_generator=info_to_generator)
    before = _params(model.G)
    _step(model, monkeypatch, zero=("g_loss_nonsaturating",))
    assert any(_changed(before, model.G)) == info_to_generator


@pytest.mark.parametrize("lambdas,moves", [((0.0, 0.0), False), ((1.0, 0.0), True), ((0.0, 1.0), True)])
def test_zero_lambdas_switch_the_information_term_off_in_d(monkeypatch, lambdas, moves):
    model = _model(lambda_cat=lambdas[0], lambda_cont=lambdas[1])
    before = _params(model.D)
    _step(model, monkeypatch, zero=("d_loss",))
    assert any(_changed(before, model.D)) == moves


def test_options_off_never_call_their_term(monkeypatch):
    calls = {"real_mi": 0, "interaction": 0, "affine": 0, "consistency": 0}
    import gan_models.augment

    def counting(key, fn):
        def wrapped(*a, **k):
            calls[key] += 1
            return fn(*a, **k)
        return wrapped

    _patch_everywhere(monkeypatch, losses, "real_data_mi", counting("real_mi", losses.real_data_mi))
    _patch_everywhere(monkeypatch, losses, "warp_consistency", counting("consistency", losses.warp_consistency))
    _patch_everywhere(monkeypatch, gan_models.augment, "random_affine",
                      counting("affine", gan_models.augment.random_affine))
    monkeypatch.setattr(InfoGAN, "code_interaction", counting("interaction", InfoGAN.code_interaction))
    gen = torch.Generator().manual_seed(0)
    real = torch.rand(8, 1, 28, 28)
    model = _model()
    stats = model.train_step(Batch(real), model.make_optimizers(1e-4, 1e-4, (0.5, 0.999)), generator=gen)
    assert calls == {"real_mi": 0, "interaction": 0, "affine": 0, "consistency": 0}
    assert "mi/real" not in stats and "loss/interaction" not in stats and "loss/real_consistency" not in stats
    model = _model(lambda_real_mi=0.5, lambda_interaction=1.0, cat_augment=0.5)
    stats = model.train_step(Batch(real), model.make_optimizers(1e-4, 1e-4, (0.5, 0.999)), generator=gen)
    assert calls["real_mi"] >= 1 and calls["interaction"] == 1 and calls["affine"] >= 1
    assert calls["consistency"] == 0 and "mi/real" in stats and "loss/interaction" in stats
    model = _model(cat_augment=0.5, lambda_real_consistency=1.0)
    stats = model.train_step(Batch(real), model.make_optimizers(1e-4, 1e-4, (0.5, 0.999)), generator=gen)
    assert calls["consistency"] == 1 and "loss/real_consistency" in stats


# ---- latent distributions

def test_latent_ranges_means_and_one_hot():
    spec = CodeSpec(noise_dim=5, cat=(3, 7), cont=2, noise_scale=0.5)
    lat = sample_latent(spec, 20000, torch.Generator().manual_seed(0))
    z, cat, cont = lat.z.numpy(), lat.cat.numpy(), lat.cont.numpy()
    assert z.shape == (20000, 5) and cat.shape == (20000, 2) and cont.shape == (20000, 2) and lat.y is None
    assert -0.5 <= z.min() < -0.49 and 0.49 < z.max() <= 0.5               # U(-s, s)
    assert abs(z.mean()) < 0.01 and z.var() == pytest.approx(0.25 / 3, rel=0.03)
    assert -1 <= cont.min() < -0.99 and 0.99 < cont.max() <= 1             # U(-1, 1)
    assert np.abs(cont.mean(0)).max() < 0.02 and cont.var(0) == pytest.approx([1 / 3, 1 / 3], rel=0.03)
    for i, k in enumerate(spec.cat):                                        # uniform over range(k)
        freq = np.bincount(cat[:, i], minlength=k) / len(cat)
        assert freq.size == k and np.abs(freq - 1 / k).max() < 0.015
    assert np.corrcoef(cat[:, 0], cat[:, 1])[0, 1] == pytest.approx(0, abs=0.03)   # independent draws
    assert np.abs(np.corrcoef(np.hstack([z, cont]).T) - np.eye(7)).max() < 0.04
    x = lat.to_input(spec).numpy()
    assert x.shape == (20000, spec.input_dim) and spec.input_dim == 5 + 3 + 7 + 2
    assert np.array_equal(x[:, :5], z) and np.array_equal(x[:, -2:], cont)
    for block, (lo, k) in enumerate([(5, 3), (8, 7)]):
        oh = x[:, lo:lo + k]
        assert set(np.unique(oh)) == {0.0, 1.0} and np.all(oh.sum(1) == 1)
        assert np.array_equal(oh.argmax(1), cat[:, block])
    assert spec.code_entropies() == pytest.approx({"cat0": math.log(3), "cat1": math.log(7),
                                                   "cont0": math.log(2), "cont1": math.log(2)})


def test_conditional_latent_label_is_uniform_or_as_given():
    spec = CodeSpec(noise_dim=2, cat=(), cont=1, cond=4)
    lat = sample_latent(spec, 8000, torch.Generator().manual_seed(1))
    assert lat.cat.shape == (8000, 0) and lat.cat.dtype == torch.long and lat.y.dtype == torch.long
    freq = np.bincount(lat.y.numpy(), minlength=4) / 8000
    assert freq.size == 4 and np.abs(freq - 0.25).max() < 0.02
    x = lat.to_input(spec)
    assert x.shape == (8000, 2 + 1 + 4) and torch.equal(x[:, 3:].argmax(1), lat.y)
    y = torch.arange(8) % 4
    assert torch.equal(sample_latent(spec, 8, torch.Generator().manual_seed(0), y=y).y, y)
    with pytest.raises(ValueError, match="^this model is conditional: the latent needs a label y$"):
        Latent(lat.z, lat.cat, lat.cont, None).to_input(spec)


def test_latent_is_seeded():
    a = sample_latent(SPEC, 16, torch.Generator().manual_seed(3))
    b = sample_latent(SPEC, 16, torch.Generator().manual_seed(3))
    c = sample_latent(SPEC, 16, torch.Generator().manual_seed(4))
    assert all(torch.equal(u, v) for u, v in zip(a[:3], b[:3]))
    cond = CodeSpec(noise_dim=2, cat=(3,), cont=1, cond=5)
    ya, yb = (sample_latent(cond, 64, torch.Generator().manual_seed(3)).y for _ in range(2))
    assert torch.equal(ya, yb)                                      # the label too comes from the generator
    assert not torch.equal(a.z, c.z) and not torch.equal(a.cont, c.cont)


def test_traversal_defaults_sweep_cont0_over_ten_columns_under_cat0_rows():
    spec = CodeSpec(noise_dim=3, cat=(4,), cont=2)
    lat, rows, cols = traversal_latent(spec, torch.Generator().manual_seed(0))
    assert (rows, cols) == (4, 10) and lat.n == 40 and lat.y is None
    assert torch.equal(lat.cat[:, 0], torch.arange(4).repeat_interleave(10))
    assert torch.allclose(lat.cont[:, 0], torch.linspace(-1, 1, 10).repeat(4))
    assert torch.equal(lat.cont[:, 1], lat.cont[:1, 1].expand(40))           # the other code held fixed
    assert torch.equal(lat.z, lat.z[:1].expand(40, -1))


def test_traversal_rows_are_labels_for_a_conditional_spec():
    spec = CodeSpec(noise_dim=3, cat=(4,), cont=1, cond=3)
    lat, rows, cols = traversal_latent(spec, torch.Generator().manual_seed(0), rows="y", n_cols=5)
    assert (rows, cols) == (3, 5)
    assert torch.equal(lat.y, torch.arange(3).repeat_interleave(5))
    assert torch.equal(lat.cat[:, 0], lat.cat[:1, 0].expand(15))             # the code is not the row
    assert torch.allclose(lat.cont[:, 0], torch.linspace(-1, 1, 5).repeat(3))
    lat, rows, _ = traversal_latent(spec, torch.Generator().manual_seed(0), n_cols=5)   # rows="cat0"
    assert rows == 4 and torch.equal(lat.cat[:, 0], torch.arange(4).repeat_interleave(5))
    assert lat.y.shape == (20,) and torch.equal(lat.y, lat.y[:1].expand(20))  # one label for the grid
    lat, rows, _ = traversal_latent(CodeSpec(noise_dim=3, cat=(), cont=1, cond=6),
                                    torch.Generator().manual_seed(0), rows="y", n_cols=2)
    assert rows == 6 and torch.equal(lat.y, torch.arange(6).repeat_interleave(2))


def test_traversal_without_a_continuous_sweep_draws_fresh_z_and_codes_per_column():
    spec = CodeSpec(noise_dim=3, cat=(2,), cont=1)
    lat, rows, cols = traversal_latent(spec, torch.Generator().manual_seed(0), cont_index=None, n_cols=4)
    assert (rows, cols) == (2, 4)
    assert torch.equal(lat.z[:4], lat.z[4:]) and torch.equal(lat.cont[:4], lat.cont[4:])   # same per column
    assert len({tuple(r) for r in lat.z[:4].tolist()}) == 4                   # different between columns
    assert len(set(lat.cont[:4, 0].tolist())) == 4
    lat, rows, cols = traversal_latent(CodeSpec(noise_dim=2, cat=(), cont=0), torch.Generator().manual_seed(0),
                                       n_cols=3)
    assert (rows, cols) == (1, 3) and len({tuple(r) for r in lat.z.tolist()}) == 3


def test_traversal_cat_cols_bounds():
    spec = CodeSpec(noise_dim=2, cat=(3, 5), cont=0)
    lat, rows, cols = traversal_latent(spec, torch.Generator().manual_seed(0), cat_cols=0)
    assert (rows, cols) == (3, 3) and torch.equal(lat.cat[:, 0], torch.arange(3).repeat(3))
    for bad in (-1, 2):
        with pytest.raises(ValueError, match=f"cat_cols={bad} but the spec has 2 categorical code"):
            traversal_latent(spec, torch.Generator().manual_seed(0), cat_cols=bad)


def test_code_spec_round_trips_and_fills_noise_scale():
    spec = CodeSpec(noise_dim=5, cat=[3, 4], cont=3, cond=6, noise_scale=0.25)
    assert spec.cat == (3, 4) and spec.n_cat == 2 and spec.input_dim == 5 + 7 + 3 + 6 and spec.has_codes
    d = spec.to_dict()
    assert d == {"noise_dim": 5, "cat": [3, 4], "cont": 3, "cond": 6, "noise_scale": 0.25}
    assert CodeSpec.from_dict(d) == spec
    del d["noise_scale"]
    assert CodeSpec.from_dict(d).noise_scale == 1.0
    assert not CodeSpec(noise_dim=4, cat=(), cont=0).has_codes and CodeSpec(noise_dim=0, cat=(), cont=1).has_codes
    lat = sample_latent(spec, 4, torch.Generator().manual_seed(0))
    moved = lat.to("cpu")
    assert all(torch.equal(a, b) for a, b in zip(lat, moved)) and moved.y is not None
    assert lat._replace(y=None).to("cpu").y is None

"""The InfoGAN step's remaining wiring with known answers: the real-data MI term's sign in D's update, the options a
config passes to the model and its optimisers, instance noise drawn from the run's generator, the label given to the
interaction penalty, and what a run writes about itself (config.json, the code spec, throughput)."""
from __future__ import annotations

import copy
import json

import pytest
import torch

from gan_models import losses, make_config, train
from gan_models.checkpoint import build_model, read_checkpoint
from gan_models.cinfogan import CInfoGAN
from gan_models.infogan import Batch, InfoGAN
from gan_models.latent import CodeSpec

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SPEC = CodeSpec(8, (10,), 2)


def _x(n=32, seed=0):
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


def _sgd_step(model, lam):
    """D's weights after one step with plain SGD (lr 1), the real-data MI weight ``lam``."""
    model = copy.deepcopy(model)
    model.lambda_real_mi = lam
    optims = {"D": torch.optim.SGD(model.D.parameters(), lr=1.0), "G": torch.optim.SGD(model.G.parameters(), lr=0.0)}
    model.train_step(Batch(_x()), optims, generator=torch.Generator().manual_seed(1))
    return {k: v.detach().clone() for k, v in model.D.named_parameters()}


def test_the_real_data_mi_term_raises_i_in_ds_update():
    """loss_D = ... - lambda I(c_hat; x): with SGD the weights move by + lambda * grad I more than without it."""
    torch.manual_seed(0)
    model = InfoGAN(SPEC, d_batchnorm=False)
    start = {k: v.detach().clone() for k, v in model.D.named_parameters()}
    with_term, without = _sgd_step(model, 1.0), _sgd_step(model, 0.0)
    probe = copy.deepcopy(model)
    _, h = probe.D(_x(), None)
    mi = sum(losses.real_data_mi(lg) for lg in probe.D.q(h).cat_logits)
    grads = dict(zip([k for k, _ in probe.D.named_parameters()],
                     torch.autograd.grad(mi, list(probe.D.parameters()), allow_unused=True)))
    moved = 0
    for k, g in grads.items():
        if g is None:
            continue
        torch.testing.assert_close(with_term[k] - without[k], g, rtol=1e-3, atol=1e-6)
        moved += int(g.abs().sum() > 0)
    assert moved > 0 and any(not torch.equal(with_term[k], start[k]) for k in start)


def test_config_options_reach_the_model_and_its_optimisers():
    cfg = make_config("infogan", learn_cont_std=True, beta1=0.3, beta2=0.9, lr_d=1e-4, lr_g=5e-4)
    model = build_model(cfg.to_dict(), SPEC)
    assert model.D.learn_cont_std
    optims = model.make_optimizers(cfg.lr_d, cfg.lr_g, (cfg.beta1, cfg.beta2))
    assert optims["D"].param_groups[0]["betas"] == (0.3, 0.9) and optims["D"].param_groups[0]["lr"] == 1e-4
    assert optims["G"].param_groups[0]["betas"] == (0.3, 0.9) and optims["G"].param_groups[0]["lr"] == 5e-4


def test_learned_std_enters_the_logged_mi_bound():
    torch.manual_seed(0)
    model = InfoGAN(SPEC, learn_cont_std=True)
    x = torch.rand(16, 1, 28, 28)
    latent = model.D.q(model.D.trunk(x))
    from gan_models.latent import sample_latent
    lat = sample_latent(SPEC, 16, torch.Generator().manual_seed(0))
    _, stats = model.info_loss(latent, lat)
    per_dim = losses.gaussian_nll_per_dim(lat.cont, latent.cont_mean.detach(), latent.cont_logstd.detach())
    want = losses.mi_lower_bound(SPEC.code_entropies()["cont0"], per_dim[0])
    assert torch.allclose(stats["mi/cont0"], want)


def test_instance_noise_comes_from_the_runs_generator_only():
    torch.manual_seed(0)
    model = InfoGAN(SPEC)
    outs = []
    for global_seed in (1, 2):
        m = copy.deepcopy(model)
        optims = m.make_optimizers(2e-4, 1e-3, (0.5, 0.999))
        torch.manual_seed(global_seed)                       # another global state must change nothing
        stats = m.train_step(Batch(_x()), optims, generator=torch.Generator().manual_seed(3), noise_std=0.5)
        outs.append((stats, {k: v.clone() for k, v in m.state_dict().items()}))
    assert all(torch.equal(outs[0][0][k], outs[1][0][k]) for k in outs[0][0])
    assert all(torch.equal(outs[0][1][k], outs[1][1][k]) for k in outs[0][1])


def test_the_interaction_penalty_gets_the_batch_labels(monkeypatch):
    spec = CodeSpec(8, (10,), 1, cond=5)
    torch.manual_seed(0)
    model = CInfoGAN(spec, lambda_interaction=1.0)
    seen = []
    original = CInfoGAN.code_interaction
    monkeypatch.setattr(CInfoGAN, "code_interaction", lambda self, n, g, y=None: seen.append(y) or original(self, n, g, y))
    y = torch.arange(16) % 5
    model.train_step(Batch(_x(16), y), model.make_optimizers(2e-4, 1e-3, (0.5, 0.999)),
                     generator=torch.Generator().manual_seed(0))
    assert len(seen) == 1 and torch.equal(seen[0], y)


def test_a_run_writes_its_config_spec_and_throughput(tmp_path):
    cfg = make_config(None, dataset="basicprop-line", batch_size=16, steps=6, log_every=2, eval_size=50, cont=1,
                      cat=(10,), progress=False, out=str(tmp_path / "run"))
    state = read_checkpoint(train(cfg))
    assert state["spec"]["cont"] == 1 and state["spec"]["cat"] == [10]
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["config"]["cont"] == 1 and saved["spec"]["cont"] == 1 and saved["dataset_meta"]["kind"] == "line"
    records = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    train_records = [r for r in records if "loss/d" in r]
    assert [r["step"] for r in train_records] == [2, 4, 6] and all("noise_std" in r for r in train_records)
    for a, b in zip(train_records, train_records[1:]):       # img/s from the records' own clock
        assert b["img_per_s"] == pytest.approx((b["step"] - a["step"]) * 16 / (b["time"] - a["time"]), rel=0.05)

"""bn_recalibrate: D's BatchNorm statistics re-estimated from real images before evaluations and checkpoints.

Only those statistics may change: weights, G, the optimizers and every random stream train exactly as without it."""
from __future__ import annotations

import functools
import numpy as np
import pytest
import torch
from click.testing import CliRunner

import cli
from gan_models import make_config, resume_config, train
from gan_models.checkpoint import build_model, read_checkpoint
from gan_models.latent import CodeSpec
from gan_models.nets import Discriminator, recalibrate_batchnorm
from gan_models.stacked import train_stacked
from gan_models.trainer import load_data, q_metrics

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SETTINGS = dict(dataset="basicprop-line", batch_size=16, steps=6, log_every=3, eval_every=3, ckpt_every=4,
                eval_size=50, progress=False, instance_noise=0.1)
N_CAL = 48                                  # three batches of 16


def _bn_layers(d: torch.nn.Module) -> dict[str, torch.nn.Module]:
    return {name: m for name, m in d.named_modules() if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d))}


def _batches(seed: int = 0, n: int = 3, size: int = 16) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(size, 1, 28, 28, generator=g) for _ in range(n)]


def _bn_inputs(d: Discriminator, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """What each BatchNorm layer of D's trunk and Q's head reads for the batch x, in train mode (hooks)."""
    seen, hooks = {}, []
    for name, m in _bn_layers(d).items():
        hooks.append(m.register_forward_hook(lambda mod, inp, out, name=name: seen.__setitem__(name, inp[0])))
    d.train()
    with torch.no_grad():
        d.q(d.trunk(x))
    for h in hooks:
        h.remove()
    return seen


def test_statistics_are_the_plain_average_of_the_batch_statistics():
    """running_mean = mean of the batch means, running_var = mean of the unbiased batch variances, layer by layer;
    nothing else in D changes and its mode and momenta are restored."""
    torch.manual_seed(0)
    d = Discriminator(CodeSpec(8, (10,), 2))
    batches = _batches()
    inputs = [_bn_inputs(d, x) for x in batches]          # before: the layers ahead of each BN are plain functions
    d.eval()
    for m in _bn_layers(d).values():                       # stale statistics, as training leaves them
        m.running_mean.fill_(3.0)
        m.running_var.fill_(7.0)
        m.momentum = 0.25
    params = {k: v.clone() for k, v in d.named_parameters()}
    recalibrate_batchnorm(d, batches)
    assert not d.training and all(not m.training for m in d.modules())
    for name, m in _bn_layers(d).items():
        dims = (0, 2, 3) if isinstance(m, torch.nn.BatchNorm2d) else (0,)
        mean = torch.stack([i[name].mean(dims) for i in inputs]).mean(0)
        var = torch.stack([i[name].var(dims, unbiased=True) for i in inputs]).mean(0)
        torch.testing.assert_close(m.running_mean, mean, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(m.running_var, var, rtol=1e-5, atol=1e-6)
        assert m.momentum == 0.25 and int(m.num_batches_tracked) == len(batches)
    assert all(torch.equal(v, params[k]) for k, v in d.named_parameters())
    d.train()
    recalibrate_batchnorm(d, batches[:1])
    assert d.training and all(m.training for m in d.modules())


def test_spectral_norm_power_iteration_stays_still():
    """Only the BatchNorm layers run in train mode: spectral norm's vectors (buffers) are untouched."""
    torch.manual_seed(0)
    d = Discriminator(CodeSpec(8, (10,), 0), spectral_norm=True).train()
    before = {k: v.clone() for k, v in d.named_buffers() if "running" not in k and "num_batches" not in k}
    assert any("_u" in k for k in before)
    recalibrate_batchnorm(d, _batches(n=2))
    after = dict(d.named_buffers())
    assert all(torch.equal(after[k], v) for k, v in before.items())


def test_the_statistics_are_what_eval_mode_reads():
    """After recalibrating on one batch, D in eval mode gives the train-mode output on that batch (up to the
    unbiased/biased variance of 16 samples, which the BN epsilon does not hide: compare loosely)."""
    torch.manual_seed(0)
    d = Discriminator(CodeSpec(8, (10,), 0))
    x = _batches(n=1, size=256)[0]
    with torch.no_grad():
        train_out = d.train().q(d.trunk(x)).cat_logits[0]
        recalibrate_batchnorm(d, [x])
        eval_out = d.eval().q(d.trunk(x)).cat_logits[0]
    torch.testing.assert_close(eval_out, train_out, rtol=0.02, atol=0.02)


def _tensors_equal(a: dict, b: dict, keys) -> bool:
    return all(torch.equal(a[k], b[k]) for k in keys)


CFG = make_config("infogan", **SETTINGS)


@functools.cache
def _data():
    return load_data(CFG, torch.device("cpu"))[0]


def _model(state: dict):
    model = build_model(state["config"], CodeSpec(CFG.noise_dim, CFG.cat, CFG.cont))
    model.load_state_dict(state["model"])
    return model


def _recalibrated(state: dict) -> dict:
    """The checkpoint's model with D's statistics re-estimated as training does: the first N_CAL images of the
    fixed shuffle of the training set, in batches of batch_size."""
    model, images = _model(state), _data().images
    idx = torch.from_numpy(np.random.default_rng(1).permutation(images.shape[0])[:N_CAL])
    recalibrate_batchnorm(model.D, (images[idx].float() / 255.0).split(CFG.batch_size))
    return model.state_dict()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same 6 steps without and with bn_recalibrate, on one thread as the tests."""
    root = tmp_path_factory.mktemp("bn")
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        plain = train(make_config("infogan", out=str(root / "plain"), **SETTINGS))
        calibrated = train(make_config("infogan", out=str(root / "cal"), bn_recalibrate=N_CAL, keep=2, **SETTINGS))
    finally:
        torch.set_num_threads(n)
    return read_checkpoint(plain), read_checkpoint(calibrated), root


def test_only_ds_batchnorm_statistics_change_and_they_are_recomputable(runs):
    plain, cal, _ = runs
    keys = plain["model"].keys()
    assert keys == cal["model"].keys()
    stats = {k for k in keys if k.startswith("D.") and ("running_" in k or "num_batches_tracked" in k)}
    assert stats and all(not torch.equal(plain["model"][k], cal["model"][k])
                         for k in stats if "num_batches" not in k)
    assert _tensors_equal(plain["model"], cal["model"], keys - stats)          # weights, G's buffers
    for name in ("D", "G"):
        a, b = plain["optims"][name]["state"], cal["optims"][name]["state"]
        assert a.keys() == b.keys() and all(_tensors_equal(a[i], b[i], a[i].keys()) for i in a)
    assert torch.equal(plain["rng"]["train"], cal["rng"]["train"])
    assert cal["config"]["bn_recalibrate"] == N_CAL

    # the saved statistics: the plain run's weights recalibrated on the first N_CAL images of the fixed shuffle
    assert _tensors_equal(_recalibrated(plain), cal["model"], stats)


def test_checkpoints_between_evaluations_are_recalibrated_too(runs):
    """ckpt_000004.pt (kept; no evaluation at step 4) holds the statistics of its own weights, not training's."""
    _, _, root = runs
    at_4 = read_checkpoint(root / "cal" / "ckpt_000004.pt")
    assert at_4["step"] == 4
    stats = [k for k in at_4["model"] if k.startswith("D.") and "running_" in k]
    assert _tensors_equal(_recalibrated(at_4), at_4["model"], stats)


def test_evaluations_read_the_recalibrated_statistics(runs):
    """The last evaluation scored Q with the statistics saved beside it (recalibrated at that step), not with the
    running averages of training, which score otherwise."""
    plain, cal, _ = runs
    data = _data()
    eval_idx = np.random.default_rng(0).permutation(data.images.shape[0])[:CFG.eval_size]

    def score(state: dict) -> dict:
        return q_metrics(_model(state), data, eval_idx, torch.device("cpu"))

    assert cal["metrics"]["step"] == plain["metrics"]["step"] == 6
    logged = {k: v for k, v in cal["metrics"].items() if k.startswith("real_mi/")}
    assert logged and score(cal) == logged
    assert score(plain) == {k: plain["metrics"][k] for k in logged} != logged


def test_resume_equals_uninterrupted_and_the_option_may_change_on_resume(runs, tmp_path):
    _, cal, _ = runs
    out = tmp_path / "run"
    train(make_config("infogan", out=str(out), bn_recalibrate=N_CAL, **{**SETTINGS, "steps": 4}))
    resumed = read_checkpoint(train(resume_config(out, steps=6), resume=True))
    assert resumed["step"] == 6 and _tensors_equal(resumed["model"], cal["model"], cal["model"].keys())
    assert torch.equal(resumed["rng"]["train"], cal["rng"]["train"])

    cfg = resume_config(out, steps=7, bn_recalibrate=0)                        # switched off: allowed
    assert cfg.bn_recalibrate == 0


@pytest.mark.parametrize("value, needle", [("10", "at least one batch (16 images)"), ("-5", "got -5")])
def test_bad_values_are_one_line_errors_and_leave_no_run(tmp_path, value, needle):
    out = tmp_path / "run"
    r = CliRunner().invoke(cli.cli, ["train", "--dataset", "basicprop-line", "--batch-size", "16", "--steps", "2",
                                     "--bn-recalibrate", value, "--out", str(out), "--no-progress"])
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], r.output
    assert not out.exists()


@pytest.mark.parametrize("batched", [False, True])
def test_stacked_seeds_recalibrate_as_single_runs(runs, tmp_path, batched):
    """Member by member the stack equals the single run bit for bit; vmapped, each member's checkpoint holds the
    statistics of its own weights (the stack's copies train on, untouched)."""
    _, cal, _ = runs
    cfgs = [make_config("infogan", seed=s, out=str(tmp_path / f"seed{s}"), bn_recalibrate=N_CAL, **SETTINGS)
            for s in (cal["config"]["seed"], 7)]
    paths = train_stacked(cfgs, batched=batched)
    member = read_checkpoint(paths[0])
    stats = [k for k in member["model"] if k.startswith("D.") and "running_" in k]
    if batched:
        assert _tensors_equal(_recalibrated(member), member["model"], stats)
    else:
        assert _tensors_equal(member["model"], cal["model"], cal["model"].keys())

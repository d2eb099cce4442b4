"""gan_models.stacked: K seeds as one stacked model equal K single runs (tiny runs on basicprop-line)."""
from __future__ import annotations

import json
import shutil

import pytest
import torch
from click.testing import CliRunner

import cli
from eval.clustering import code_factor_accuracy
from gan_models import make_config, resume_config, train
from gan_models.checkpoint import build_model, read_checkpoint
from gan_models.infogan import Batch
from gan_models.latent import CodeSpec
from gan_models.stacked import Stack, train_stacked
from gan_models.trainer import TrainingInterrupted

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# every random draw of the step in play (instance noise, warped fakes, the code-interaction penalty) and the
# learning-rate schedule
TINY = dict(dataset="basicprop-line", batch_size=8, log_every=5, ckpt_every=100, eval_size=200, progress=False,
            instance_noise=0.1, cat_augment=0.5, lambda_interaction=1.0, lr_decay_start=0.5)
STEPS = 20


def _cfg(root, seed, steps=STEPS, preset="infogan", **kw):
    return make_config(preset, seed=seed, steps=steps, out=str(root / f"seed{seed}"), **{**TINY, **kw})


def _records(run_dir, kinds=("start", "train", "eval")):
    """log.jsonl's records of these kinds, without what depends on the clock."""
    records = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in ("time", "img_per_s")} for r in records if r["kind"] in kinds]


def _assert_same_run(a, b, resumed=False):
    """Two run directories hold the same training: checkpoint tensors bit for bit, log, metrics, grids. ``resumed``:
    ``a`` stopped and started again (another start record, an evaluation and grids where it stopped)."""
    sa, sb = read_checkpoint(a / "ckpt.pt"), read_checkpoint(b / "ckpt.pt")
    assert sa["step"] == sb["step"] and sa["config"] == {**sb["config"], "out": sa["config"]["out"]}
    assert sa["model"].keys() == sb["model"].keys()
    assert all(torch.equal(sa["model"][k], sb["model"][k]) for k in sa["model"])
    for name in ("D", "G"):
        oa, ob = sa["optims"][name], sb["optims"][name]
        assert oa["param_groups"] == ob["param_groups"] and oa["state"].keys() == ob["state"].keys()
        for i in oa["state"]:
            assert all(torch.equal(oa["state"][i][k], ob["state"][i][k]) for k in ("step", "exp_avg", "exp_avg_sq"))
    assert torch.equal(sa["rng"]["train"], sb["rng"]["train"])
    kinds = ("train",) if resumed else ("start", "train", "eval")
    assert _records(a, kinds) == _records(b, kinds)
    assert json.loads((a / "metrics.json").read_text()) == json.loads((b / "metrics.json").read_text())
    pictures = {p.name for p in a.glob("*.png")}
    grids = sorted(p.name for p in b.glob("*_000*.png"))           # a resumed run's curves have another eval
    assert grids and set(grids) <= pictures and (resumed or pictures == {p.name for p in b.glob("*.png")})
    assert all((a / g).read_bytes() == (b / g).read_bytes() for g in grids)


@pytest.fixture(autouse=True)
def _remove_runs(tmp_path):
    """Each run directory holds checkpoints of about 150 MB: gone once the test is over."""
    yield
    shutil.rmtree(tmp_path, ignore_errors=True)


@pytest.fixture(scope="module")
def singles(tmp_path_factory):
    """Seeds 0 and 1 trained alone for STEPS steps, on one thread as the tests (a module fixture is set up before
    the function fixture ``one_torch_thread``; kernels split over more threads reduce in another order)."""
    root = tmp_path_factory.mktemp("singles")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for seed in (0, 1):
            train(_cfg(root, seed), score_codes=code_factor_accuracy)
    finally:
        torch.set_num_threads(threads)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_two_stacked_seeds_are_bit_identical_to_two_single_runs(tmp_path, singles):
    """Member by member (the CPU's way) the stacked model reduces in the single run's order: every weight, Adam
    moment, generator state, log record, metric and grid byte equals the separate run's after 20 steps."""
    paths = train_stacked([_cfg(tmp_path, 0), _cfg(tmp_path, 1)], score_codes=code_factor_accuracy, batched=False)
    assert paths == [tmp_path / "seed0" / "ckpt.pt", tmp_path / "seed1" / "ckpt.pt"]
    for seed in (0, 1):
        _assert_same_run(tmp_path / f"seed{seed}", singles / f"seed{seed}")
    evals = [r for r in _records(tmp_path / "seed1") if r.get("event") == "eval"]
    assert evals and "acc/position" in evals[-1]


def test_stop_saves_every_member_and_they_resume_together_or_alone(tmp_path, singles):
    polls = []

    def stop_at_step_10():          # polled at every step boundary, from before the first step
        polls.append(1)
        return len(polls) == 11

    with pytest.raises(TrainingInterrupted, match="at step 10"):
        train_stacked([_cfg(tmp_path / "a", s) for s in (0, 1)], should_stop=stop_at_step_10,
                      score_codes=code_factor_accuracy, batched=False)
    assert [read_checkpoint(tmp_path / "a" / f"seed{s}" / "ckpt.pt")["step"] for s in (0, 1)] == [10, 10]
    shutil.copytree(tmp_path / "a" / "seed1", tmp_path / "b" / "seed1")
    train_stacked([resume_config(tmp_path / "a" / f"seed{s}") for s in (0, 1)], resume=True,
                  score_codes=code_factor_accuracy, batched=False)
    for seed in (0, 1):
        _assert_same_run(tmp_path / "a" / f"seed{seed}", singles / f"seed{seed}", resumed=True)
    # a member's checkpoint is a single run's: it resumes alone, to the same weights
    train(resume_config(tmp_path / "b" / "seed1"), resume=True, score_codes=code_factor_accuracy)
    _assert_same_run(tmp_path / "b" / "seed1", singles / "seed1", resumed=True)


def test_cinfogan_stacks_too(tmp_path):
    kw = dict(dataset="basicprop-rectangles", cat_augment=0.0, steps=3)
    train_stacked([_cfg(tmp_path / "stacked", s, preset="cinfogan-rectangles", **kw) for s in (0, 1)], batched=False)
    for s in (0, 1):
        train(_cfg(tmp_path / "single", s, preset="cinfogan-rectangles", **kw))
        _assert_same_run(tmp_path / "stacked" / f"seed{s}", tmp_path / "single" / f"seed{s}")


def test_code_invariance_stacks_too(tmp_path):
    """Per-code views of the fakes and, for the real-image MI term, of the real images (tuples of them in the step)
    stack member by member bit for bit, and vmapped."""
    _stack_single_and_vmapped(tmp_path, dataset="basicprop-rectangles", cat=(10, 10), cont=0, cat_augment=0.0,
                              code_invariance=("shift_y", "none"), lambda_real_mi=1.0)


def _stack_single_and_vmapped(tmp_path, preset="infogan", **kw):
    """Seeds 0 and 1 for 3 steps: stacked member by member equal to single runs bit for bit; vmapped, they run."""
    kw = dict(steps=3, **kw)
    train_stacked([_cfg(tmp_path / "stacked", s, preset=preset, **kw) for s in (0, 1)], batched=False)
    for s in (0, 1):
        train(_cfg(tmp_path / "single", s, preset=preset, **kw))
        _assert_same_run(tmp_path / "stacked" / f"seed{s}", tmp_path / "single" / f"seed{s}")
    train_stacked([_cfg(tmp_path / "vmapped", s, preset=preset, **kw) for s in (0, 1)], batched=True)
    assert all(read_checkpoint(tmp_path / "vmapped" / f"seed{s}" / "ckpt.pt")["step"] == 3 for s in (0, 1))


def test_vmapped_step_equals_single_steps_up_to_rounding():
    """Batched (vmap, the GPU's way) the convolutions and batch norms reduce in another order: D's first losses
    agree to 1e-5 relative, not bit for bit. G's come after D's first Adam step, which turns the rounding noise of
    gradients that are zero in exact arithmetic (a bias in front of a batch norm) into steps of the learning rate's
    size: 1e-3."""
    cfg = make_config("infogan", **{**TINY, "batch_size": 16})
    spec = CodeSpec(cfg.noise_dim, cfg.cat, cfg.cont, 0)
    models = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        models.append(build_model(cfg.to_dict(), spec).train())
    singles = [build_model(cfg.to_dict(), spec).train() for _ in models]
    for single, model in zip(singles, models):
        single.load_state_dict(model.state_dict())
    optims = [m.make_optimizers(cfg.lr_d, cfg.lr_g, (cfg.beta1, cfg.beta2)) for m in models]
    stack = Stack(models, optims, batched=True)
    x = [torch.rand(16, 1, 28, 28, generator=torch.Generator().manual_seed(10 + k)) for k in (0, 1)]
    stacked = stack.train_step([Batch(xk) for xk in x], [torch.Generator().manual_seed(k) for k in (0, 1)], 0.1)
    for k, single in enumerate(singles):
        alone = single.train_step(Batch(x[k]), single.make_optimizers(cfg.lr_d, cfg.lr_g, (cfg.beta1, cfg.beta2)),
                                  generator=torch.Generator().manual_seed(k), noise_std=0.1)
        assert alone.keys() == stacked.keys()
        for key, v in alone.items():
            rel = 1e-3 if key in ("loss/g", "loss/interaction") else 1e-5
            assert float(stacked[key][k]) == pytest.approx(float(v), rel=rel, abs=1e-6), key
    # the stacked weights went where the single ones did (a few elements whose gradient is rounding noise aside)
    member = build_model(cfg.to_dict(), spec)
    stack.unstack(1, member)
    w, ref = member.D.trunk[0].weight.detach(), singles[1].D.trunk[0].weight.detach()
    assert float((w - ref).norm() / ref.norm()) < 1e-2 and not torch.equal(w, models[1].D.trunk[0].weight.detach())
    stack.set_learning_rates(1e-5, 2e-5)                        # the schedule reaches the stacked Adams too
    assert [opt.param_groups[0]["lr"] for opt in (stack.optims["D"], stack.optims["G"], optims[1]["D"],
                                                 optims[1]["G"])] == [1e-5, 2e-5, 1e-5, 2e-5]


def test_bad_stacks_are_refused(tmp_path):
    with pytest.raises(ValueError, match="differ only by.*lr_d"):
        train_stacked([_cfg(tmp_path, 0), _cfg(tmp_path, 1, lr_d=1e-3)])
    with pytest.raises(ValueError, match="own out directory"):
        train_stacked([_cfg(tmp_path, 0), make_config("infogan", seed=1, steps=STEPS, out=str(tmp_path / "seed0"),
                                                       **TINY)])
    with pytest.raises(ValueError, match="at least one"):
        train_stacked([])
    with pytest.raises(ValueError, match="torch.compile"):
        train_stacked([_cfg(tmp_path, 0, compile=True), _cfg(tmp_path, 1, compile=True)])
    sn = make_config("infogan", d_spectral_norm=True)
    model = build_model(sn.to_dict(), CodeSpec(sn.noise_dim, sn.cat, sn.cont, 0))
    with pytest.raises(ValueError, match="spectral norm.*cannot be vmapped"):
        Stack([model], [model.make_optimizers(sn.lr_d, sn.lr_g, (sn.beta1, sn.beta2))], batched=True)
    # members at different steps cannot resume together
    train(_cfg(tmp_path / "r", 0, steps=2))
    train(_cfg(tmp_path / "r", 1, steps=3))
    with pytest.raises(ValueError, match="one step"):
        train_stacked([resume_config(tmp_path / "r" / f"seed{s}", steps=6) for s in (0, 1)], resume=True)
    assert not (tmp_path / "seed0").exists()


def test_cli_seeds(tmp_path):
    runner = CliRunner()
    out = tmp_path / "line"
    args = ["train", "--preset", "infogan-line", "--batch-size", "8", "--steps", "2", "--no-progress",
            "--out", str(out)]
    result = runner.invoke(cli.cli, [*args, "--seeds", "0", "1", "--set", "eval_size=100"])
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == {"seed0", "seed1"}
    assert [read_checkpoint(out / f"seed{s}" / "ckpt.pt")["config"]["seed"] for s in (0, 1)] == [0, 1]
    assert result.output.count("checkpoint:") == 2
    result = runner.invoke(cli.cli, ["train", "--out", str(out), "--resume", "--steps", "3", "--no-progress",
                                     "--seeds", "0,1"])
    assert result.exit_code == 0, result.output
    assert [read_checkpoint(out / f"seed{s}" / "ckpt.pt")["step"] for s in (0, 1)] == [3, 3]
    for bad, message in ((["--seeds", "0", "x"], "--seeds takes integers"),
                         (["--seeds", "1", "1"], "distinct"),
                         (["--seed", "1", "--seeds", "0", "2"], "--seed or --seeds"),
                         (["7"], "unexpected extra argument")):
        result = runner.invoke(cli.cli, [*args[:-1], str(tmp_path / "bad"), *bad])
        assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output, result.output
    assert not (tmp_path / "bad").exists()


def test_real_consistency_stacks_too(tmp_path):
    """The warped real images, drawn after every other view, stack member by member bit for bit, and vmapped."""
    _stack_single_and_vmapped(tmp_path, lambda_real_consistency=1.0)


def test_continuous_code_views_stack_too(tmp_path):
    """C-InfoGAN's per-continuous-code views (cont_invariance) stack member by member bit for bit, and vmapped."""
    _stack_single_and_vmapped(tmp_path, preset="cinfogan", cat_augment=0.0, cont_invariance=("scale_x", "shear_x"))


def test_delayed_real_mi_stacks_too(tmp_path):
    """The real-image MI term switched on after the first steps (real_mi_start) switches on in every member."""
    _stack_single_and_vmapped(tmp_path, lambda_real_mi=1.0, real_mi_start=0.5)

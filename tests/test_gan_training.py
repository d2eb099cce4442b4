"""gan_models trainer: resume, determinism, the NaN guard, checkpoints, the CLI (tiny runs on basicprop-line)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import cli
from eval.clustering import code_factor_accuracy
from gan_models import TrainingDiverged, load_checkpoint, make_config, train
from gan_models.checkpoint import read_checkpoint, save_checkpoint
from gan_models.infogan import InfoGAN
from gan_models.trainer import TrainingInterrupted

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = dict(dataset="basicprop-line", batch_size=16, log_every=2, ckpt_every=100, eval_size=200, progress=False)


def _weights(path):
    return read_checkpoint(path)["model"]


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_same_seed_same_weights_and_resume_is_exact(tmp_path):
    a = train(make_config("infogan", steps=6, out=str(tmp_path / "a"), **TINY), score_codes=code_factor_accuracy)
    b = train(make_config("infogan", steps=6, out=str(tmp_path / "b"), **TINY))
    assert _same(_weights(a), _weights(b))
    c = train(make_config("infogan", steps=6, seed=1, out=str(tmp_path / "c"), **TINY))
    assert not _same(_weights(a), _weights(c))
    # stop after 3 steps, then resume to 6: bit-identical to the uninterrupted run
    r = train(make_config("infogan", steps=3, out=str(tmp_path / "r"), **TINY))
    assert read_checkpoint(r)["step"] == 3
    r = train(make_config("infogan", steps=6, out=str(tmp_path / "r"), **TINY), resume=True)
    state = read_checkpoint(r)
    assert state["step"] == 6
    assert _same(state["model"], _weights(a))
    for k in ("D", "G"):
        sa, sr = read_checkpoint(a)["optims"][k]["state"], state["optims"][k]["state"]
        assert all(torch.equal(sa[i]["exp_avg"], sr[i]["exp_avg"]) for i in sa)
    with pytest.raises(ValueError, match="changed config.*lr_d"):
        train(make_config("infogan", steps=8, lr_d=1e-3, out=str(tmp_path / "r"), **TINY), resume=True)
    with pytest.raises(ValueError, match="already exists"):
        train(make_config("infogan", steps=8, out=str(tmp_path / "r"), **TINY))
    # the run directory has what a person looks at
    names = {p.name for p in (tmp_path / "a").iterdir()}
    assert {"ckpt.pt", "config.json", "log.jsonl", "metrics.json", "samples_000006.png",
            "traverse_cont0_000006.png", "traverse_cont1_000006.png"} <= names
    records = [json.loads(line) for line in (tmp_path / "a" / "log.jsonl").read_text().splitlines()]
    assert records[0] == {"event": "start", "kind": "start", "step": 0, "total": 6, "rng_continued": True}
    steps = [r for r in records if "loss/d" in r]
    assert [r["step"] for r in steps] == [2, 4, 6]
    assert {"loss/d", "loss/g", "loss/info", "d/real", "d/fake", "mi/cat0", "mi/cont0", "mi/cont1"} <= set(steps[0])
    evals = [r for r in records if r.get("event") == "eval"]
    assert evals and "acc/position" in evals[-1]
    assert 0 <= evals[-1]["real_mi/cat0"] <= np.log(10) + 1e-6       # label-free I(c_hat; x) on real images


def test_warped_categories_are_seeded_and_resume_exactly(tmp_path):
    """cat_augment draws its warps from the run's generator: same seed -> same weights, resume stays exact."""
    a = train(make_config("infogan-mnist", steps=4, out=str(tmp_path / "a"), **TINY))
    b = train(make_config("infogan-mnist", steps=4, out=str(tmp_path / "b"), **TINY))
    assert _same(_weights(a), _weights(b))
    train(make_config("infogan-mnist", steps=2, out=str(tmp_path / "r"), **TINY))
    r = train(make_config("infogan-mnist", steps=4, out=str(tmp_path / "r"), **TINY), resume=True)
    assert _same(read_checkpoint(r)["model"], _weights(a))


def test_learning_rates_fall_linearly_from_the_decay_start_and_resume_exactly(tmp_path, monkeypatch):
    seen = []
    original = InfoGAN.train_step

    def step(self, batch, optims, *args, **kwargs):
        seen.append((optims["D"].param_groups[0]["lr"], optims["G"].param_groups[0]["lr"]))
        return original(self, batch, optims, *args, **kwargs)

    monkeypatch.setattr(InfoGAN, "train_step", step)
    kw = dict(steps=6, lr_decay_start=0.5, **TINY)
    a = train(make_config("infogan", out=str(tmp_path / "a"), **kw))
    factors = [1, 1, 1, 1, 2 / 3, 1 / 3]
    assert [d for d, _ in seen] == pytest.approx([2e-4 * f for f in factors])
    assert [g for _, g in seen] == pytest.approx([1e-3 * f for f in factors])
    constant = train(make_config("infogan", steps=6, out=str(tmp_path / "c"), **TINY))
    assert not _same(_weights(a), _weights(constant))
    polls = []
    with pytest.raises(TrainingInterrupted):                       # stopped after 4 steps, inside the fall
        train(make_config("infogan", out=str(tmp_path / "r"), **kw), should_stop=lambda: polls.append(1) or
              len(polls) > 4)
    assert read_checkpoint(tmp_path / "r" / "ckpt.pt")["step"] == 4
    r = train(make_config("infogan", out=str(tmp_path / "r"), **kw), resume=True)
    assert _same(_weights(r), _weights(a))
    with pytest.raises(ValueError, match="lr_decay_start"):
        train(make_config("infogan", lr_decay_start=1.5, out=str(tmp_path / "bad"), **TINY))


def _parameters(path):
    """A checkpoint's weights without batch norm's running statistics."""
    return {k: v for k, v in _weights(path).items() if "running_" not in k and "num_batches" not in k}


def test_real_mi_term_trains_from_its_start_and_resumes_exactly(tmp_path, monkeypatch):
    seen = []
    original = InfoGAN.train_step

    def step(self, *args, **kwargs):
        seen.append(self.real_mi_on)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(InfoGAN, "train_step", step)
    kw = dict(steps=6, lambda_real_mi=1.0, real_mi_start=0.5, **TINY)
    a = train(make_config("infogan", out=str(tmp_path / "a"), **kw))
    assert seen == [False] * 3 + [True] * 3
    records = [json.loads(line) for line in (tmp_path / "a" / "log.jsonl").read_text().splitlines()]
    assert all("mi/real" in r for r in records if "loss/d" in r)        # logged before it trains, too
    # before its start the term changes no weight: 3 steps equal 3 steps without it; after, it does
    before = train(make_config("infogan", out=str(tmp_path / "b"), **{**kw, "steps": 3, "real_mi_start": 0.99}))
    without = {n: train(make_config("infogan", steps=n, out=str(tmp_path / f"w{n}"), **TINY)) for n in (3, 6)}
    assert _same(_parameters(before), _parameters(without[3]))
    assert not _same(_parameters(a), _parameters(without[6]))
    polls = []
    with pytest.raises(TrainingInterrupted):                       # stopped after 2 steps, before the start
        train(make_config("infogan", out=str(tmp_path / "r"), **kw), should_stop=lambda: polls.append(1) or
              len(polls) > 2)
    r = train(make_config("infogan", out=str(tmp_path / "r"), **kw), resume=True)
    assert _same(_weights(r), _weights(a))
    for bad, message in ((dict(real_mi_start=1.0), r"real_mi_start must be in \[0, 1\)"),
                         (dict(lambda_real_mi=0.0), "needs lambda_real_mi > 0")):
        with pytest.raises(ValueError, match=message):
            train(make_config("infogan", out=str(tmp_path / "bad"), **{**kw, **bad}))


def test_load_checkpoint_round_trip(tmp_path):
    torch.manual_seed(123)
    rng_before, threads_before = torch.get_rng_state(), torch.get_num_threads()
    path = train(make_config("infogan", steps=2, noise_scale=0.5, threads=3, out=str(tmp_path / "run"), **TINY))
    # the library leaves torch's global state alone: seeds and thread counts are the entry points' business
    assert torch.equal(torch.get_rng_state(), rng_before) and torch.get_num_threads() == threads_before
    m = load_checkpoint(path, device="cpu")
    assert m.spec.cat == (10,) and m.spec.cont == 2 and m.spec.noise_dim == 62 and m.spec.cond == 0
    assert m.spec.noise_scale == 0.5                                 # eval draws z as training did
    assert float(m.sample_latent(100, torch.Generator().manual_seed(0)).z.abs().max()) <= 0.5
    assert m.config["dataset"] == "basicprop-line" and m.config["steps"] == 2
    assert m.dataset_meta["factor_names"] == ["position"] and m.dataset_meta["factor_sizes"] == [10]
    assert m.dataset_meta["condition_factor"] is None and m.dataset_meta["kind"] == "line"
    assert m.device == torch.device("cpu") and not m.generator.training and not m.discriminator.training
    lat = m.sample_latent(5, torch.Generator().manual_seed(0))
    x1, x2 = m.generate(lat), m.generate(lat)
    assert x1.shape == (5, 1, 28, 28) and torch.equal(x1, x2)
    # the loaded G equals a module rebuilt from the saved state dict
    state = read_checkpoint(path)
    ref = InfoGAN(m.spec)
    ref.load_state_dict(state["model"])
    ref.eval()
    with torch.no_grad():
        assert torch.equal(ref.generate(lat), x1)
    q = m.encode(np.zeros((3, 28, 28), np.uint8))
    assert [t.shape for t in q.cat_logits] == [(3, 10)] and q.cont_mean.shape == (3, 2) and q.cont_logstd is None
    q2 = m.encode(torch.zeros(3, 1, 28, 28))
    assert torch.equal(q.cat_logits[0], q2.cat_logits[0])
    with pytest.raises(ValueError, match="not a gan_models checkpoint"):
        torch.save({"x": 1}, tmp_path / "other.pt")
        load_checkpoint(tmp_path / "other.pt")


def _poison_after(monkeypatch, bad_step: int):
    original = InfoGAN.train_step
    calls = {"n": 0}

    def step(self, *args, **kwargs):
        stats = original(self, *args, **kwargs)
        calls["n"] += 1
        if calls["n"] >= bad_step:       # what a blown-up D does: NaN loss and NaN weights
            with torch.no_grad():
                self.D.head.weight.fill_(float("nan"))
            stats["loss/d"] = stats["loss/d"] * float("nan")
        return stats

    monkeypatch.setattr(InfoGAN, "train_step", step)


def test_nan_loss_stops_with_a_clear_message_and_no_nan_checkpoint(tmp_path, monkeypatch):
    _poison_after(monkeypatch, bad_step=5)
    out = tmp_path / "nan"
    cfg = make_config("infogan", steps=10, out=str(out), **{**TINY, "ckpt_every": 2, "log_every": 3})
    with pytest.raises(TrainingDiverged) as info:
        train(cfg)
    msg = str(info.value)
    assert "non-finite loss at step 5" in msg and "instance noise" in msg and "--lr-d" in msg
    assert str(out / "ckpt.pt") in msg and "(step 4)" in msg
    state = read_checkpoint(out / "ckpt.pt")
    assert state["step"] == 4
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())


def test_nan_before_any_checkpoint_writes_nothing(tmp_path, monkeypatch):
    _poison_after(monkeypatch, bad_step=1)
    out = tmp_path / "nan0"
    with pytest.raises(TrainingDiverged, match="step 1 .*no checkpoint was written"):
        train(make_config("infogan", steps=4, out=str(out), **TINY))
    assert not (out / "ckpt.pt").exists()


def _cli():
    return cli.cli


def test_cli_bad_dataset_is_one_line_and_exit_2(tmp_path):
    r = CliRunner().invoke(_cli(), ["train", "--dataset", "basicprop-nope", "--out", str(tmp_path / "x")])
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: unknown dataset 'basicprop-nope'")
    r = CliRunner().invoke(_cli(), ["train", "--set", "lr=1", "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and r.output.startswith("error: unknown config key 'lr'")


def test_cli_train_resume_and_sample(tmp_path):
    out = tmp_path / "run"
    args = ["train", "--preset", "infogan", "--steps", "2", "--batch-size", "16", "--out", str(out),
            "--no-progress", "--set", "eval_size=100"]
    r = CliRunner().invoke(_cli(), args)
    assert r.exit_code == 0, r.output
    assert "checkpoint:" in r.output and "position=" in r.output
    r = CliRunner().invoke(_cli(), ["train", "--out", str(out), "--steps", "3", "--resume", "--no-progress",
                                    "--threads", "2"])
    assert r.exit_code == 0, r.output
    assert torch.get_num_threads() == 2                              # the command line sets it, not the library
    torch.set_num_threads(1)
    assert read_checkpoint(out / "ckpt.pt")["step"] == 3
    png = tmp_path / "grid.png"
    r = CliRunner().invoke(_cli(), ["sample", "--ckpt", str(out / "ckpt.pt"), "--out", str(png), "--n", "20"])
    assert r.exit_code == 0 and png.stat().st_size > 0, r.output
    r = CliRunner().invoke(_cli(), ["sample", "--ckpt", str(out / "ckpt.pt"), "--out", str(png), "--traverse", "5"])
    assert r.exit_code == 2 and "continuous code" in r.output
    r = CliRunner().invoke(_cli(), ["sample", "--ckpt", str(out / "ckpt.pt"), "--out", str(png), "--traverse-cat", "1"])
    assert r.exit_code == 2 and "1 categorical code" in r.output


def test_resume_a_checkpoint_written_before_an_option_existed(tmp_path):
    path = train(make_config("infogan", steps=2, out=str(tmp_path / "old"), **TINY))
    state = read_checkpoint(path)
    del state["config"]["noise_scale"], state["spec"]["noise_scale"]   # as written before noise_scale existed
    save_checkpoint(path, state)
    assert load_checkpoint(path).spec.noise_scale == 1.0
    assert read_checkpoint(train(make_config("infogan", steps=3, out=str(tmp_path / "old"), **TINY),
                                 resume=True))["step"] == 3


def test_cinfogan_trains_on_rectangles_with_left_height_as_label(tmp_path):
    cfg = make_config("cinfogan", condition="left_height", cat=(10,), steps=2, out=str(tmp_path / "c"),
                      **{**TINY, "dataset": "basicprop-rectangles"})
    m = load_checkpoint(train(cfg))
    assert m.spec.cond == 10 and m.dataset_meta["condition_factor"] == "left_height"
    lat = m.sample_latent(4, torch.Generator().manual_seed(0))
    assert lat.y.shape == (4,) and m.generate(lat).shape == (4, 1, 28, 28)
    assert [t.shape for t in m.encode(np.zeros((2, 28, 28), np.uint8)).cat_logits] == [(2, 10)]
    with pytest.raises(ValueError, match="unknown condition factor 'height'"):
        train(make_config("cinfogan", condition="height", steps=1, out=str(tmp_path / "d"),
                          **{**TINY, "dataset": "basicprop-rectangles"}))


def test_two_categorical_codes_get_a_cat0_by_cat1_grid(tmp_path):
    cfg = make_config("infogan-rectangles", steps=2, out=str(tmp_path / "r"),
                      **{**TINY, "dataset": "basicprop-rectangles"})
    train(cfg)
    assert (tmp_path / "r" / "traverse_cat1_000002.png").is_file()
    png = tmp_path / "table.png"
    r = CliRunner().invoke(_cli(), ["sample", "--ckpt", str(tmp_path / "r" / "ckpt.pt"), "--out", str(png),
                                    "--traverse-cat", "1"])
    assert r.exit_code == 0 and "10x10" in r.output, r.output

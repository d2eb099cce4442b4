"""What a training run leaves behind: record kinds, curves.png, kept checkpoints, best.pt, weights-only exports and
TensorBoard scalars (tiny runs on basicprop-line)."""
from __future__ import annotations

import json
import os
import shutil
import sys

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import cli
from gan_models import load_checkpoint, make_config, resume_config, train
from gan_models.checkpoint import RESUME_KEYS, keep_previous, read_checkpoint, save_checkpoint
from gan_models.curves import KINDS, plot_curves, read_log, record_kind

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = dict(dataset="basicprop-line", batch_size=16, log_every=2, eval_every=2, eval_size=100, progress=False)


def scripted(*accuracies):
    """A score_codes answering the given accuracies in turn, with the keys eval's scorer gives (pair key first)."""
    answers = iter(accuracies)

    def score_codes(codes, factors, names):
        value = next(answers)
        return {"acc/cat0/position": value, "acc/position": value}
    return score_codes


def _one_error_line(result, *needles):
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert all(n in lines[0] for n in needles), lines[0]


def test_keep_three_of_five_checkpoints_and_best_follows_the_accuracy(tmp_path):
    out = tmp_path / "run"
    cfg = make_config("infogan", **{**TINY, "eval_every": 4}, steps=10, ckpt_every=2, keep=3, out=str(out))
    train(cfg, score_codes=scripted(0.5, 0.7, 0.7))                 # evaluations at steps 4, 8, 10
    kept = sorted(p.name for p in out.glob("ckpt*.pt"))
    assert kept == ["ckpt.pt", "ckpt_000006.pt", "ckpt_000008.pt"]
    for name, step in (("ckpt.pt", 10), ("ckpt_000006.pt", 6), ("ckpt_000008.pt", 8)):
        state = read_checkpoint(out / name, need=RESUME_KEYS)       # each one a full, resumable checkpoint
        assert state["step"] == step
    # best.pt: the weights at the first maximum (the tie at step 10 does not replace it), weights only
    best, at_8 = read_checkpoint(out / "best.pt"), read_checkpoint(out / "ckpt_000008.pt")
    assert best["step"] == 8 and best["weights_only"] is True and "optims" not in best and "rng" not in best
    assert all(torch.equal(best["model"][k], at_8["model"][k]) for k in at_8["model"])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["best/step"] == 8 and metrics["best/acc/position"] == 0.7 and metrics["acc/position"] == 0.7
    # every record says what it is; the eval records keep their event
    records = read_log(out)
    assert {r["kind"] for r in records} == {"start", "train", "eval"} and set(KINDS) >= {r["kind"] for r in records}
    assert [r["step"] for r in records if r["kind"] == "train"] == [2, 4, 6, 8, 10]
    assert all(("loss/d" in r) == (r["kind"] == "train") for r in records)
    assert all(r.get("event") == r["kind"] for r in records if r["kind"] != "train")
    assert [(r["step"], r["acc/position"]) for r in records if r["kind"] == "eval"] == [(4, 0.5), (8, 0.7),
                                                                                        (10, 0.7)]
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("link", [True, False])
def test_keep_previous_keeps_the_replaced_bytes_and_the_highest_steps(tmp_path, monkeypatch, link):
    if not link:                                                    # a file system without hard links: a copy
        monkeypatch.setattr("os.link", lambda *a: (_ for _ in ()).throw(OSError(1, "not permitted")))
    ckpt = tmp_path / "ckpt.pt"
    for step in (2, 4, 6, 8, 10):
        if ckpt.exists():
            keep_previous(ckpt, step - 2, 2)
        (tmp_path / "new").write_bytes(f"step {step}".encode())
        os.replace(tmp_path / "new", ckpt)                          # as save_checkpoint replaces it
    kept = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert kept == {"ckpt.pt": b"step 10", "ckpt_000006.pt": b"step 6", "ckpt_000008.pt": b"step 8"}
    keep_previous(ckpt, 10, 0)                                      # keep=1 after all: only ckpt.pt
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]


def test_best_survives_resume_and_a_best_written_after_the_checkpoint_is_dropped(tmp_path):
    out = tmp_path / "run"
    train(make_config("infogan", steps=4, out=str(out), **TINY), score_codes=scripted(0.9, 0.1))
    assert not list(out.glob("ckpt_*.pt"))                          # keep=1: ckpt.pt alone
    train(resume_config(out, steps=6), resume=True, score_codes=scripted(0.3))
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["best/step"], metrics["best/acc/position"]) == (2, 0.9)      # carried by the checkpoint
    assert read_checkpoint(out / "best.pt")["step"] == 2
    # a killed run evaluated past its last checkpoint: its best.pt is not the checkpoint's best
    state = read_checkpoint(out / "best.pt")
    save_checkpoint(out / "best.pt", {**state, "step": 7})
    train(resume_config(out, steps=8), resume=True, score_codes=scripted(0.2))
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["best/step"], metrics["best/acc/position"]) == (8, 0.2)
    assert read_checkpoint(out / "best.pt")["step"] == 8


def test_export_samples_like_the_checkpoint_is_smaller_and_does_not_resume(tmp_path):
    run = tmp_path / "run"
    ckpt = train(make_config("infogan", steps=2, out=str(run), **TINY))
    assert not (run / "best.pt").exists() and "best/step" not in json.loads((run / "metrics.json").read_text())
    weights = tmp_path / "weights.pt"
    r = CliRunner().invoke(cli.cli, ["export", str(ckpt), "--out", str(weights)])
    assert r.exit_code == 0, r.output
    full_size, size = ckpt.stat().st_size, weights.stat().st_size
    assert size < full_size / 2                                    # Adam keeps two moments per weight
    state = read_checkpoint(weights)
    assert "optims" not in state and "rng" not in state and state["step"] == 2
    assert state["data_fingerprint"] == read_checkpoint(ckpt)["data_fingerprint"]
    a, b = load_checkpoint(ckpt), load_checkpoint(weights)
    images = [m.generate(m.sample_latent(16, torch.Generator().manual_seed(3))) for m in (a, b)]
    assert torch.equal(images[0], images[1])
    real = np.random.default_rng(0).integers(0, 256, (8, 28, 28), dtype=np.uint8)
    assert torch.equal(a.encode(real).cat_logits[0], b.encode(real).cat_logits[0])
    assert b.metrics == a.metrics and b.spec == a.spec
    r = CliRunner().invoke(cli.cli, ["sample", "--ckpt", str(weights), "--out", str(tmp_path / "s.png")])
    assert r.exit_code == 0, r.output
    # resuming from weights only: one clear line
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(weights, copy / "ckpt.pt")
    with pytest.raises(ValueError, match="weights only .*cannot resume"):
        train(resume_config(copy, steps=4), resume=True)
    _one_error_line(CliRunner().invoke(cli.cli, ["train", "--resume", "--out", str(copy), "--steps", "4"]),
                    "weights only")
    # bad input: nothing written, the checkpoint untouched
    _one_error_line(CliRunner().invoke(cli.cli, ["export", str(tmp_path / "nope.pt"), "--out", str(tmp_path / "x.pt")]))
    _one_error_line(CliRunner().invoke(cli.cli, ["export", str(ckpt), "--out", str(ckpt)]), "the checkpoint itself")
    assert not (tmp_path / "x.pt").exists() and ckpt.stat().st_size == full_size


def _log(path, records):
    path.mkdir(parents=True)
    (path / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records) + '{"step": 9, "loss/d"')


def test_plot_overlays_runs_and_reads_logs_without_kinds(tmp_path):
    new = [{"event": "start", "kind": "start", "step": 0},
           {"kind": "train", "step": 2, "loss/d": 1.5, "loss/g": 0.5, "loss/info": 2.0, "d/real": 0.6, "d/fake": 0.4,
            "mi/cat0": 0.1, "mi/cont0": -0.4, "mi/cont0_fit": -0.2},
           {"kind": "train", "step": 4, "loss/d": 1.25, "loss/g": 0.75, "loss/info": 1.0, "d/real": 0.7,
            "d/fake": 0.3, "mi/cat0": 0.2, "mi/cont0": -0.3, "mi/cont0_fit": -0.1},
           {"event": "eval", "kind": "eval", "step": 4, "acc/cat0/position": 0.3, "acc/position": 0.3,
            "real_mi/cat0": 0.01}]
    old = [{k: v for k, v in r.items() if k != "kind"} for r in new]        # written before records had a kind
    assert [record_kind(r) for r in old] == ["start", "train", "train", "eval"]
    _log(tmp_path / "a", new)
    _log(tmp_path / "b", old)
    fig = plot_curves({"a": read_log(tmp_path / "a"), "b": read_log(tmp_path / "b")})
    panels = {ax.get_title(): ax for ax in fig.axes}
    lines = {ln.get_label(): ln for ln in panels["D and G losses"].get_lines()}
    assert sorted(lines) == ["a: loss/d", "a: loss/g", "b: loss/d", "b: loss/g"]
    assert list(lines["b: loss/d"].get_xdata()) == [2, 4] and list(lines["b: loss/d"].get_ydata()) == [1.5, 1.25]
    assert lines["a: loss/d"].get_color() != lines["b: loss/d"].get_color()
    mi = sorted(ln.get_label() for ln in panels["MI lower bounds per code"].get_lines())
    assert mi == ["a: mi/cat0", "a: mi/cont0", "b: mi/cat0", "b: mi/cont0"]      # fitted-std bounds left out
    acc = {ln.get_label(): ln for ln in panels["Q's accuracy on real images"].get_lines()}
    assert sorted(acc) == ["a: acc/position", "b: acc/position"] and list(acc["a: acc/position"].get_ydata()) == [0.3]
    assert {"D(x)", "D(G(z))"} == {ln.get_label() for ln in
                                   plot_curves({"a": new}).axes[2].get_lines()}
    for ax in fig.axes:
        assert ax.get_xlabel() == "step" and ax.get_ylabel()
    # the command: one PNG; a directory that is no run is one error line and nothing written
    png = tmp_path / "curves.png"
    r = CliRunner().invoke(cli.cli, ["plot", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(png)])
    assert r.exit_code == 0, r.output
    import matplotlib.image
    assert matplotlib.image.imread(png).shape[:2] == (560, 1040)
    (tmp_path / "empty").mkdir()
    bad = tmp_path / "bad.png"
    _one_error_line(CliRunner().invoke(cli.cli, ["plot", str(tmp_path / "a"), str(tmp_path / "empty"), "--out",
                                                 str(bad)]), "no log.jsonl")
    assert not bad.exists()


def test_tensorboard_scalars_follow_the_log_and_resume(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    train(make_config("infogan", steps=4, tensorboard=True, out=str(out), **TINY), score_codes=scripted(0.25, 0.5))
    train(resume_config(out, steps=6), resume=True, score_codes=scripted(0.75))
    acc = EventAccumulator(str(out / "tb"))
    acc.Reload()
    records = read_log(out)
    loss_d = [(r["step"], r["loss/d"]) for r in records if r["kind"] == "train"]
    assert [(e.step, e.value) for e in acc.Scalars("loss/d")] == [(s, pytest.approx(v, rel=1e-6)) for s, v in loss_d]
    assert [s for s, _ in loss_d] == [2, 4, 6]
    assert [(e.step, e.value) for e in acc.Scalars("acc/position")] == [(2, 0.25), (4, 0.5), (6, 0.75)]
    assert "time" not in acc.Tags()["scalars"] and "real_mi/cat0" in acc.Tags()["scalars"]


def test_tensorboard_missing_is_one_line_before_training(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)        # import fails as if not installed
    out = tmp_path / "run"
    with pytest.raises(ValueError, match=r"pip install 'basicprop\[tensorboard\]'"):
        train(make_config("infogan", steps=2, tensorboard=True, out=str(out), **TINY))
    r = CliRunner().invoke(cli.cli, ["train", "--dataset", "basicprop-line", "--steps", "2", "--tensorboard",
                                     "--out", str(out)])
    _one_error_line(r, "pip install 'basicprop[tensorboard]'")
    assert not out.exists()
    _one_error_line(CliRunner().invoke(cli.cli, ["train", "--keep", "0", "--out", str(out)]), "--keep")
    with pytest.raises(ValueError, match="keep"):
        make_config("infogan", keep=0)

"""The trainer's small pieces with known answers: the schedule, the step meter's means and first bad step, the run
log over a stale file, the divergence record and its remedies, and the data fingerprint a checkpoint carries."""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from gan_models import make_config, train
from gan_models.checkpoint import read_checkpoint
from gan_models.trainer import Meter, RunLog, TrainingDiverged, check_finite, schedule

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_schedule_known_answers():
    cfg = make_config(None, dataset="basicprop-line", batch_size=16, epochs=3, out="-")
    assert schedule(cfg, 1000, 0, Path("c.pt")) == (62, 186, 62)      # 1000 // 16 per epoch, 3 epochs
    cfg = make_config(None, dataset="basicprop-line", batch_size=16, steps=10, eval_every=4, out="-")
    assert schedule(cfg, 1000, 0, Path("c.pt")) == (62, 10, 4)        # steps win over epochs
    assert schedule(cfg, 1000, 10, Path("c.pt"))[1] == 10            # a finished run may be resumed: nothing to do
    with pytest.raises(ValueError, match="fewer than batch_size 16"):
        schedule(cfg, 15, 0, Path("c.pt"))
    with pytest.raises(ValueError, match="c.pt has done 11 steps, more than the 10"):
        schedule(cfg, 1000, 11, Path("c.pt"))


def _stats(d: float, g: float = 1.0, info: float = 1.0) -> dict:
    return {"loss/d": torch.tensor(d), "loss/g": torch.tensor(g), "loss/info": torch.tensor(info)}


def test_meter_means_over_each_interval_and_the_first_bad_step():
    meter = Meter(torch.device("cpu"))
    for step, d in enumerate([1.0, 2.0, 3.0, 4.0], start=1):
        meter.add(_stats(d), step)
    assert meter.means()["loss/d"] == pytest.approx(2.5)
    meter.add(_stats(10.0), 5)                                      # the next interval starts afresh
    assert meter.means() == pytest.approx({"loss/d": 10.0, "loss/g": 1.0, "loss/info": 1.0})
    assert int(meter.first_bad) == -1
    meter.add(_stats(1.0, g=float("inf")), 6)
    meter.add(_stats(float("nan")), 7)
    assert int(meter.first_bad) == 6                                # the first, not the last


def test_a_fresh_run_log_replaces_a_stale_file(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text('{"step": 50}\n{"step": 60}\n')                  # left by a run killed before its checkpoint
    RunLog(path).write({"step": 1})
    assert [json.loads(line) for line in path.read_text().splitlines()] == [{"step": 1}]
    RunLog(path, keep_until=0).write({"step": 2})                    # resume at step 0 keeps nothing later
    assert [json.loads(line)["step"] for line in path.read_text().splitlines()] == [2]


def test_divergence_is_logged_and_names_its_remedies(tmp_path):
    cfg = make_config(None, dataset="basicprop-line", out=str(tmp_path / "run"))
    run = SimpleNamespace(step=9, saved_step=8, model=torch.nn.Linear(1, 1), cfg=cfg)
    meter = Meter(torch.device("cpu"))
    meter.add(_stats(float("nan")), 7)
    log = RunLog(tmp_path / "log.jsonl")
    with pytest.raises(TrainingDiverged) as e:
        check_finite(run, meter, False, 400, tmp_path / "ckpt.pt", log)
    record = json.loads((tmp_path / "log.jsonl").read_text().splitlines()[-1])
    assert record["event"] == "diverged" and record["step"] == 7
    message = str(e.value)
    assert f"non-finite loss at step 7 of {cfg.out}" in message and "(step 8)" in message
    assert "--instance-noise-steps 200" in message and f"--lr-d {cfg.lr_d / 2:g}" in message


def test_the_checkpoint_carries_the_data_fingerprint(tmp_path):
    cfg = make_config(None, dataset="basicprop-line", batch_size=16, steps=2, eval_size=50, progress=False,
                      out=str(tmp_path / "run"))
    state = read_checkpoint(train(cfg))
    fp = state["data_fingerprint"]
    assert fp["kind"] == "line" and fp["n"] == 60000 and len(fp["sha256"]) == 64

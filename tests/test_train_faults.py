"""Faults during `train`, with real processes: kill -9, SIGINT and SIGTERM mid-run then resume (bit-identical to an
uninterrupted run), and a second process on the same run directory refused."""
from __future__ import annotations

import json
import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import cli
from basicprop.clitools import StopOnSignal, Terminated
from basicprop.files import FolderLocked
from gan_models import make_config, resume_config, train, trainer
from gan_models.checkpoint import read_checkpoint, save_checkpoint
from gan_models.trainer import check_same_data, data_fingerprint

pytestmark = pytest.mark.usefixtures("one_torch_thread")

REPO = Path(__file__).resolve().parents[1]
STEPS = 10
SETTINGS = dict(dataset="basicprop-line", batch_size=16, steps=STEPS, log_every=1, ckpt_every=4, eval_size=50,
                eval_every=1000, progress=False)
ARGS = ["train", "--dataset", "basicprop-line", "--batch-size", "16", "--steps", str(STEPS), "--log-every", "1",
        "--ckpt-every", "4", "--set", "eval_size=50", "--set", "eval_every=1000", "--no-progress", "--threads", "1"]


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory) -> Path:
    """The run directory of the uninterrupted run (read it, or copy it with ``_copy``)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return train(make_config(None, out=str(tmp_path_factory.mktemp("ref") / "run"), **SETTINGS)).parent
    finally:
        torch.set_num_threads(n)


@pytest.fixture(scope="module")
def reference(reference_run) -> dict:
    """The weights and generator state of the uninterrupted run."""
    return read_checkpoint(reference_run / "ckpt.pt")


def _copy(run: Path, to: Path) -> Path:
    shutil.copytree(run, to, ignore=shutil.ignore_patterns(".lock"))
    return to


def _start(out: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, str(REPO / "cli.py"), *ARGS, "--out", str(out)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _steps_logged(out: Path) -> list[int]:
    try:
        lines = (out / "log.jsonl").read_text().splitlines()
    except FileNotFoundError:
        return []
    return [r["step"] for r in map(json.loads, lines) if "loss/d" in r]


def _wait_for_step(proc: subprocess.Popen, out: Path, step: int, timeout: float = 90) -> None:
    end = time.time() + timeout
    while max(_steps_logged(out), default=0) < step:
        assert proc.poll() is None, proc.communicate()
        assert time.time() < end, "training made no progress"
        time.sleep(0.02)


def _resume_and_compare(out: Path, reference: dict) -> None:
    state = read_checkpoint(train(resume_config(out), resume=True))
    assert state["step"] == STEPS
    assert state["model"].keys() == reference["model"].keys()
    assert all(torch.equal(state["model"][k], reference["model"][k]) for k in state["model"])
    assert torch.equal(state["rng"]["train"], reference["rng"]["train"])
    steps = _steps_logged(out)
    assert steps == list(range(1, STEPS + 1))                   # the log cut back to the resumed step: no repeats


def test_kill_9_mid_run_then_resume_equals_uninterrupted(tmp_path, reference):
    out = tmp_path / "run"
    proc = _start(out)
    _wait_for_step(proc, out, 5)                                 # a checkpoint at step 4 exists
    proc.kill()
    proc.wait()
    assert read_checkpoint(out / "ckpt.pt")["step"] in (4, 8)
    stale = out / ".ckpt.pt.abcd1234.tmp"                         # what a kill during a save leaves
    stale.write_bytes(b"x" * 100)
    _resume_and_compare(out, reference)
    assert not stale.exists()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_saves_at_the_step_boundary_and_resume_is_exact(tmp_path, reference, signum):
    out = tmp_path / "run"
    proc = _start(out)
    _wait_for_step(proc, out, 2)
    if signum == signal.SIGTERM:                                  # one run per directory: a second one is refused
        with pytest.raises(FolderLocked, match=f"run directory .* is in use by process {proc.pid} "):
            train(make_config(None, out=str(out), **SETTINGS))
        r = CliRunner().invoke(cli.cli, [*ARGS, "--out", str(out)])
        assert r.exit_code == 2 and r.output.startswith("error: run directory") and str(proc.pid) in r.output
        assert len(r.output.strip().splitlines()) == 1
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("interrupted: saved") and "--resume" in lines[0], stderr
    stopped = read_checkpoint(out / "ckpt.pt")["step"]
    assert 2 <= stopped < STEPS and f"at step {stopped};" in lines[0]
    assert max(_steps_logged(out)) == stopped                     # saved where it stopped, not a step behind
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    _resume_and_compare(out, reference)


def _one_error_line(result, *needles: str) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    lines = [line for line in result.output.splitlines() if not line.startswith("step ")]   # eval lines are output
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.output, result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def _cli(*args: str):
    return CliRunner().invoke(cli.cli, [str(a) for a in args])


def test_resume_on_other_data_is_refused_naming_what_differs(tmp_path, reference_run):
    out = _copy(reference_run, tmp_path / "run")
    state = read_checkpoint(out / "ckpt.pt")
    state["data_fingerprint"] = {**state["data_fingerprint"], "kind": "rectangles", "sha256": "0" * 64}
    save_checkpoint(out / "ckpt.pt", state)
    line = _one_error_line(_cli("train", "--out", out, "--resume", "--steps", STEPS + 1), "other data")
    assert "kind: 'rectangles' -> 'line'" in line and "sha256: '0000" in line


def test_data_fingerprint_sees_one_changed_label():
    images, factors = np.zeros((100, 28, 28), np.uint8), np.zeros((100, 1), np.int64)
    meta = {"dataset": "x.h5", "kind": "line", "kind_params": {"bg": (0, 60)}, "seed": 0, "factor_sizes": [10]}
    a = data_fingerprint(meta, images, factors)
    assert a == data_fingerprint(meta, images.copy(), factors.copy()) and a["n"] == 100
    factors[7, 0] = 7
    assert data_fingerprint(meta, images, factors)["sha256"] != a["sha256"]
    check_same_data(None, a, Path("old.pt"))                      # checkpoints before fingerprints: no check
    with pytest.raises(ValueError, match="other data.*sha256"):
        check_same_data(a, data_fingerprint(meta, images, factors), Path("ckpt.pt"))


def test_broken_checkpoints_are_one_line_errors(tmp_path, reference_run):
    bare = tmp_path / "bare.pt"
    torch.save({"format": 1}, bare)
    _one_error_line(_cli("sample", "--ckpt", bare, "--out", tmp_path / "x.png"), "incomplete", "'model'")
    state = read_checkpoint(reference_run / "ckpt.pt")
    state["spec"]["noise_dim"] = 10                                # tensors no longer match the code spec
    save_checkpoint(tmp_path / "shape.pt", state)
    _one_error_line(_cli("sample", "--ckpt", tmp_path / "shape.pt", "--out", tmp_path / "x.png"),
                    "does not match the model", "G.fc.0.weight")
    out = tmp_path / "resume"
    out.mkdir()
    torch.save({"format": 1}, out / "ckpt.pt")
    _one_error_line(_cli("train", "--out", out, "--resume"), "incomplete")
    assert not list(tmp_path.glob("*.png"))


@pytest.mark.parametrize("device", ["cuda:abc", "tpu"])
def test_bad_device_names_are_one_line_errors(tmp_path, reference_run, device):
    _one_error_line(_cli(*ARGS, "--out", tmp_path / "run", "--device", device), f"unknown device '{device}'")
    _one_error_line(_cli("sample", "--ckpt", reference_run / "ckpt.pt", "--out", tmp_path / "x.png",
                         "--device", device), f"unknown device '{device}'")


def test_sizes_are_estimated_before_allocating(tmp_path, reference_run):
    _one_error_line(_cli(*ARGS, "--out", tmp_path / "run", "--noise-dim", 10 ** 9), "needs about", "TiB")
    assert not (tmp_path / "run" / "ckpt.pt").exists()
    _one_error_line(_cli("sample", "--ckpt", reference_run / "ckpt.pt", "--out", tmp_path / "x.png",
                         "--n", 10 ** 9), "needs about", "TiB")
    _one_error_line(_cli("sample", "--ckpt", reference_run / "ckpt.pt", "--out", tmp_path / "x.png",
                         "--traverse", 0, "--cols", 10 ** 9), "traversal grid", "needs about")
    _one_error_line(_cli("sample", "--ckpt", reference_run / "ckpt.pt", "--out", tmp_path / "x.png",
                         "--scale", 10 ** 6), "--scale 1000000 needs about")
    assert not (tmp_path / "x.png").exists()


def test_full_disk_during_a_save_keeps_the_previous_checkpoint(tmp_path, reference_run, monkeypatch):
    out = _copy(reference_run, tmp_path / "run")
    before = (out / "ckpt.pt").read_bytes()
    original = Path.write_bytes

    def full_disk(self, data):
        if self.name.startswith(".ckpt.pt."):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return original(self, data)

    monkeypatch.setattr(Path, "write_bytes", full_disk)
    _one_error_line(_cli("train", "--out", out, "--resume", "--steps", STEPS + 1),
                    "No space left on device", "the previous ckpt.pt is intact")
    assert (out / "ckpt.pt").read_bytes() == before
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_silent_no_ops_are_errors(tmp_path, reference_run):
    _one_error_line(_cli("train", "--out", reference_run, "--resume", "--steps", 5),
                    "has done 10 steps, more than the 5 asked for")
    for scale in ("0", "-2"):
        _one_error_line(_cli("sample", "--ckpt", reference_run / "ckpt.pt", "--out", tmp_path / "x.png",
                             "--scale", scale), "--scale")
    _one_error_line(_cli(*ARGS, "--out", tmp_path / "run", "--threads", -3), "threads must be >= 0")


def test_a_checkpoint_with_another_devices_generator_state_resumes_here(tmp_path, reference_run):
    """A CUDA generator's state (16 bytes: seed and offset) cannot drive a CPU generator: resuming reseeds it."""
    out = _copy(reference_run, tmp_path / "run")
    state = read_checkpoint(out / "ckpt.pt")
    state["rng"] = {"train": torch.zeros(16, dtype=torch.uint8), "device": "cuda",
                    "cuda_rng": torch.zeros(16, dtype=torch.uint8)}
    save_checkpoint(out / "ckpt.pt", state)
    resumed = read_checkpoint(train(resume_config(out, steps=STEPS + 1), resume=True))
    assert resumed["step"] == STEPS + 1 and resumed["rng"]["device"] == "cpu"
    start = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()][-3]
    assert start["event"] == "start" and start["rng_continued"] is False


def test_ctrl_c_during_start_up_is_one_line_and_a_bug_keeps_its_traceback(tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(trainer, "load_data", interrupted)
    r = _cli(*ARGS, "--out", tmp_path / "run")
    assert r.exit_code == 130 and r.output.strip() == "aborted" and "Traceback" not in r.output

    def bug(*args, **kwargs):
        raise RuntimeError("a genuine bug")

    monkeypatch.setattr(trainer, "load_data", bug)
    r = _cli(*ARGS, "--out", tmp_path / "run2")
    assert r.exit_code == 1 and isinstance(r.exception, RuntimeError)


def test_the_signal_handler_stops_at_a_boundary_once_training_runs():
    stop = StopOnSignal()
    with pytest.raises(KeyboardInterrupt):                      # start-up: at once
        stop.handle(signal.SIGINT, None)
    assert stop() is False                                       # the loop polls: from now on, at a step boundary
    stop.handle(signal.SIGTERM, None)
    assert stop() is True and stop.signum == signal.SIGTERM
    with pytest.raises(Terminated):                              # a second signal: at once
        stop.handle(signal.SIGTERM, None)


def test_an_optimizer_state_that_does_not_fit_is_a_one_line_error(tmp_path, reference_run):
    out = _copy(reference_run, tmp_path / "run")
    state = read_checkpoint(out / "ckpt.pt")
    state["optims"]["G"]["state"][0]["exp_avg"] = torch.zeros(3, 3)
    save_checkpoint(out / "ckpt.pt", state)
    _one_error_line(_cli("train", "--out", out, "--resume", "--steps", STEPS + 1), "G optimizer state does not fit")


def test_run_files_take_the_umask_permissions(reference_run):
    mask = os.umask(0)
    os.umask(mask)
    for name in ("ckpt.pt", "log.jsonl", "config.json", "metrics.json", "samples_000010.png"):
        assert (reference_run / name).stat().st_mode & 0o777 == 0o666 & ~mask, name

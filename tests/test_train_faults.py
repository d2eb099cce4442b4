"""Faults during `train`, with real processes: kill -9, SIGINT and SIGTERM mid-run then resume (bit-identical to an
uninterrupted run), and a second process on the same run directory refused."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import cli
from basicprop.files import FolderLocked
from gan_models import make_config, resume_config, train
from gan_models.checkpoint import read_checkpoint

pytestmark = pytest.mark.usefixtures("one_torch_thread")

REPO = Path(__file__).resolve().parents[1]
STEPS = 10
SETTINGS = dict(dataset="basicprop-line", batch_size=16, steps=STEPS, log_every=1, ckpt_every=4, eval_size=50,
                eval_every=1000, progress=False)
ARGS = ["train", "--dataset", "basicprop-line", "--batch-size", "16", "--steps", str(STEPS), "--log-every", "1",
        "--ckpt-every", "4", "--set", "eval_size=50", "--set", "eval_every=1000", "--no-progress", "--threads", "1"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    """The weights and generator state of the uninterrupted run."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        state = read_checkpoint(train(make_config(None, out=str(tmp_path_factory.mktemp("ref") / "run"), **SETTINGS)))
    finally:
        torch.set_num_threads(n)
    return state


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

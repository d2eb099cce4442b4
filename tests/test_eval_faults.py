"""`python -m eval disentangle` under faults a user can cause: a damaged checkpoint, an absurd size, a second
process on the same output folder, Ctrl-C and SIGTERM. Each ends in one line, exit 2 (130 / 143 for the signals),
and leaves no temp file behind."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from basicprop import files
from eval.cli import group

REPO = Path(__file__).resolve().parents[1]
QUICK = ["--device", "cpu", "--n-samples", "200", "--measure", "analytic", "--no-dci", "--no-mlp", "--no-sap",
         "--traversal-bases", "2"]


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    import gan_models
    out = tmp_path_factory.mktemp("tiny")
    cfg = gan_models.make_config("infogan", dataset="basicprop-line", out=str(out / "run"), steps=1, batch_size=8,
                                 eval_size=50, eval_every=1000, progress=False, device="cpu")
    return Path(gan_models.train(cfg))


def one_error_line(args: list[str]) -> str:
    result = CliRunner().invoke(group, args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_checkpoint_missing_keys_is_one_line(tmp_path):
    torch.save({"format": 1}, tmp_path / "keys.pt")
    line = one_error_line(["disentangle", "--ckpt", str(tmp_path / "keys.pt"), "--out", str(tmp_path / "ev")])
    assert "keys.pt" in line


def test_checkpoint_with_wrong_tensor_shapes_is_one_line(ckpt, tmp_path):
    state = torch.load(ckpt, weights_only=True)
    name = next(k for k, v in state["model"].items() if v.dim() == 2)
    state["model"][name] = torch.zeros(3, 3)
    torch.save(state, tmp_path / "shapes.pt")
    line = one_error_line(["disentangle", "--ckpt", str(tmp_path / "shapes.pt"), "--out", str(tmp_path / "ev")])
    assert "shapes.pt" in line


@pytest.mark.parametrize("flag, value", [("--n-samples", "1000000000"), ("--n-samples", "10000000000000000"),
                                         ("--traversal-bases", "1000000000000")])
def test_absurd_sizes_refused_with_the_estimate_before_anything_is_written(ckpt, tmp_path, flag, value):
    line = one_error_line(["disentangle", "--ckpt", str(ckpt), "--out", str(tmp_path / "ev"), flag, value])
    assert re.search(r"needs about [\d.]+ [KMGTPE]iB of memory", line) and value in line
    assert not (tmp_path / "ev").exists()


@pytest.mark.parametrize("device", ["tpu", "cuda:abc"])
def test_bad_device_is_one_line(ckpt, tmp_path, device):
    assert "device" in one_error_line(["disentangle", "--ckpt", str(ckpt), "--device", device])


def test_second_process_on_the_same_output_folder_is_refused(ckpt, tmp_path):
    out = tmp_path / "ev"
    with files.folder_lock(out, "output folder"):
        line = one_error_line(["disentangle", "--ckpt", str(ckpt), "--out", str(out), *QUICK])
    assert "in use by process" in line
    assert not (out / "report.json").exists()


# Sends the signal to itself while the first picture's temp file is written: atomic_path must remove it.
SIGNAL_DURING_WRITE = """
import os, signal, sys, time
import matplotlib.figure
save = matplotlib.figure.Figure.savefig
def savefig(self, *args, **kwargs):
    save(self, *args, **kwargs)
    os.kill(os.getpid(), signal.{sig})
    time.sleep(30)
matplotlib.figure.Figure.savefig = savefig
from eval.cli import group
group(sys.argv[1:], prog_name="python -m eval")
"""


@pytest.mark.parametrize("sig, code, message", [("SIGTERM", 143, "terminated"), ("SIGINT", 130, "aborted")])
def test_a_signal_while_writing_leaves_no_temp_file(ckpt, tmp_path, sig, code, message):
    out = tmp_path / "ev"
    proc = subprocess.run([sys.executable, "-c", SIGNAL_DURING_WRITE.format(sig=sig), "disentangle", "--ckpt",
                           str(ckpt), "--out", str(out), *QUICK], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == code, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == message
    assert sorted(p.name for p in out.iterdir()) == [files.LOCK_NAME]   # no temp file, no half report

"""The top-level command line: one group mounting basicprop, gan_models and eval, with one-line user errors."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import cli
from eval.clustering import code_factor_accuracy

REPO = Path(__file__).resolve().parents[1]


def test_bare_group_prints_help_and_exits_zero():
    result = CliRunner().invoke(cli.cli, [])
    assert result.exit_code == 0
    assert "Usage:" in result.output
    for command in ("make", "preview", "info", "train", "sample", "eval", "demo"):
        assert command in result.output


def test_user_error_is_one_line_and_exit_2(tmp_path):
    result = CliRunner().invoke(cli.cli, ["make", "--kind", "line", "--out", str(tmp_path / "x.h5"), "--n-train", "0"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:")
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_three_entry_points_write_the_same_bytes(tmp_path):
    """`python cli.py make`, `python -m basicprop make` and the `basicprop` script reach the same code."""
    args = ["make", "--kind", "rectangles", "--n-train", "200", "--n-test", "100", "--seed", "3"]
    outs = [tmp_path / f"{name}.npz" for name in ("cli", "module", "script")]
    commands = [[sys.executable, str(REPO / "cli.py")], [sys.executable, "-m", "basicprop"]]
    script = Path(sys.executable).with_name("basicprop")
    commands.append([str(script)] if script.exists() else [sys.executable, "-m", "basicprop"])
    for command, out in zip(commands, outs):
        subprocess.run([*command, *args, "--out", str(out)], check=True, cwd=REPO, capture_output=True)
    first = outs[0].read_bytes()
    assert all(out.read_bytes() == first for out in outs[1:])


def test_training_scorer_is_eval_hungarian_matching():
    """The scorer the command line hands to training: eval's Hungarian accuracy, one code per factor."""
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 10, 2000)
    perm = rng.permutation(10)
    factors = np.stack([truth, rng.integers(0, 10, 2000)], 1)
    acc = code_factor_accuracy(np.stack([factors[:, 1], perm[truth]], 1), factors, ("a", "b"))
    assert acc["acc/a"] == 1.0 and acc["acc/b"] == 1.0 and acc["acc/cat0/a"] < 0.2
    one = code_factor_accuracy(np.zeros((2000, 1), int), factors[:, :1], ("a",))
    assert one["acc/a"] < 0.15                                # one cluster can match one class only
    assert code_factor_accuracy(np.zeros((5, 0), int), factors[:5], ("a", "b")) == {}


def test_installed_command_runs_every_command_outside_the_repository(tmp_path):
    """`pip install` puts a `basicprop` command beside the interpreter: it needs no cli.py in the working folder."""
    exe = Path(sys.executable).with_name("basicprop")
    if not exe.is_file():
        pytest.skip("the package is not installed in this interpreter's environment")
    res = subprocess.run([str(exe), "--help"], cwd=tmp_path, capture_output=True, text=True)
    assert res.returncode == 0
    for command in ("train", "sample", "eval", "study", "demo", "make", "preview", "info"):
        assert f"  {command} " in res.stdout
    bad = subprocess.run([str(exe), "make", "--kind", "nope", "--out", "x.h5"], cwd=tmp_path, capture_output=True,
                         text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("error:") and not (tmp_path / "x.h5").exists()

"""The top-level command line: one group mounting basicprop, gan_models and eval, with one-line user errors."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

import cli

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

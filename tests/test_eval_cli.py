"""`python -m eval score` / `python -m eval disentangle` command lines: outputs, and one-line errors (exit 2)."""
from __future__ import annotations

import io
import json
import resource
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np
import pytest
from click.testing import CliRunner

from eval.cli import group

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def arrays(tmp_path):
    rng = np.random.default_rng(0)
    f = rng.integers(0, 5, (600, 2))
    codes = np.c_[f[:, 0], f[:, 1] + rng.normal(0, 0.05, 600)]
    np.save(tmp_path / "codes.npy", codes)
    np.save(tmp_path / "factors.npy", f)
    np.save(tmp_path / "short.npy", codes[:10])
    return tmp_path


def run(*args):
    result = CliRunner().invoke(group, list(args), prog_name="python -m eval")
    return result.exit_code, result.output


def test_score_prints_table_and_writes_json_and_heatmap(arrays):
    code, out = run("score", "--codes", str(arrays / "codes.npy"), "--factors", str(arrays / "factors.npy"),
                    "--json", str(arrays / "r.json"), "--heatmap", str(arrays / "mi.png"), "--no-dci", "--no-mlp",
                    "--code-names", "a,b", "--factor-names", "x,y")
    assert code == 0, out
    assert "MIG" in out and "best factor" in out
    rep = json.loads((arrays / "r.json").read_text())
    assert rep["mig"] > 0.95 and rep["code_names"] == ["a", "b"] and rep["code_discrete"] == [True, False]
    assert rep["setting.dci"] is False and rep["version.numpy"]
    assert (arrays / "mi.png").stat().st_size > 1000


def test_score_as_python_module(arrays):
    proc = subprocess.run([sys.executable, "-m", "eval", "score", "--codes", str(arrays / "codes.npy"),
                           "--factors", str(arrays / "factors.npy"), "--no-dci", "--no-probes"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "MIG" in proc.stdout


@pytest.mark.parametrize("codes, factors, extra, message", [
    ("missing.npy", "factors.npy", [], "not found"),
    ("short.npy", "factors.npy", [], "samples"),
    ("codes.npy", "codes.npy", [], "integer"),
    ("codes.npy", "factors.npy", ["--discrete", "0,7"], "out of range"),
    ("codes.npy", "factors.npy", ["--code-names", "a"], "names"),
])
def test_score_bad_input_one_line_exit_2(arrays, codes, factors, extra, message):
    result = CliRunner().invoke(group, ["score", "--codes", str(arrays / codes), "--factors", str(arrays / factors),
                                        *extra])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], result.stderr


def huge_header(rows: int) -> bytes:
    """An .npy header declaring ``rows`` × 10 float64, followed by 100 bytes."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": (rows, 10)})
    return buf.getvalue() + bytes(100)


@pytest.mark.parametrize("name", ["codes.npy", "codes.npz"])
@pytest.mark.parametrize("rows", [10**9, 3])
def test_array_headers_are_checked_before_reading(arrays, name, rows):
    """A header that declares more (or less) data than the file holds is refused in one line, allocating nothing."""
    bad = arrays / "bad" / name
    bad.parent.mkdir()
    if name.endswith(".npz"):
        with zipfile.ZipFile(bad, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("codes.npy", huge_header(rows))
    else:
        bad.write_bytes(huge_header(rows))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = CliRunner().invoke(group, ["score", "--codes", str(bad), "--factors", str(arrays / "factors.npy")])
    assert result.exit_code == 2, result.output
    assert "declares shape" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000     # kB: < 100 MB


def test_score_bad_input_from_the_shell(arrays):
    proc = subprocess.run([sys.executable, "-m", "eval", "score", "--codes", str(arrays / "missing.npy"),
                           "--factors", str(arrays / "factors.npy")], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"error: codes file not found: {arrays / 'missing.npy'}"]


def test_disentangle_missing_checkpoint_exit_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "eval", "disentangle", "--ckpt", str(tmp_path / "nope.pt")],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr


def test_options_are_built_from_the_config_fields_and_type_hints():
    from eval.cli import config_option, disentangle_command
    from eval.config import MEASURE_CHOICES, DisentangleConfig

    options = {p.name: p for p in disentangle_command.params}
    cli_only = {"out_dir", "json_path", "plots"}
    not_options = {"classifier", "grid_bases", "grid_columns"}
    assert set(options) - cli_only == {f for f in DisentangleConfig.__dataclass_fields__} - not_options
    assert options["sap"].secondary_opts == ["--no-sap"]                      # bool -> --x/--no-x
    assert options["dci_max_train"].type.name == "integer"                    # int | None -> int
    assert options["dataset"].default is None and options["dataset"].type.name == "text"
    assert tuple(options["measure"].type.choices) == MEASURE_CHOICES

    @dataclass(frozen=True)
    class Settings:
        steps: int | None = None
        rate: float = 0.5

    @click.command()
    @config_option(Settings, "steps")
    @config_option(Settings, "rate")
    def command(steps, rate):
        click.echo(f"{steps!r} {rate!r}")

    assert CliRunner().invoke(command, []).output == "None 0.5\n"           # defaults from the dataclass
    assert CliRunner().invoke(command, ["--steps", "3", "--rate", "2"]).output == "3 2.0\n"


def test_score_through_the_top_level_cli(arrays):
    proc = subprocess.run([sys.executable, "cli.py", "eval", "score", "--codes", str(arrays / "codes.npy"),
                           "--factors", str(arrays / "factors.npy"), "--no-dci", "--no-probes"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "MIG" in proc.stdout

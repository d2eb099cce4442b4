"""The basicprop commands through click's CliRunner: outputs, and bad input -> one line, exit 2, no file left."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from basicprop.cli import main
from basicprop.datasets import load_dataset

SMALL = ["--n-train", "200", "--n-test", "50"]


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_make_info_preview(tmp_path):
    out = tmp_path / "rect.h5"
    r = run("make", "--kind", "rectangles", "--out", out, "--bg-noise", "on", "--seed", 4, *SMALL)
    assert r.exit_code == 0, r.output
    assert "wrote" in r.stdout and "rectangles" in r.stdout
    ds = load_dataset(out, "test")
    assert len(ds) == 50 and ds.kind().bg_noise == (0, 60) and ds.meta["seed"] == 4

    r = run("info", out)
    assert r.exit_code == 0, r.output
    for text in ("kind        rectangles", "train 200, test 50", "left_height", "right_height", "100 (label",
                 "pixel values"):
        assert text in r.stdout

    r = run("preview", out, "--out", tmp_path / "p.png", "--scale", 1)
    assert r.exit_code == 0, r.output
    picture = np.asarray(Image.open(tmp_path / "p.png"))
    assert picture.shape == (10 * 30 + 2, 10 * 30 + 2)


def test_preview_kind_is_ordered_by_factors(tmp_path):
    r = run("preview", "rectangles", "--out", tmp_path / "k.png", "--fg-noise", "off", "--scale", 1)
    assert r.exit_code == 0, r.output
    picture = np.asarray(Image.open(tmp_path / "k.png"))
    cell = lambda i, j: picture[2 + 30 * i: 30 + 30 * i, 2 + 30 * j: 30 + 30 * j]  # noqa: E731
    # row = left height index, column = right height index
    assert (cell(0, 0) > 0).sum() == 2 * 3 * 10 and (cell(9, 9) > 0).sum() == 2 * 21 * 10
    assert (cell(9, 0)[:, 3:13] > 0).sum() == 21 * 10 and (cell(9, 0)[:, 15:25] > 0).sum() == 3 * 10


def test_make_idx_and_npz_and_params(tmp_path):
    assert run("make", "-k", "colorings", "-o", tmp_path / "c", "-p", "levels=[0.5,1.0]", *SMALL).exit_code == 0
    assert load_dataset(tmp_path / "c").factor_sizes == (10, 2)
    assert run("make", "-k", "line", "-o", tmp_path / "l.npz", "--fg-noise", "off", *SMALL).exit_code == 0
    assert set(np.unique(load_dataset(tmp_path / "l.npz").images)) == {0, 255}
    r = run("make", "-k", "line", "-o", tmp_path / "data", "--format", "h5", *SMALL)
    assert r.exit_code == 0 and load_dataset(tmp_path / "data", "test") is not None


def bad_cases(tmp_path):
    (tmp_path / "exists.h5").write_bytes(b"keep me")
    (tmp_path / "afile").write_text("x")
    (tmp_path / "corrupt.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    (tmp_path / "foreign.npz").write_bytes(b"PK\x03\x04 not really")
    make = ["make", "-k", "line", *SMALL]
    return {
        "unknown kind": ["make", "-k", "circles", "-o", tmp_path / "x.h5"],
        "zero n-train": [*make, "-o", tmp_path / "x.h5", "--n-train", "0"],
        "negative n-test": [*make, "-o", tmp_path / "x.h5", "--n-test", "-3"],
        "noise out of range": [*make, "-o", tmp_path / "x.h5", "--fg-noise", "150,300"],
        "empty noise range": [*make, "-o", tmp_path / "x.h5", "--bg-noise", "60,60"],
        "noise not numbers": [*make, "-o", tmp_path / "x.h5", "--bg-noise", "lots"],
        "existing output": [*make, "-o", tmp_path / "exists.h5"],
        "unwritable directory": [*make, "-o", tmp_path / "afile" / "x.h5"],
        "missing directory": [*make, "-o", tmp_path / "no" / "x.h5"],
        "unknown extension": [*make, "-o", tmp_path / "x.tiff"],
        "unknown format": [*make, "-o", tmp_path / "x.h5", "--format", "tiff"],
        "unknown parameter": [*make, "-o", tmp_path / "x.h5", "-p", "levels=[0.5]"],
        "corrupted info": ["info", tmp_path / "corrupt.h5"],
        "foreign info": ["info", tmp_path / "foreign.npz"],
        "missing info": ["info", tmp_path / "nothing.h5"],
        "preview not png": ["preview", "line", "-o", tmp_path / "x.jpg"],
        "preview unknown": ["preview", "circles", "-o", tmp_path / "x.png"],
        "preview existing": ["preview", "line", "-o", tmp_path / "exists.h5"],
    }


def test_bad_input_one_line_exit_2_nothing_written(tmp_path):
    for case, args in bad_cases(tmp_path).items():
        before = sorted(p.name for p in tmp_path.rglob("*"))
        r = run(*args)
        assert r.exit_code == 2, (case, r.output)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (case, r.stderr)
        assert "Traceback" not in r.output
        assert sorted(p.name for p in tmp_path.rglob("*")) == before, case
    assert (tmp_path / "exists.h5").read_bytes() == b"keep me"


def test_force_overwrites(tmp_path):
    out = tmp_path / "x.h5"
    out.write_bytes(b"old")
    assert run("make", "-k", "line", "-o", out, "--force", *SMALL).exit_code == 0
    assert len(load_dataset(out)) == 200


@pytest.mark.slow
def test_python_dash_m_and_fast_import():
    r = subprocess.run([sys.executable, "-m", "basicprop", "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "make" in r.stdout and "preview" in r.stdout and "info" in r.stdout
    code = "import sys, basicprop.cli, basicprop.generate; print('torch' in sys.modules, 'h5py' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.split() == ["False", "False"]

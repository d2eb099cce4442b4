"""The basicprop commands through click's CliRunner: outputs, and bad input -> one line, exit 2, no file left."""
from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

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
    assert r.exit_code == 0 and (tmp_path / "data").read_bytes()[:8] == b"\x89HDF\r\n\x1a\n"
    assert len(load_dataset(tmp_path / "data", "test")) == 50


def bad_cases(tmp_path):
    (tmp_path / "exists.h5").write_bytes(b"keep me")
    (tmp_path / "afile").write_text("x")
    (tmp_path / "corrupt.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    (tmp_path / "foreign.npz").write_bytes(b"PK\x03\x04 not really")
    os.mkfifo(tmp_path / "fifo.h5")
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
        "absurd n-train": [*make, "-o", tmp_path / "x.h5", "--n-train", "1000000000000"],
        "absurd n-test idx": [*make, "-o", tmp_path / "x", "--n-test", "99999999999"],
        "corrupted info": ["info", tmp_path / "corrupt.h5"],
        "foreign info": ["info", tmp_path / "foreign.npz"],
        "missing info": ["info", tmp_path / "nothing.h5"],
        "fifo info": ["info", tmp_path / "fifo.h5"],
        "device info": ["info", "/dev/zero"],
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


def test_absurd_sizes_refused_with_the_estimate(tmp_path):
    r = run("make", "-k", "shapes", "-o", tmp_path / "x.npz", "--n-train", "1000000000000")
    assert r.exit_code == 2 and r.stderr.count("\n") == 1
    assert "1,000,000,010,000 images" in r.stderr and "needs about 1.4 PiB of memory" in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_outputs_follow_the_umask_and_stale_temps_go(tmp_path):
    old_temp = tmp_path / ".x.h5.k3j2h1g0.tmp"
    old_temp.write_bytes(b"left by a killed writer")
    os.utime(old_temp, (time.time() - 2 * 86400,) * 2)
    live_temp = tmp_path / ".x.h5.a1b2c3d4.tmp"  # young: perhaps another writer's
    live_temp.write_bytes(b"")
    old_dir = tmp_path / ".idx.abcdefgh.tmp"
    old_dir.mkdir()
    os.utime(old_dir, (time.time() - 2 * 86400,) * 2)
    mask = os.umask(0o027)
    try:
        assert run("make", "-k", "line", "-o", tmp_path / "x.h5", *SMALL).exit_code == 0
        assert run("make", "-k", "line", "-o", tmp_path / "idx", *SMALL).exit_code == 0
    finally:
        os.umask(mask)
    assert sorted(p.name for p in tmp_path.iterdir()) == [live_temp.name, "idx", "x.h5"]
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    assert mode(tmp_path / "x.h5") == 0o640 and mode(tmp_path / "idx") == 0o750
    assert {mode(p) for p in (tmp_path / "idx").iterdir()} == {0o640}


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_during_make_leaves_no_temp(tmp_path, signum, code):
    """A real process, signalled while its temp folder exists: one line, the signal's exit status, nothing left."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    cmd = [sys.executable, "-m", "basicprop", "make", "-k", "line", "-o", tmp_path / "idx", "--n-train", "60000"]
    proc = subprocess.Popen([str(c) for c in cmd], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".idx.*.tmp")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    assert proc.poll() is None, "make ended before its temp folder was seen"
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert err.strip() in ("terminated", "aborted") and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


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

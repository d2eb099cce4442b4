"""benchmarks/code_layout.py: which code value Q gives each cell of two factors."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from code_layout import format_layout, layout  # noqa: E402

CELLS = np.array([(r, c) for r in range(4) for c in range(5)])        # one image per cell of a 4 x 5 grid


def test_a_code_that_reads_the_rows_gives_each_row_its_own_value():
    codes = np.array([3, 1, 0, 2])[CELLS[:, 0]]
    majority, share = layout(codes, CELLS, (4, 5))
    assert (majority == np.array([3, 1, 0, 2])[:, None]).all() and (share == 1).all()


def test_two_rows_read_as_one_value_and_a_split_cell_show_up():
    factors = np.repeat(CELLS, 4, axis=0)                              # four images per cell
    codes = np.where(factors[:, 0] == 1, 0, factors[:, 0])            # row 1 read as row 0's value
    codes[(factors[:, 0] == 2) & (factors[:, 1] == 4)] = [2, 2, 2, 3]   # one image of cell (2, 4) read as row 3
    majority, share = layout(codes, factors, (4, 5))
    assert list(majority[:, 0]) == [0, 0, 2, 3] and majority[2, 4] == 2
    assert share[2, 4] == 0.75 and np.nansum(share == 1) == 19


def test_ties_take_the_smaller_value_and_empty_cells_are_marked():
    majority, share = layout(np.array([4, 1]), np.array([[0, 0], [0, 0]]), (2, 2))
    assert majority[0, 0] == 1 and share[0, 0] == 0.5
    assert (majority.ravel()[1:] == -1).all() and np.isnan(share.ravel()[1:]).all()
    text = format_layout({"factors": ("shape", "size"), "codes": {"cat0": (majority, share)}})
    lines = text.splitlines()
    assert lines[1].split() == ["shape", "0:", "1", "(0.50)", "-"] and lines[2].split() == ["shape", "1:", "-", "-"]
    assert len(lines[1]) == len(lines[2])                                # the columns line up


def test_bad_shapes_and_bad_options_are_refused():
    with pytest.raises(ValueError, match="need codes"):
        layout(np.zeros(3, int), np.zeros((3, 3), int), (2, 2))
    for args, message in ((["--n", "0"], "--n must be at least 1"), ([], "no such checkpoint")):
        r = subprocess.run([sys.executable, str(REPO / "benchmarks" / "code_layout.py"), "missing.pt", *args],
                           capture_output=True, text=True, cwd=REPO, timeout=120)
        assert r.returncode == 2 and r.stderr.startswith("error:") and message in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1

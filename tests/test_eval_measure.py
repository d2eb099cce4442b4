"""Pixel measurements of factors pinned to pixels, and the measurer built for each kind."""
from __future__ import annotations

import numpy as np
import pytest
from basicprop import get_kind
from eval.measure import build_measurer, line_position, rectangle_heights, slant_width


@pytest.mark.parametrize("params", [{}, {"bg_noise": [0, 60]}, {"fg_noise": None}])
def test_line_and_rectangles_measured_exactly(params):
    rng = np.random.default_rng(0)
    line = get_kind("line", **params)
    f = line.sample_factors(500, rng)
    assert (line_position(line.render(f, rng)) == f[:, 0]).all()
    rect = get_kind("rectangles", **params)
    f = rect.sample_factors(500, rng)
    assert (rectangle_heights(rect.render(f, rng)) == f).all()


def test_empty_image_is_unmeasurable():
    blank = np.zeros((2, 28, 28), np.uint8)
    assert line_position(blank).tolist() == [-1, -1]
    assert rectangle_heights(blank).tolist() == [[-1, -1], [-1, -1]]
    assert slant_width(blank).tolist() == [[0.0, 0.0], [0.0, 0.0]]


def sheared_bar(shear: float, half_width: int = 1) -> np.ndarray:
    """A vertical bar whose column shifts by ``shear`` px per row going up (> 0 leans right like '/')."""
    img = np.zeros((28, 28), np.uint8)
    for r in range(4, 24):
        c = int(round(14 + shear * (14 - r)))
        img[r, c - half_width:c + half_width + 1] = 255
    return img


def test_slant_and_width_from_moments():
    sw = slant_width(np.stack([sheared_bar(0.0), sheared_bar(0.3), sheared_bar(-0.3), sheared_bar(0.0, 3)]))
    assert sw[0, 0] == pytest.approx(0.0, abs=1e-9)
    assert sw[1, 0] == pytest.approx(0.3, abs=0.03) and sw[2, 0] == pytest.approx(-0.3, abs=0.03)
    assert sw[3, 1] > 2 * sw[0, 1]                       # a wider bar is wider
    assert sw[1, 1] == pytest.approx(sw[0, 1], abs=0.1)  # the slant is removed before measuring width


def test_measurer_takes_generator_output_and_refuses_other_sizes():
    rng = np.random.default_rng(0)
    rect = get_kind("rectangles")
    f = rect.sample_factors(50, rng)
    floats = rect.render(f, rng).astype(np.float32)[:, None] / 255.0   # (n, 1, 28, 28) in [0, 1], as G gives
    m = build_measurer({"kind": "rectangles", "kind_params": {}}, use_classifiers=False)
    got = m.measure(floats)
    assert (np.stack([got["left_height"], got["right_height"]], axis=1) == f).all()
    with pytest.raises(ValueError, match="28, 28"):
        m.measure(np.zeros((3, 32, 32), np.uint8))


def test_measurer_analytic_only_refuses_kinds_without_measurements():
    with pytest.raises(ValueError, match="analytic"):
        build_measurer({"kind": "mnist"}, use_classifiers=False)
    m = build_measurer({"kind": "rectangles", "kind_params": {}}, use_classifiers=False)
    assert m.names == ["left_height", "right_height"]

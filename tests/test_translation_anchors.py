"""benchmarks/translation_anchors.py: which edge each value of a translation generator's x and y codes pins."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from gan_models.latent import CodeSpec

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from translation_anchors import generator_anchors  # noqa: E402

SPEC = CodeSpec(4, (3, 8, 8), 0, 0)
SIDES = (4, 6, 8)


def _squares(x_rule, y_rule):
    """A generator of translation squares: side from the size code, left column x_rule(x value, side), top row
    y_rule(y value, side); the noise z is ignored."""
    def generate(inp: torch.Tensor) -> torch.Tensor:
        size, x, y = (inp[:, start:start + k].argmax(1) for start, k in ((4, 3), (7, 8), (15, 8)))
        out = torch.zeros(len(inp), 1, 28, 28)
        for i in range(len(inp)):
            side = SIDES[int(size[i])]
            left, top = x_rule(int(x[i]), side), y_rule(int(y[i]), side)
            out[i, 0, top:top + side, left:left + side] = 0.8
        return out
    return generate


def test_the_dataset_rule_pins_the_left_and_top_edges():
    found = generator_anchors(_squares(lambda v, s: 3 + 2 * v, lambda v, s: 3 + 2 * v), SPEC, n=600)
    assert found == {"x": ["start"] * 8, "y": ["start"] * 8}


def test_values_that_pin_the_far_edge_or_nothing_are_told_apart():
    # x: even values keep the left column, odd ones the right column (left = right - side + 1);
    # y: value 0 follows the size with its centre, value 1 with nothing (top row from the side at random-ish)
    def x_rule(v, side):
        return 3 + 2 * v if v % 2 == 0 else 3 + 2 * v + 8 - side

    def y_rule(v, side):
        return {0: 12 - side // 2, 1: {4: 3, 6: 9, 8: 15}[side]}.get(v, 3 + 2 * v)
    found = generator_anchors(_squares(x_rule, y_rule), SPEC, n=800)
    assert found["x"] == ["start", "end"] * 4
    assert found["y"][:2] == ["centre", "mixed"] and found["y"][2:] == ["start"] * 6


def test_a_layout_that_is_not_translation_is_refused():
    with pytest.raises(ValueError, match="not a translation layout"):
        generator_anchors(_squares(lambda v, s: 3, lambda v, s: 3), CodeSpec(4, (10,), 0, 0))

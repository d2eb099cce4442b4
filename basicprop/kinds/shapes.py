"""``shapes`` (BasicProp++, "alternating shapes"): one of four shapes at one of five sizes, centred.

Factor ``shape`` = 0..3: square, disc, triangle, cross. Factor ``size`` = 0..4: ``6 + 4i`` px (6, 10, 14, 18, 22).
Every shape fills a bounding box of exactly size x size pixels centred on the corner point (14, 14): rows and
columns ``14 - s/2 .. 14 + s/2 - 1``.

- square: the whole box;
- disc: pixels whose centre lies within distance s/2 of (14, 14);
- triangle: pointing up; row t of the box (t = 0 at the top) holds the pixels whose centre is within (t + 1)/2 of
  column 14, so rows widen 2, 2, 4, 4, ... up to s at the base;
- cross: a plus sign of two bars through the centre, each ``2 * max(1, round(s / 6))`` px thick, spanning the box.

Label = ``5 * shape + size`` (20 classes).
"""
from __future__ import annotations

import numpy as np

from basicprop.kinds.base import Kind, grid
from basicprop.kinds.ellipses import ellipse

CENTRE = 14.0
SHAPES = ("square", "disc", "triangle", "cross")
SIZES = (6, 10, 14, 18, 22)


def shape_mask(shape: str, size: int) -> np.ndarray:
    """(28, 28) bool mask of one shape of a given (even) size, centred on (14, 14)."""
    rows, cols = grid()
    half = size / 2
    in_box = (np.abs(rows - CENTRE) < half) & (np.abs(cols - CENTRE) < half)
    if shape == "square":
        return in_box
    if shape == "disc":
        return ellipse(size, size)
    if shape == "triangle":
        t = rows - 0.5 - (CENTRE - half)  # row within the box, 0 at the top
        return in_box & (np.abs(cols - CENTRE) <= (t + 1) / 2)
    if shape == "cross":
        thick = 2 * max(1, round(size / 6))
        return in_box & ((np.abs(rows - CENTRE) < thick / 2) | (np.abs(cols - CENTRE) < thick / 2))
    raise ValueError(f"unknown shape {shape!r}; choose from {list(SHAPES)}")


class Shapes(Kind):
    name = "shapes"
    factor_names = ("shape", "size")

    @property
    def factor_values(self):
        return (SHAPES, SIZES)

    def _draw(self, combo):
        shape, size = combo
        return shape_mask(SHAPES[shape], SIZES[size]).astype(np.uint8)

"""``rectangles``: the study's BasicProp-rectangles, two parallel bars with independent heights.

Two bars 10 px wide at columns ``3..12`` (left) and ``15..24`` (right), each hanging from row 3 with a height
from ``{3, 5, ..., 21}``: a bar of height h covers rows ``3 .. 3 + h - 1``. Factors ``left_height`` and
``right_height`` (10 indices each; index i is height ``3 + 2i``). Label = ``10 * left + right`` (100 classes); the
original code recorded only the left height.
"""
from __future__ import annotations

import numpy as np

from basicprop.kinds.base import SIZE, Kind

TOP = 3
LEFT_COLUMNS = (3, 13)  # half-open: columns 3..12
RIGHT_COLUMNS = (15, 25)  # half-open: columns 15..24
HEIGHTS = tuple(range(3, 22, 2))  # 3, 5, ..., 21


class Rectangles(Kind):
    name = "rectangles"
    factor_names = ("left_height", "right_height")

    @property
    def factor_values(self):
        return (HEIGHTS, HEIGHTS)

    def _draw(self, combo):
        left, right = combo
        img = np.zeros((SIZE, SIZE), dtype=np.uint8)
        img[TOP:TOP + HEIGHTS[left], slice(*LEFT_COLUMNS)] = 1
        img[TOP:TOP + HEIGHTS[right], slice(*RIGHT_COLUMNS)] = 1
        return img

"""``translation`` (BasicProp++): a filled square whose size and offset are the factors.

Factor ``size`` s = 0..2: side ``4 + 2s`` px (4, 6, 8). Factors ``x`` and ``y`` = 0..7: the top-left corner is at
column ``3 + 2x`` and row ``3 + 2y``, so the square covers columns ``3 + 2x .. 3 + 2x + side - 1`` and rows
``3 + 2y .. 3 + 2y + side - 1`` (everything stays inside the 3..24 frame of ``rectangles``).
Label = ``64 * size + 8 * x + y`` (192 classes).
"""
from __future__ import annotations

import numpy as np

from basicprop.kinds.base import SIZE, Kind

SIDES = (4, 6, 8)
OFFSETS = tuple(3 + 2 * i for i in range(8))  # left column (x) / top row (y)


class Translation(Kind):
    name = "translation"
    factor_names = ("size", "x", "y")

    @property
    def factor_values(self):
        return (SIDES, OFFSETS, OFFSETS)

    def _draw(self, combo):
        s, x, y = combo
        img = np.zeros((SIZE, SIZE), dtype=np.uint8)
        side, left, top = SIDES[s], OFFSETS[x], OFFSETS[y]
        img[top:top + side, left:left + side] = 1
        return img

"""``line``: the study's BasicProp-line, a proxy for MNIST with one factor.

A vertical bar 4 px wide and the full image height (rows 0..27). Factor ``position`` i = 0..9 puts it at columns
``3 + 2i .. 6 + 2i`` (inclusive), so neighbouring positions overlap by 2 columns. Label = position.
"""
from __future__ import annotations

import numpy as np

from basicprop.kinds.base import SIZE, Kind

WIDTH = 4
POSITIONS = tuple(3 + 2 * i for i in range(10))  # left column of each position


class Line(Kind):
    name = "line"
    factor_names = ("position",)

    @property
    def factor_values(self):
        return (POSITIONS,)

    def _draw(self, combo):
        (i,) = combo
        img = np.zeros((SIZE, SIZE), dtype=np.uint8)
        left = POSITIONS[i]
        img[:, left:left + WIDTH] = 1
        return img

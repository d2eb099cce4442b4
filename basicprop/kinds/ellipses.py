"""``ellipses`` (BasicProp++, "ratios of diameters"): a filled axis-aligned ellipse with two diameters.

Factors ``width`` and ``height`` = 0..9: diameters ``4 + 2i`` px (4, 6, ..., 22), so the ratio of the diameters
runs from 4/22 to 22/4. The ellipse is centred on the corner point (14, 14) of the pixel grid; pixel (r, c) is ink
when its centre satisfies ``((c + .5 - 14) / (w / 2))**2 + ((r + .5 - 14) / (h / 2))**2 <= 1``. Its bounding box is
exactly ``w`` columns (``14 - w/2 .. 14 + w/2 - 1``) by ``h`` rows. Label = ``10 * width + height`` (100 classes).
"""
from __future__ import annotations

import numpy as np

from basicprop.kinds.base import Kind, grid

CENTRE = 14.0
DIAMETERS = tuple(range(4, 23, 2))  # 4, 6, ..., 22


def ellipse(width: float, height: float, centre=(CENTRE, CENTRE)) -> np.ndarray:
    """(28, 28) bool: pixels whose centre lies inside the ellipse with these diameters."""
    rows, cols = grid()
    return ((cols - centre[1]) / (width / 2)) ** 2 + ((rows - centre[0]) / (height / 2)) ** 2 <= 1.0


class Ellipses(Kind):
    name = "ellipses"
    factor_names = ("width", "height")

    @property
    def factor_values(self):
        return (DIAMETERS, DIAMETERS)

    def _draw(self, combo):
        w, h = combo
        return ellipse(DIAMETERS[w], DIAMETERS[h]).astype(np.uint8)

"""``colorings`` (BasicProp++): the ``line`` bar drawn at one of several intensity levels.

Factor ``position`` = 0..9 as in ``line`` (columns ``3 + 2i .. 6 + 2i``, full height). Factor ``intensity`` = index
into ``levels`` (default 0.4, 0.6, 0.8, 1.0), a brightness scale: without foreground noise the bar's pixels are
``round(255 * level)`` (102, 153, 204, 255); with foreground noise ``[low, high)`` they are uniform in
``[round(low * level), round(high * level))`` (default noise: 60..95, 90..143, 120..191, 150..239).
Label = ``len(levels) * position + intensity`` (40 classes by default).
"""
from __future__ import annotations

import numpy as np

from basicprop.kinds.base import Kind
from basicprop.kinds.line import Line
from basicprop.noise import DEFAULT_FG_NOISE

DEFAULT_LEVELS = (0.4, 0.6, 0.8, 1.0)
MAX_LEVELS = 7


def check_levels(levels) -> tuple[float, ...]:
    try:
        levels = tuple(float(v) for v in levels)
    except (TypeError, ValueError):
        raise ValueError(f"levels must be a list of numbers in (0, 1], got {levels!r}") from None
    if not 1 <= len(levels) <= MAX_LEVELS:
        raise ValueError(f"levels must hold 1..{MAX_LEVELS} values, got {len(levels)}")
    if any(not 0 < v <= 1 for v in levels) or any(a >= b for a, b in zip(levels, levels[1:])):
        raise ValueError(f"levels must be increasing values in (0, 1], got {list(levels)}")
    return levels


class Colorings(Kind):
    name = "colorings"
    factor_names = ("position", "intensity")

    def __init__(self, *, fg_noise=DEFAULT_FG_NOISE, bg_noise=None, levels=DEFAULT_LEVELS):
        super().__init__(fg_noise=fg_noise, bg_noise=bg_noise)
        self.levels = check_levels(levels)

    def _own_params(self):
        return {"levels": list(self.levels)}

    @property
    def factor_values(self):
        return (Line().factor_values[0], self.levels)

    @property
    def ink_scales(self):
        return self.levels

    def _draw(self, combo):
        position, intensity = combo
        return (Line()._draw((position,)) * np.uint8(intensity + 1)).astype(np.uint8)

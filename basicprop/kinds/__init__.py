"""Shape kinds, one module each, and the registry :func:`get_kind`.

=============  =====================================  =========================================================
kind           factors (sizes)                        picture
=============  =====================================  =========================================================
line           position (10)                          vertical bar 4 px wide at columns 3+2i..6+2i, full height
rectangles     left_height, right_height (10, 10)     bars at columns 3..12 / 15..24, heights 3..21 from row 3
translation    size, x, y (3, 8, 8)                   square of side 4/6/8 with top-left corner (3+2y, 3+2x)
ellipses       width, height (10, 10)                 ellipse centred at (14, 14), diameters 4,6,..,22
colorings      position, intensity (10, 4)            the line bar at brightness 0.4/0.6/0.8/1.0
shapes         shape, size (4, 5)                     square/disc/triangle/cross, size 6..22, centred
=============  =====================================  =========================================================
"""
from __future__ import annotations

import inspect

from basicprop.kinds.base import SIZE, Kind
from basicprop.kinds.colorings import Colorings
from basicprop.kinds.ellipses import Ellipses
from basicprop.kinds.line import Line
from basicprop.kinds.rectangles import Rectangles
from basicprop.kinds.shapes import Shapes
from basicprop.kinds.translation import Translation

KINDS: dict[str, type[Kind]] = {
    cls.name: cls for cls in (Line, Rectangles, Translation, Ellipses, Colorings, Shapes)
}
KIND_NAMES: tuple[str, ...] = tuple(KINDS)


def kind_parameters(name: str) -> tuple[str, ...]:
    """Names of the parameters ``get_kind(name, ...)`` accepts."""
    cls = _kind_class(name)
    return tuple(p for p in inspect.signature(cls.__init__).parameters if p != "self")


def get_kind(name: str, **params) -> Kind:
    """The kind called ``name`` with these generator parameters (``fg_noise``, ``bg_noise``, kind-specific ones).

    ``fg_noise`` / ``bg_noise``: ``(low, high)`` pixel range (high exclusive), ``None`` for off, ``True`` for the
    default range; defaults: foreground ``(150, 240)``, background off.
    """
    if isinstance(name, Kind):
        if params:
            raise ValueError("pass parameters with a kind name, not with a Kind")
        return name
    cls = _kind_class(name)
    allowed = kind_parameters(name)
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(f"kind '{name}' has no parameter {unknown[0]!r}; it takes {list(allowed)}")
    return cls(**params)


def _kind_class(name) -> type[Kind]:
    try:
        return KINDS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown kind {name!r}; choose from {list(KIND_NAMES)}") from None


__all__ = ["KINDS", "KIND_NAMES", "Kind", "SIZE", "get_kind", "kind_parameters"]

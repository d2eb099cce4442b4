"""Pixel noise: turn ink codes into uint8 pixels, each exactly uniform within its code's range.

A kind draws an *ink code* per pixel: 0 is background, 1..L are ink levels (one level for most kinds, several for
``colorings``). :class:`PixelMap` maps every code to a half-open range of pixel values ``[low, high)``; a range of
width 1 is a constant (no noise). Noise is drawn for the whole batch at once: 16 random bits per pixel hold the
code in the top bits and a random number ``r`` in the rest, and a lookup table turns that into ``low + r % width``.
Values of ``r`` in the incomplete last block are redrawn (Lemire-style rejection), so every value in the range is
exactly equally likely; that touches about 1 pixel in 1,000.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

DEFAULT_FG_NOISE = (150, 240)  # the study's foreground noise: each shape pixel uniform in 150..239
DEFAULT_BG_NOISE = (0, 60)  # background noise when switched on without a range: uniform in 0..59
INK = 255  # shape pixels without noise (the original code wrote 1 by mistake)
CHUNK = 1024  # images per chunk: keeps the working set in cache

Range = tuple[int, int]


def check_range(value, what: str, default: Range) -> Range | None:
    """Normalise a noise range: ``None``/``False`` -> off, ``True`` -> ``default``, ``(low, high)`` -> checked ints.

    ``high`` is exclusive: pixels are drawn from ``low..high-1``, so ``0 <= low < high <= 256``.
    """
    if value is None or value is False:
        return None
    if value is True:
        return tuple(default)
    if isinstance(value, str):
        return parse_range(value, what, default)
    try:
        low, high = value
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a pair (low, high) or None, got {value!r}") from None
    for v in (low, high):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer, float)) or int(v) != v:
            raise ValueError(f"{what} bounds must be integers, got {value!r}")
    low, high = int(low), int(high)
    if not 0 <= low < high <= 256:
        raise ValueError(
            f"{what} [{low}, {high}) is empty or outside 0..255: need 0 <= low < high <= 256 (high exclusive)"
        )
    return (low, high)


def parse_range(text: str, what: str, default: Range) -> Range | None:
    """Parse ``"off"``/``"none"``, ``"on"`` (the default range) or ``"low,high"`` (high exclusive)."""
    word = text.strip().lower()
    if word in ("off", "none", "no", "false", "0"):
        return None
    if word in ("on", "yes", "true", "default"):
        return tuple(default)
    parts = word.replace(":", ",").split(",")
    try:
        low, high = (int(p) for p in parts)
    except ValueError:
        raise ValueError(f"{what} must be 'off', 'on' or 'LOW,HIGH' (e.g. '150,240'), got {text!r}") from None
    return check_range((low, high), what, default)


class PixelMap:
    """Maps ink codes to uint8 pixels; ``ranges[c] = (low, high)`` is the half-open pixel range of code ``c``."""

    def __init__(self, ranges: Sequence[Range]):
        self.ranges = tuple((int(lo), int(hi)) for lo, hi in ranges)
        widths = np.array([hi - lo for lo, hi in self.ranges], dtype=np.int64)
        if len(self.ranges) < 1 or np.any(widths < 1):
            raise ValueError(f"bad pixel ranges {self.ranges}")
        self.constant = bool(np.all(widths == 1))
        self.code_bits = max(1, (len(self.ranges) - 1).bit_length())
        self.rbits = 16 - self.code_bits
        span = 1 << self.rbits
        if widths.max() > span // 8:  # keeps rejections rare; only hit with more than 8 ink levels
            raise ValueError(f"too many ink levels ({len(self.ranges) - 1}) for noise ranges this wide")
        r = np.arange(span)
        lut = np.zeros((1 << self.code_bits, span), dtype=np.uint8)
        for code, (lo, hi) in enumerate(self.ranges):
            lut[code] = lo + r % (hi - lo)
        self.lut = lut.ravel()
        self.values = np.array([lo for lo, _ in self.ranges], dtype=np.uint8)  # used when constant
        self.limits = (span - span % widths).astype(np.int64)  # r >= limit[code] is redrawn
        self.threshold = int(self.limits.min())
        self.span = span

    def shift(self, codes: np.ndarray) -> np.ndarray:
        """Codes (any shape, small ints) -> the uint16 form :meth:`apply` takes (code in the top bits)."""
        return np.left_shift(codes.astype(np.uint16), self.rbits)

    def apply(self, shifted: np.ndarray, index: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Pixels for ``shifted[index]``.

        shifted: (C, H, W) uint16 from :meth:`shift` (one picture of codes per factor combination);
        index: (n,) int; returns (n, H, W) uint8. Draws from ``rng`` unless every range is a constant.
        """
        n = len(index)
        out = np.empty((n,) + shifted.shape[1:], dtype=np.uint8)
        if self.constant:
            np.take(self.values, shifted[index] >> self.rbits, out=out)
            return out
        rmask = np.uint16(self.span - 1)
        for start in range(0, n, CHUNK):
            stop = min(n, start + CHUNK)
            codes = shifted[index[start:stop]]
            r = rng.integers(0, 1 << 16, size=codes.shape, dtype=np.uint16)  # full range: the fast path
            r &= rmask
            if self.threshold < self.span:
                self._redraw(r, codes, rng)
            r |= codes
            np.take(self.lut, r, out=out[start:stop])
        return out

    def _redraw(self, r: np.ndarray, codes: np.ndarray, rng: np.random.Generator) -> None:
        """Redraw, in place, the ``r`` that fall into the incomplete block of their code's range."""
        per_image = r[0].size if r.ndim > 1 else 1
        flat_r, flat_c = r.reshape(-1), codes.reshape(-1)
        rows = np.flatnonzero(flat_r.reshape(-1, per_image).max(axis=1) >= self.threshold)  # cheap pre-filter
        if rows.size == 0:
            return
        sub = flat_r.reshape(-1, per_image)[rows]
        hits = np.flatnonzero(sub >= self.threshold)
        pos = rows[hits // per_image] * per_image + hits % per_image
        limits = self.limits[flat_c[pos] >> self.rbits]
        bad = flat_r[pos] >= limits
        rmask = np.uint16(self.span - 1)
        while bad.any():
            pos, limits = pos[bad], limits[bad]
            new = rng.integers(0, 1 << 16, size=pos.size, dtype=np.uint16) & rmask
            flat_r[pos] = new
            bad = new >= limits

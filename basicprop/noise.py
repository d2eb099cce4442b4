"""Pixel noise: turn ink codes into uint8 pixels, each exactly uniform within its code's range.

A kind draws an *ink code* per pixel: 0 is background, 1..L are ink levels (one level for most kinds, several for
``colorings``). :class:`NoiseTable` maps every code to a half-open range of pixel values ``[low, high)``; a range
of width 1 is a constant (no noise). A noisy pixel of width ``w`` is ``low + (r * w >> 16)`` for 16 random bits
``r``, with Lemire's rejection (``r * w mod 2**16 < 2**16 mod w`` is redrawn; about 1 draw in 4,000 for the default
ranges), so every value in the range is exactly equally likely. The bits come straight from the generator's bit
stream (``rng.bit_generator.random_raw``, four 16-bit draws per 64-bit word), and all the arithmetic is done on
whole arrays in 16 bits.

Random stream (dataset format version 2; version 1 drew ``rng.integers`` per pixel through a lookup table): when
fewer than half of the pixels are noisy (the default, foreground noise only) and the batch holds at least
:data:`GROUPED_MIN` images per factor combination, images are drawn combination by combination (in label order;
within one, in batch order), each drawing for its noisy pixels only, in row-major order, ``CHUNK_PIXELS // k``
images per draw for ``k`` noisy pixels. Otherwise every pixel of every image draws, image by image in batch order
(a constant pixel's draw is discarded). The redraws of rejected pixels come after all first draws, in rounds (the
pixels rejected again draw again), each in the order of the first draws. Every draw of ``k`` values takes
``ceil(k / 4)`` whole 64-bit words, dropping the unused values of the last one. Same generator state and factors ->
the same bytes, on every platform.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

DEFAULT_FG_NOISE = (150, 240)  # the study's foreground noise: each shape pixel uniform in 150..239
DEFAULT_BG_NOISE = (0, 60)  # background noise when switched on without a range: uniform in 0..59
INK = 255  # shape pixels without noise (the original code wrote 1 by mistake)
CHUNK_PIXELS = 1 << 17  # 16-bit draws per block: 256 KiB, the block's arrays stay in the core's L2 cache
GROUPED_MIN = 16  # images per factor combination from which sparse noise is drawn combination by combination
SPAN = 1 << 16  # 16 random bits per noisy pixel
RAW_WORDS = 4096  # 64-bit words per call to the bit generator: 32 KiB, below the sizes that cost page faults

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


class NoiseTable:
    """Pixels of the ink-code pictures ``table[index]``: code ``c`` becomes a pixel uniform in ``ranges[c]``.

    table: (C, H, W) uint8 ink codes, one picture per factor combination; ranges: ``(low, high)`` per code, half
    open, ``0 <= low < high <= 256``.
    """

    def __init__(self, table: np.ndarray, ranges: Sequence[Range]):
        table = np.asarray(table)
        self.ranges = tuple((int(lo), int(hi)) for lo, hi in ranges)
        if not self.ranges or any(not 0 <= lo < hi <= 256 for lo, hi in self.ranges):
            raise ValueError(f"bad pixel ranges {self.ranges}")
        if table.ndim != 3 or table.size == 0 or table.min() < 0 or table.max() >= len(self.ranges):
            raise ValueError(f"ink codes must be a (C, H, W) array of codes 0..{len(self.ranges) - 1}")
        self.shape = table.shape[1:]
        codes = table.reshape(len(table), -1).astype(np.intp)
        lows = np.array([lo for lo, _ in self.ranges], dtype=np.uint8)
        widths = np.array([hi - lo for lo, hi in self.ranges], dtype=np.uint16)
        self.clean = _frozen(lows[codes])  # (C, P) uint8: every pixel at the low end of its range
        self.widths = _frozen(widths[codes])  # (C, P) uint16
        noisy = self.widths > 1
        self.constant = not noisy.any()
        self.max_threshold = int(max(SPAN % int(w) for w in widths))  # r * w mod 2**16 below this: maybe redrawn
        self.sparse = bool(noisy.mean() < 0.5)
        self.noisy_pixels = [_frozen(np.flatnonzero(row)) for row in noisy]  # per combination
        self.noisy_lows = [_frozen(lows[c[p]].astype(np.uint16)) for c, p in zip(codes, self.noisy_pixels)]
        self.noisy_widths = [_frozen(w[p]) for w, p in zip(self.widths, self.noisy_pixels)]

    def render(self, index: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """index: (n,) int combination of every image -> (n, H, W) uint8; draws from ``rng`` unless constant."""
        index = np.asarray(index, dtype=np.intp)
        n, (count, pixels) = len(index), self.clean.shape
        if self.constant:
            return self.clean[index].reshape((n,) + self.shape)
        out = np.empty((n, pixels), dtype=np.uint8)
        pending = []  # (flat positions in out, r * w mod 2**16) of the draws Lemire's method may reject
        if self.sparse and n >= GROUPED_MIN * count:
            self._render_grouped(index, rng, out, pending)
        else:
            self._render_dense(index, rng, out, pending)
        if pending:
            self._redraw(out, index, pending, rng)
        return out.reshape((n,) + self.shape)

    def _render_dense(self, index, rng, out, pending) -> None:
        """Every pixel draws, image by image, in blocks of about :data:`CHUNK_PIXELS`."""
        pixels = out.shape[1]
        step = max(1, CHUNK_PIXELS // pixels)
        work = _Work()
        for start in range(0, len(index), step):
            rows = index[start:start + step]
            shape = (rows.size, pixels)
            widths = np.take(self.widths, rows, axis=0, out=work.array("widths", shape))
            r = draw_uint16(rng, widths.size, work).reshape(shape)
            self._note_candidates(r, widths, work, lambda at: at + start * pixels, pending)
            block = out[start:start + step]
            np.take(self.clean, rows, axis=0, out=block)
            offsets = work.array("offsets", shape, np.uint8)
            np.copyto(offsets, high_product(r, widths, work), casting="unsafe")
            block += offsets

    def _render_grouped(self, index, rng, out, pending) -> None:
        """Combination by combination: only the noisy pixels draw, written over the clean picture."""
        counts = np.bincount(index, minlength=len(self.clean))
        order = np.argsort(index.astype(np.uint16 if len(self.clean) <= 1 << 16 else np.int64), kind="stable")
        ends = np.cumsum(counts)
        work = _Work()
        for c in np.flatnonzero(counts):
            members = order[ends[c] - counts[c]:ends[c]]
            pixels, lows, widths = self.noisy_pixels[c], self.noisy_lows[c], self.noisy_widths[c]
            if pixels.size == 0:
                out[members] = self.clean[c]
                continue
            step = max(1, CHUNK_PIXELS // pixels.size)
            for start in range(0, members.size, step):
                rows = members[start:start + step]
                r = draw_uint16(rng, rows.size * pixels.size, work).reshape(rows.size, pixels.size)
                self._note_candidates(r, widths, work,
                                      lambda at: rows[at // pixels.size] * out.shape[1] + pixels[at % pixels.size],
                                      pending)
                values = high_product(r, widths, work)
                values += lows
                block = work.array("block", (rows.size, out.shape[1]), np.uint8)
                block[:] = self.clean[c]
                block[:, pixels] = values
                out[rows] = block

    def _note_candidates(self, r, widths, work, where, pending) -> None:
        """Append to ``pending`` the draws of ``r`` that Lemire's method may reject: (their positions in the output,
        computed by ``where`` from flat positions in ``r``; their ``r * w mod 2**16``)."""
        if not self.max_threshold:
            return
        low = np.multiply(r, widths, out=work.array("low", r.shape))  # uint16: wraps to r * w mod 2**16
        at = np.flatnonzero(np.less(low, self.max_threshold, out=work.array("below", r.shape, np.bool_)))
        if at.size:
            pending.append((where(at), low.reshape(-1)[at]))

    def _redraw(self, out, index, pending, rng) -> None:
        """Redraw, in the order they were drawn, the pixels that Lemire's method rejects; write their values."""
        positions = np.concatenate([p for p, _ in pending])
        low = np.concatenate([v for _, v in pending]).astype(np.int64)
        row, pixel = np.divmod(positions, out.shape[1])
        combo = index[row]
        widths = self.widths[combo, pixel].astype(np.int64)
        rejected = low < SPAN % widths
        positions, combo, pixel, widths = positions[rejected], combo[rejected], pixel[rejected], widths[rejected]
        r = np.zeros(positions.size, dtype=np.int64)
        todo = np.arange(positions.size)
        while todo.size:
            r[todo] = draw_uint16(rng, todo.size)
            todo = todo[(r[todo] * widths[todo]) % SPAN < SPAN % widths[todo]]
        out.reshape(-1)[positions] = self.clean[combo, pixel] + (r * widths >> 16)


class _Work:
    """Scratch arrays reused from block to block (a fresh large array costs a page fault per 4 KiB)."""

    def __init__(self):
        self.buffers = {}

    def array(self, name: str, shape: tuple[int, ...], dtype=np.uint16) -> np.ndarray:
        n = math.prod(shape)
        if name not in self.buffers or self.buffers[name].size < n:
            self.buffers[name] = np.empty(n, dtype=dtype)
        return self.buffers[name][:n].reshape(shape)


def high_product(r: np.ndarray, widths: np.ndarray, work: _Work | None = None) -> np.ndarray:
    """``r * w >> 16`` for uint16 ``r`` and uint16 widths ``w <= 256`` (broadcast), in 16 bits; ``r`` is consumed.

    ``(high * w + (low * w >> 8)) >> 8`` with ``r = 256 * high + low``: every term fits in 16 bits.
    """
    high = np.right_shift(r, 8, out=None if work is None else work.array("high", r.shape))
    r &= np.uint16(0xFF)
    r *= widths
    r >>= 8
    high *= widths
    high += r
    high >>= 8
    return high


def draw_uint16(rng: np.random.Generator, n: int, work: _Work | None = None) -> np.ndarray:
    """(n,) uint16: the next ``ceil(n / 4)`` 64-bit words of ``rng``'s bit stream, as 16-bit values (little endian).

    Drawn :data:`RAW_WORDS` words at a time into a reused array: a fresh large array costs a page fault per 4 KiB.
    """
    count = -(-n // 4)
    words = np.empty(count, "<u8") if work is None else work.array("words", (count,), np.dtype("<u8"))
    for start in range(0, count, RAW_WORDS):
        words[start:start + RAW_WORDS] = rng.bit_generator.random_raw(min(RAW_WORDS, count - start))
    return words.view("<u2")[:n]


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a

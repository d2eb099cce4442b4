"""Image helpers shared by every package: one converter to uint8, one grid tiler, one labeller, one PNG writer.

Images are samples first: ``(n, 28, 28)`` uint8 (or ``(n, 1, H, W)`` floats in [0, 1] from a generator).
Text is drawn with Pillow's built-in bitmap font (6 x 11 px a character, latin-1): no FreeType, no system fonts,
the same pixels on every machine.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from basicprop.files import atomic_path

GRID_PAD = 2  # pixels between cells
GRID_PAD_VALUE = 96  # grey lines, distinguishable from background 0 and from ink
LABEL_BACKGROUND = 255  # the frame around a labelled grid
LABEL_INK = 0  # its text
LABEL_GAP = 4  # pixels between a label and the grid, another label or the picture's edge


def to_uint8(images) -> np.ndarray:
    """(n, 1, H, W) / (n, H, W) floats in [0, 1] (numpy or torch), or uint8 -> (n, H, W) uint8 numpy.

    Floats are clipped to [0, 1] and rounded to the nearest of 256 levels.
    """
    if hasattr(images, "detach"):  # a torch tensor; basicprop does not import torch
        images = images.detach().cpu()
        if images.dtype.is_floating_point:
            images = images.float()
        images = images.numpy()
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.ndim != 3:
        raise ValueError(f"expected images of shape (n, H, W) or (n, 1, H, W), got {images.shape}")
    if images.dtype != np.uint8:
        images = (np.clip(images.astype(np.float32), 0, 1) * 255).round().astype(np.uint8)
    return images


def tile(cells: np.ndarray, pad: int = GRID_PAD, pad_value: int = GRID_PAD_VALUE) -> np.ndarray:
    """(R, C, H, W) uint8 cells -> one (R*(H+pad)+pad, C*(W+pad)+pad) uint8 picture."""
    r, c, h, w = cells.shape
    out = np.full((r * (h + pad) + pad, c * (w + pad) + pad), pad_value, dtype=np.uint8)
    view = out[pad:, pad:].reshape(r, h + pad, c, w + pad)[:, :h, :, :w]
    view[...] = cells.transpose(0, 2, 1, 3)
    return out


def image_grid(images, n_rows: int, n_cols: int, pad: int = GRID_PAD, scale: int = 1) -> np.ndarray:
    """``n_rows * n_cols`` images (any form :func:`to_uint8` takes), row by row -> one uint8 picture."""
    images = to_uint8(images)
    n, h, w = images.shape
    if n != n_rows * n_cols:
        raise ValueError(f"{n} images do not fill a {n_rows}x{n_cols} grid")
    grid = tile(images.reshape(n_rows, n_cols, h, w), pad=pad)
    return upscale(grid, scale)


def labelled_grid(images, n_rows: int, n_cols: int, *, row_labels: Sequence[str] | None = None,
                  col_labels: Sequence[str] | None = None, title: str | None = None, scale: int = 2,
                  pad: int = GRID_PAD) -> np.ndarray:
    """:func:`image_grid` framed with text: a label left of each row, above each column, and a title on top.

    The grid's pixels are exactly ``image_grid(images, n_rows, n_cols, pad, scale)``; the frame around it is
    white (255) with black text (0), each margin as wide as its longest label, so no text is cut. A column label
    wider than its column is turned a quarter (read from the bottom up); a title wider than the grid widens the
    picture. Text is ``max(1, scale // 2)`` times the font's size. Without labels or title: the bare grid.
    Returns a 2-d uint8 picture.
    """
    grid = image_grid(images, n_rows, n_cols, pad=pad, scale=scale)
    if row_labels is None and col_labels is None and not title:
        return grid
    for labels, n, what in ((row_labels, n_rows, "row"), (col_labels, n_cols, "column")):
        if labels is not None and len(labels) != n:
            raise ValueError(f"{len(labels)} {what} labels for {n} {what}s")
    size = max(1, scale // 2)
    cell_h = (grid.shape[0] // scale - pad) // n_rows - pad
    cell_w = (grid.shape[1] // scale - pad) // n_cols - pad
    placed = []  # (top, left, mask) with the grid's top-left corner at (0, 0)
    for i, text in enumerate(row_labels or ()):  # right-aligned, centred on the row
        mask = text_mask(text, size)
        top = (pad + i * (cell_h + pad)) * scale + (cell_h * scale - mask.shape[0]) // 2
        placed.append((top, -LABEL_GAP - mask.shape[1], mask))
    if col_labels is not None:
        masks = [text_mask(text, size) for text in col_labels]
        if max(m.shape[1] for m in masks) > (cell_w + pad) * scale:  # too wide for a column: read upwards
            masks = [np.rot90(m) for m in masks]
        for j, mask in enumerate(masks):  # bottom-aligned, centred on the column
            centre = (pad + j * (cell_w + pad)) * scale + cell_w * scale // 2
            placed.append((-LABEL_GAP - mask.shape[0], centre - mask.shape[1] // 2, mask))
    if title:
        mask = text_mask(title, size)
        above = min([0] + [top for top, _, _ in placed])
        placed.append((above - LABEL_GAP - mask.shape[0], (grid.shape[1] - mask.shape[1]) // 2, mask))
    top = LABEL_GAP - min([0] + [t for t, _, _ in placed])
    left = LABEL_GAP - min([0] + [x for _, x, _ in placed])
    bottom = max([grid.shape[0]] + [t + m.shape[0] for t, _, m in placed])
    right = max([grid.shape[1]] + [x + m.shape[1] for _, x, m in placed])
    out = np.full((top + bottom + LABEL_GAP, left + right + LABEL_GAP), LABEL_BACKGROUND, dtype=np.uint8)
    out[top:top + grid.shape[0], left:left + grid.shape[1]] = grid
    for t, x, mask in placed:
        out[top + t:top + t + mask.shape[0], left + x:left + x + mask.shape[1]][mask] = LABEL_INK
    return out


@functools.lru_cache(maxsize=1024)
def text_mask(text: str, size: int = 1) -> np.ndarray:
    """(11 * size, 6 * size * len(text)) bool: ``text`` in Pillow's bitmap font, each pixel ``size`` x ``size``.

    Characters outside latin-1 are drawn as ``?``. The array is read-only (it is cached).
    """
    from PIL import Image, ImageDraw, ImageFont

    font = getattr(ImageFont, "load_default_imagefont", ImageFont.load_default)()  # the bitmap font
    text = str(text).encode("latin-1", "replace").decode("latin-1")
    _, _, width, height = font.getbbox(text)
    picture = Image.new("L", (max(width, 1), height), 0)
    ImageDraw.Draw(picture).text((0, 0), text, fill=255, font=font)
    mask = upscale(np.asarray(picture)[:, :width] > 0, size)
    mask.setflags(write=False)
    return mask


def upscale(picture: np.ndarray, scale: int) -> np.ndarray:
    """Each pixel of a 2-d picture as a ``scale`` x ``scale`` block."""
    if scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale}")
    return picture if scale == 1 else np.repeat(np.repeat(picture, scale, axis=0), scale, axis=1)


def write_png(picture: np.ndarray, path: str | os.PathLike) -> Path:
    """Save a 2-d uint8 picture as PNG, atomically (the folder is created if needed); returns the path."""
    from PIL import Image

    path = Path(path)
    with atomic_path(path) as tmp:
        Image.fromarray(np.ascontiguousarray(picture, dtype=np.uint8)).save(tmp, format="PNG")
    return path

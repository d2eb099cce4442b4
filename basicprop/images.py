"""Image helpers shared by every package: one converter to uint8, one grid tiler, one PNG writer.

Images are samples first: ``(n, 28, 28)`` uint8 (or ``(n, 1, H, W)`` floats in [0, 1] from a generator).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from basicprop.files import atomic_path

GRID_PAD = 2  # pixels between cells
GRID_PAD_VALUE = 96  # grey lines, distinguishable from background 0 and from ink


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

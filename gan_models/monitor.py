"""Training-time monitoring: Q's unsupervised accuracy on real images, and PNG grids.

The full metric suite lives in ``eval/``; this is the small check the trainer logs once per epoch.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment


def hungarian_accuracy(pred: np.ndarray, truth: np.ndarray) -> float:
    """Accuracy of ``pred`` (N,) int against ``truth`` (N,) int under the best one-to-one relabelling.

    Labels may have different ranges; unmatched predicted clusters count as wrong.
    """
    pred, truth = np.asarray(pred, dtype=np.int64), np.asarray(truth, dtype=np.int64)
    if pred.shape != truth.shape or pred.ndim != 1:
        raise ValueError(f"pred and truth must be (N,) arrays of the same shape, got {pred.shape}, {truth.shape}")
    if len(pred) == 0:
        return float("nan")
    _, p = np.unique(pred, return_inverse=True)
    _, t = np.unique(truth, return_inverse=True)
    counts = np.zeros((p.max() + 1, t.max() + 1), dtype=np.int64)
    np.add.at(counts, (p, t), 1)
    rows, cols = linear_sum_assignment(-counts)
    return float(counts[rows, cols].sum() / len(pred))


def code_factor_accuracy(codes: np.ndarray, factors: np.ndarray, factor_names) -> dict[str, float]:
    """Hungarian accuracy of every categorical code against every factor, and a one-to-one code<->factor match.

    codes: (N, n_cat) int predicted categories; factors: (N, K) int. Returns flat keys
    ``acc/cat{i}/{factor}`` for every pair and ``acc/{factor}`` for the factors matched to a code (the matching
    maximises the summed accuracy, so two codes never claim the same factor).
    """
    codes, factors = np.asarray(codes), np.asarray(factors)
    n_cat, k = codes.shape[1], factors.shape[1]
    if n_cat == 0 or k == 0:
        return {}
    table = np.array([[hungarian_accuracy(codes[:, i], factors[:, j]) for j in range(k)] for i in range(n_cat)])
    out = {f"acc/cat{i}/{factor_names[j]}": float(table[i, j]) for i in range(n_cat) for j in range(k)}
    rows, cols = linear_sum_assignment(-table)
    for i, j in zip(rows, cols):
        out[f"acc/{factor_names[j]}"] = float(table[i, j])
    return out


def image_grid(images: np.ndarray, n_rows: int, n_cols: int, pad: int = 2, scale: int = 1) -> np.ndarray:
    """images (n_rows * n_cols, 1, H, W) or (n, H, W) floats in [0, 1] -> one uint8 (rows*H', cols*W') image."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 4:
        images = images[:, 0]
    n, h, w = images.shape
    if n != n_rows * n_cols:
        raise ValueError(f"{n} images do not fill a {n_rows}x{n_cols} grid")
    grid = np.full((n_rows * (h + pad) + pad, n_cols * (w + pad) + pad), 0.5, dtype=np.float32)
    for idx in range(n):
        r, c = divmod(idx, n_cols)
        grid[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = images[idx]
    grid = (np.clip(grid, 0, 1) * 255).round().astype(np.uint8)
    if scale > 1:
        grid = grid.repeat(scale, 0).repeat(scale, 1)
    return grid


def save_png(array: np.ndarray, path: str | Path) -> Path:
    from PIL import Image
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path

"""PNG grids ordered by factor values (the ``preview`` command).

Cells are laid out in label order, i.e. by factor values: the last factor runs along the columns, the other factors
(outer first) down the rows, and ``samples`` rows of examples per combination of the leading factors. A kind is
rendered (one cell per combination, noise from ``seed``); a dataset (name or file) shows its first examples of
each combination, in the order they appear, and leaves missing combinations blank.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from basicprop.images import tile, upscale
from basicprop.images import write_png as save_png
from basicprop.kinds import KIND_NAMES, SIZE, get_kind

MAX_CELLS = 4096


def layout(factor_sizes) -> tuple[int, int]:
    """(rows of combinations, columns) of the grid for these factor sizes."""
    sizes = tuple(int(s) for s in factor_sizes)
    cols = sizes[-1] if sizes else 1
    return int(np.prod(sizes[:-1])) if len(sizes) > 1 else 1, cols


def cells_from_labels(images: np.ndarray, labels: np.ndarray, factor_sizes, samples: int) -> np.ndarray:
    """(R*samples, C, 28, 28): for each label, its first ``samples`` images (blank where there are fewer)."""
    rows, cols = layout(factor_sizes)
    n_classes = rows * cols
    cells = np.zeros((rows, samples, cols, SIZE, SIZE), dtype=np.uint8)
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    starts = np.searchsorted(sorted_labels, np.arange(n_classes))
    ends = np.searchsorted(sorted_labels, np.arange(n_classes), side="right")
    for label in range(n_classes):  # one slice per combination
        picked = order[starts[label]:min(ends[label], starts[label] + samples)]
        cells[label // cols, : len(picked), label % cols] = images[picked]
    return cells.reshape(rows * samples, cols, SIZE, SIZE)


def preview_grid(source, *, split: str = "train", seed: int = 0, samples: int | None = None, data_dir=None,
                 kind_params: Mapping | None = None) -> np.ndarray:
    """The preview picture (2-d uint8) of a kind name or a dataset (name or path)."""
    from basicprop.generate import check_seed, check_size

    seed = check_seed(seed)
    if isinstance(source, str) and source in KIND_NAMES:
        kind = get_kind(source, **(kind_params or {}))
        sizes = kind.factor_sizes
        samples = check_size(samples if samples is not None else (1 if len(sizes) > 1 else 4), "samples")
        _check_cells(kind.num_classes * samples)
        labels = np.repeat(np.arange(kind.num_classes), samples)
        images = kind.render(kind.factors_from_labels(labels), np.random.default_rng(seed))
    else:
        if kind_params:
            raise ValueError("kind parameters apply to a kind name, not to a dataset")
        from basicprop.datasets import load_dataset

        ds = load_dataset(source, split, data_dir=data_dir, seed=seed)
        sizes, images, labels = ds.factor_sizes, ds.images, ds.labels
        samples = check_size(samples if samples is not None else (1 if len(sizes) > 1 else 8), "samples")
        _check_cells(int(np.prod(sizes)) * samples)
    return tile(cells_from_labels(images, labels, sizes, samples))


def _check_cells(n: int) -> None:
    if n > MAX_CELLS:
        raise ValueError(f"a preview of {n} cells is too large (at most {MAX_CELLS}); lower --samples")


def write_png(picture: np.ndarray, out, *, scale: int = 2, force: bool = False) -> Path:
    """Save a 2-d uint8 picture as PNG, each pixel ``scale`` x ``scale``, atomically; refuses to clobber."""
    from basicprop.generate import check_size

    path = Path(out).expanduser()
    if path.suffix.lower() != ".png":
        raise ValueError(f"preview output must end in .png, got {str(path)!r}")
    scale = check_size(scale, "scale")
    parent = path.parent
    if not parent.is_dir():
        raise ValueError(f"cannot write {str(path)!r}: directory {str(parent)!r} does not exist")
    if path.exists() and not force:
        raise ValueError(f"{str(path)!r} already exists; pass --force (force=True) to overwrite it")
    if path.is_dir():
        raise ValueError(f"{str(path)!r} is a directory")
    return save_png(upscale(picture, scale), path)


def write_preview(source, out, *, split: str = "train", seed: int = 0, samples: int | None = None,
                  scale: int = 2, force: bool = False, data_dir=None, kind_params: Mapping | None = None) -> Path:
    """Write a PNG grid of ``source`` (a kind name, dataset name or path) ordered by factor values."""
    if Path(out).suffix.lower() != ".png":  # fail before rendering
        raise ValueError(f"preview output must end in .png, got {str(out)!r}")
    picture = preview_grid(source, split=split, seed=seed, samples=samples, data_dir=data_dir,
                           kind_params=kind_params)
    return write_png(picture, out, scale=scale, force=force)

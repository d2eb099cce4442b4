"""PNG grids ordered by factor values (the ``preview`` command).

Cells are laid out in label order, i.e. by factor values: the last factor runs along the columns, the other factors
(outer first) down the rows, and ``samples`` rows of examples per combination of the leading factors. A kind is
rendered (one cell per combination, noise from ``seed``); a dataset (name or file) shows its first examples of
each combination, in the order they appear, and leaves missing combinations blank. Labelled, each row carries the
values of its leading factors (``left_height=3``), each column the value of the last factor (``right_height=5``):
physical values where the kind is known (a height in pixels, a shape's name), else the factor's index.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, NamedTuple

import numpy as np

from basicprop.images import labelled_grid, tile, upscale
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


class Preview(NamedTuple):
    """The cells of a preview and what they show."""

    cells: np.ndarray              # (rows, cols, 28, 28) uint8
    row_labels: list[str] | None   # the leading factors' values of each row (None: one factor)
    col_labels: list[str]          # the last factor's value of each column
    title: str


def preview_cells(source, *, split: str = "train", seed: int = 0, samples: int | None = None, data_dir=None,
                  kind_params: Mapping | None = None) -> Preview:
    """The cells of the preview of a kind name or a dataset (name or path), with their labels."""
    from basicprop.generate import check_seed, check_size

    seed = check_seed(seed)
    if isinstance(source, str) and source in KIND_NAMES:
        kind = get_kind(source, **(kind_params or {}))
        names, sizes, title = kind.factor_names, kind.factor_sizes, source
        samples = check_size(samples if samples is not None else (1 if len(sizes) > 1 else 4), "samples")
        _check_cells(kind.num_classes * samples)
        labels = np.repeat(np.arange(kind.num_classes), samples)
        images = kind.render(kind.factors_from_labels(labels), np.random.default_rng(seed))
    else:
        if kind_params:
            raise ValueError("kind parameters apply to a kind name, not to a dataset")
        from basicprop.datasets import load_dataset

        ds = load_dataset(source, split, data_dir=data_dir, seed=seed)
        names, sizes, images, labels, kind = ds.factor_names, ds.factor_sizes, ds.images, ds.labels, ds.kind()
        title = f"{Path(str(ds.name)).name} ({split})"
        samples = check_size(samples if samples is not None else (1 if len(sizes) > 1 else 8), "samples")
        _check_cells(int(np.prod(sizes)) * samples)
    values = kind.factor_values if kind is not None and kind.factor_sizes == tuple(sizes) else \
        [range(s) for s in sizes]
    text = [[f"{name}={_value(v)}" for v in vals] for name, vals in zip(names, values)]
    cells = cells_from_labels(images, labels, sizes, samples)
    rows = None
    if len(sizes) > 1:  # row r shows combination r // samples of the leading factors, outer first
        combos = np.stack(np.unravel_index(np.arange(len(cells)) // samples, tuple(sizes[:-1])), axis=1)
        rows = [", ".join(text[k][i] for k, i in enumerate(combo)) for combo in combos]
    return Preview(cells, rows, text[-1], title)


def preview_grid(source, *, split: str = "train", seed: int = 0, samples: int | None = None, data_dir=None,
                 kind_params: Mapping | None = None, scale: int = 1, labels: bool = False) -> np.ndarray:
    """The preview picture (2-d uint8) of a kind name or a dataset (name or path), each pixel ``scale`` x
    ``scale``; ``labels``: framed with the factor values of its rows and columns and a title."""
    p = preview_cells(source, split=split, seed=seed, samples=samples, data_dir=data_dir, kind_params=kind_params)
    if not labels:
        return upscale(tile(p.cells), scale)
    n_rows, n_cols = p.cells.shape[:2]
    return labelled_grid(p.cells.reshape(n_rows * n_cols, SIZE, SIZE), n_rows, n_cols, row_labels=p.row_labels,
                         col_labels=p.col_labels, title=p.title, scale=scale)


def _value(v) -> str:
    """A factor value as a label shows it: 0.4, not 0.4000000000000001 or np.float64(0.4)."""
    return f"{v:g}" if isinstance(v, (float, np.floating)) else str(v)


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
                  scale: int = 2, force: bool = False, data_dir=None, kind_params: Mapping | None = None,
                  labels: bool | None = None) -> Path:
    """Write a PNG grid of ``source`` (a kind name, dataset name or path) ordered by factor values.

    ``labels``: frame it with the factor values of its rows and columns (default: at ``scale`` 2 and above;
    ``scale=1`` is the bare grid, one pixel per image pixel)."""
    from basicprop.generate import check_size

    if Path(out).suffix.lower() != ".png":  # fail before rendering
        raise ValueError(f"preview output must end in .png, got {str(out)!r}")
    scale = check_size(scale, "scale")
    labels = scale >= 2 if labels is None else bool(labels)
    picture = preview_grid(source, split=split, seed=seed, samples=samples, data_dir=data_dir,
                           kind_params=kind_params, scale=scale, labels=labels)
    return write_png(picture, out, scale=1, force=force)

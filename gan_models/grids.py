"""The picture grids a run writes at each evaluation: samples, one traversal per continuous code, cat0 x cat1.

Every grid is labelled with what it holds: rows by the value of the first categorical code (``cat0=3``) or, for
C-InfoGAN, of the label (``y=3``); columns by the swept continuous value or the second categorical code; a title
names the code and the step. The ``sample`` command draws the same grids.
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from basicprop.images import image_grid, labelled_grid, write_png

from .latent import CodeSpec, Latent, sample_latent, traversal_latent

SCALE = 2  # pixels per image pixel in the grids a run writes: room for readable labels


class Grid(NamedTuple):
    """A row-major grid of latents and the text that says what its rows and columns hold."""

    latent: Latent
    n_rows: int
    n_cols: int
    row_labels: list[str] | None
    col_labels: list[str] | None
    title: str


def row_code(spec: CodeSpec) -> tuple[str, int] | None:
    """(name, size) of the code the rows of a grid run over: the label ``y`` (C-InfoGAN), else ``cat0``."""
    if spec.cond:
        return "y", spec.cond
    return ("cat0", spec.cat[0]) if spec.cat else None


def samples_grid(spec: CodeSpec, generator: torch.Generator, n_rows: int = 10, n_cols: int = 10) -> Grid:
    """``n_rows x n_cols`` random latents; row r holds value ``r mod k`` of the row code (see :func:`row_code`),
    every other part drawn fresh for each cell."""
    lat = sample_latent(spec, n_rows * n_cols, generator)
    code = row_code(spec)
    if code is None:
        return Grid(lat, n_rows, n_cols, None, None, "samples")
    name, k = code
    values = torch.arange(n_rows, device=lat.z.device).repeat_interleave(n_cols) % k
    if name == "y":
        lat = lat._replace(y=values)
    else:
        cat = lat.cat.clone()
        cat[:, 0] = values
        lat = lat._replace(cat=cat)
    return Grid(lat, n_rows, n_cols, [f"{name}={r % k}" for r in range(n_rows)], None,
                f"samples, {name} (rows)")


def traversal_grid(spec: CodeSpec, generator: torch.Generator, *, cont_index: int | None = 0, n_cols: int = 10,
                   cat_cols: int | None = None) -> Grid:
    """:func:`~gan_models.latent.traversal_latent` with its labels: rows the row code's values, columns the swept
    value of ``cont{cont_index}`` (``cat_cols``: the values of ``cat{cat_cols}``; neither: fresh z draws)."""
    code = row_code(spec)
    lat, n_rows, n_cols = traversal_latent(spec, generator, cont_index=cont_index, n_cols=n_cols,
                                           rows="y" if spec.cond else "cat0", cat_cols=cat_cols)
    rows = [f"{code[0]}={r}" for r in range(n_rows)] if code else None
    if cat_cols is not None:
        cols = [f"cat{cat_cols}={c}" for c in range(n_cols)]
        what = f"cat{cat_cols} (columns)"
    elif cont_index is not None and spec.cont:
        cols = [f"{v:.2f}" for v in np.linspace(-1, 1, n_cols)]
        what = f"cont{cont_index} from -1 to 1 (columns)"
    else:
        cols, what = None, "fresh z (columns)"
    return Grid(lat, n_rows, n_cols, rows, cols, f"{what}, {code[0]} (rows)" if code else what)


def draw(generate, grid: Grid, *, title: str | None = None, scale: int = SCALE, labels: bool = True) -> np.ndarray:
    """The picture (2-d uint8) of ``grid``, ``generate(latent)`` -> images; ``title`` replaces the grid's own;
    ``labels=False``: the bare grid."""
    images = generate(grid.latent)
    if not labels:
        return image_grid(images, grid.n_rows, grid.n_cols, scale=scale)
    return labelled_grid(images, grid.n_rows, grid.n_cols, row_labels=grid.row_labels, col_labels=grid.col_labels,
                         title=grid.title if title is None else title, scale=scale)


@torch.no_grad()
def save_grids(model, out: Path, tag: str, seed: int, device: torch.device) -> list[Path]:
    """A 10x10 sample grid, one traversal grid per continuous code (rows: first categorical code or label) and,
    with two or more categorical codes, a cat0 x cat1 grid. ``tag`` (the step, zero-padded) names the files."""
    was_training = model.training
    model.eval()
    spec = model.spec
    step = f"step {int(tag)}" if tag.isdigit() else tag
    gen = torch.Generator(device).manual_seed(seed)
    grid = samples_grid(spec, gen)
    paths = [write_png(draw(model.generate, grid, title=f"{grid.title}, {step}"), out / f"samples_{tag}.png")]
    for j in (range(spec.cont) if spec.cont else [None]):
        gen = torch.Generator(device).manual_seed(seed + 1)
        grid = traversal_grid(spec, gen, cont_index=j)
        name = f"traverse_cont{j}_{tag}.png" if j is not None else f"traverse_{tag}.png"
        paths.append(write_png(draw(model.generate, grid, title=f"{grid.title}, {step}"), out / name))
    if len(spec.cat) >= 2 and not spec.cond:    # rows: cat0, columns: cat1 (one z for the whole grid)
        gen = torch.Generator(device).manual_seed(seed + 2)
        grid = traversal_grid(spec, gen, cat_cols=1)
        paths.append(write_png(draw(model.generate, grid, title=f"{grid.title}, {step}"),
                               out / f"traverse_cat1_{tag}.png"))
    model.train(was_training)
    return paths

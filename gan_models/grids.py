"""The picture grids a run writes at each evaluation: samples, one traversal per continuous code, cat0 x cat1."""
from __future__ import annotations

from pathlib import Path

import torch

from basicprop.images import image_grid, write_png

from .latent import sample_latent, traversal_latent


@torch.no_grad()
def save_grids(model, out: Path, tag: str, seed: int, device: torch.device) -> list[Path]:
    """A 10x10 sample grid, one traversal grid per continuous code (rows: first categorical code or label) and,
    with two or more categorical codes, a cat0 x cat1 grid."""
    was_training = model.training
    model.eval()
    spec = model.spec
    gen = torch.Generator(device).manual_seed(seed)
    paths = [write_png(image_grid(model.generate(sample_latent(spec, 100, gen)), 10, 10), out / f"samples_{tag}.png")]
    rows = "y" if spec.cond else "cat0"
    for j in (range(spec.cont) if spec.cont else [None]):
        gen = torch.Generator(device).manual_seed(seed + 1)
        lat, n_rows, n_cols = traversal_latent(spec, gen, cont_index=j, rows=rows)
        name = f"traverse_cont{j}_{tag}.png" if j is not None else f"traverse_{tag}.png"
        paths.append(write_png(image_grid(model.generate(lat), n_rows, n_cols), out / name))
    if len(spec.cat) >= 2 and not spec.cond:    # rows: cat0, columns: cat1 (one z for the whole grid)
        gen = torch.Generator(device).manual_seed(seed + 2)
        lat, n_rows, n_cols = traversal_latent(spec, gen, cat_cols=1)
        paths.append(write_png(image_grid(model.generate(lat), n_rows, n_cols), out / f"traverse_cat1_{tag}.png"))
    model.train(was_training)
    return paths

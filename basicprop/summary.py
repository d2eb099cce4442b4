"""A human summary of a dataset (the ``info`` command): kind, sizes, factors, histograms."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from basicprop.generate import SPLITS

PIXEL_BINS = (0, 1, 32, 64, 96, 128, 160, 192, 224, 255, 256)  # 0 and 255 get their own bins
BAR = 40


def _bin_name(lo: int, hi: int) -> str:
    return str(lo) if hi == lo + 1 else f"{lo}-{hi - 1}"


def pixel_histogram(images: np.ndarray) -> list[tuple[str, float]]:
    """(bin name, fraction of pixels) over :data:`PIXEL_BINS`."""
    counts = np.bincount(images.reshape(-1), minlength=256).astype(np.float64)
    total = max(counts.sum(), 1.0)
    return [(_bin_name(lo, hi), counts[lo:hi].sum() / total) for lo, hi in zip(PIXEL_BINS, PIXEL_BINS[1:])]


def _values(values) -> str:
    values = list(values)
    text = " ".join(str(v) for v in values)
    return text if len(text) <= 60 else f"{values[0]} .. {values[-1]}"


def summarize(source, data_dir=None, seed: int = 0) -> str:
    """Summary text of a dataset: a path written by ``basicprop make``, a ``basicprop-<kind>`` name, or ``mnist``."""
    from basicprop import io
    from basicprop.datasets import DATASET_NAMES, load_dataset

    path = Path(str(source)).expanduser()
    splits, head = {}, None
    if str(source) not in DATASET_NAMES and path.exists():
        for split in SPLITS:
            splits[split], head = io.read(path, split)
        fmt = {"idx": "IDX folder", "h5": "HDF5", "npz": "npz"}[io.detect_format(path)]
        title = f"{source}: basicprop dataset ({fmt}, format {head.get('format_version')}, " \
                f"written by basicprop {head.get('version')})"
        kind_name, params, names, sizes = head["kind"], head["kind_params"], head["factor_names"], head["factor_sizes"]
        values, seed_text = head.get("factor_values"), head["seed"]
    else:
        for split in SPLITS:
            ds = load_dataset(source, split, data_dir=data_dir, seed=seed)
            splits[split] = {"images": ds.images, "labels": ds.labels, "factors": ds.factors}
        title = f"{source}: {'MNIST via torchvision' if ds.meta['kind'] == 'mnist' else 'rendered in memory'}"
        kind_name, params, names, sizes = ds.meta["kind"], ds.meta["kind_params"], ds.factor_names, ds.factor_sizes
        kind = ds.kind()
        values = kind.factor_values if kind is not None else [list(range(10))]
        seed_text = ds.meta["seed"]

    lines = [title]
    lines.append(f"kind        {kind_name}")
    if params is not None:
        lines.append("parameters  " + " ".join(f"{k}={v}" for k, v in params.items()))
    lines.append(f"seed        {seed_text}")
    lines.append("sizes       " + ", ".join(f"{s} {len(a['images'])}" for s, a in splits.items()))
    width = max(len(n) for n in names)
    for i, (name, size) in enumerate(zip(names, sizes)):
        shown = f": {_values(values[i])}" if values else ""
        lines.append(f"{'factors' if i == 0 else '':<12}{name:<{width}}  {size} values{shown}")
    lines.append(f"classes     {int(np.prod(sizes))} (label = row-major index of the factor combination)")
    train = splits["train"]
    lines.append("factor histogram (train, count per value index):")
    for k, (name, size) in enumerate(zip(names, sizes)):
        counts = np.bincount(train["factors"][:, k], minlength=size)
        shown = " ".join(str(c) for c in counts) if size <= 12 else f"min {counts.min()}, max {counts.max()}"
        lines.append(f"  {name:<{width}}  {shown}")
    combos = np.bincount(train["labels"], minlength=int(np.prod(sizes)))
    lines.append(f"  combinations: {int((combos > 0).sum())} of {combos.size} present, "
                 f"{combos.min()}..{combos.max()} images each")
    lines.append("pixel values (train):")
    for name, frac in pixel_histogram(train["images"]):
        lines.append(f"  {name:>7}  {100 * frac:5.1f}%  {'#' * int(round(BAR * frac))}")
    return "\n".join(lines)

"""A map-style ``torch.utils.data.Dataset`` over :func:`basicprop.datasets.load_dataset`: :class:`BasicPropDataset`.

    from torch.utils.data import DataLoader
    from basicprop.torchdata import BasicPropDataset

    ds = BasicPropDataset("basicprop-rectangles", split="train", target="factors")
    x, y = ds[0]                     # (1, 28, 28) float32 in [0, 1], (2,) int64 factor indices
    loader = DataLoader(ds, batch_size=64, shuffle=True)

Images follow torchvision's ``MNIST``: without ``transform`` an item is the ``(1, 28, 28)`` float32 tensor in
[0, 1] that ``transforms.ToTensor()`` makes; with ``transform`` the transform receives the PIL image (mode ``"L"``)
that torchvision's MNIST passes it, so a pipeline written for MNIST (``Compose([ToTensor(), Normalize(...)])``)
works unchanged. ``target_transform`` receives the target.

Targets: ``"label"`` (an int: the class label, the row-major index of the factor combination; the digit for
MNIST), ``"factors"`` (a ``(K,)`` int64 tensor of factor indices) or a factor name (an int: that factor's index).
"""
from __future__ import annotations

from typing import Callable, Mapping

import numpy as np
import torch
from torch.utils.data import Dataset as TorchDataset

from basicprop.datasets import Dataset, load_dataset

LABEL = "label"
FACTORS = "factors"


class BasicPropDataset(TorchDataset):
    """One split of a BasicProp (or MNIST) dataset as a map-style torch Dataset.

    source: a name or path for :func:`~basicprop.datasets.load_dataset` (``basicprop-<kind>``, ``mnist``, a file
    or IDX folder from ``basicprop make``) or an already loaded :class:`~basicprop.datasets.Dataset`.
    split, data_dir, seed, n, kind_params: passed to ``load_dataset`` (not allowed with a loaded Dataset).
    """

    def __init__(self, source, split: str = "train", target: str = LABEL, transform: Callable | None = None,
                 target_transform: Callable | None = None, data_dir=None, *, seed: int = 0, n: int | None = None,
                 kind_params: Mapping | None = None):
        if isinstance(source, Dataset):
            if data_dir is not None or n is not None or kind_params or seed != 0 or split != "train":
                raise ValueError("split, data_dir, seed, n and kind_params apply when loading by name; "
                                 "a loaded Dataset is used as it is")
            data = source
        else:
            data = load_dataset(source, split, data_dir, seed, n=n, kind_params=kind_params)
        for name, fn in (("transform", transform), ("target_transform", target_transform)):
            if fn is not None and not callable(fn):
                raise ValueError(f"{name} must be callable or None, got {fn!r}")
        self.data = data
        self.target = target
        self.transform = transform
        self.target_transform = target_transform
        self._targets = _targets(data, target)

    @property
    def factor_names(self) -> tuple[str, ...]:
        return self.data.factor_names

    @property
    def factor_sizes(self) -> tuple[int, ...]:
        return self.data.factor_sizes

    @property
    def targets(self) -> torch.Tensor:
        """Every target, ``(N,)`` or ``(N, K)`` int64 (like torchvision's ``MNIST.targets``); no target_transform."""
        return torch.from_numpy(self._targets)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int):
        pixels = self.data.images[index]
        if self.transform is None:
            image = torch.from_numpy(pixels.astype(np.float32) / np.float32(255.0))[None]
        else:
            from PIL import Image

            image = self.transform(Image.fromarray(np.asarray(pixels, dtype=np.uint8)))  # 2-D uint8: mode "L"
        value = self._targets[index]
        target = torch.from_numpy(value.copy()) if value.ndim else int(value)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def __repr__(self) -> str:
        return f"BasicPropDataset({self.data.name!r}, split={self.data.meta.get('split')!r}, target={self.target!r}, " \
               f"n={len(self)})"


def _targets(data: Dataset, target) -> np.ndarray:
    """``(N,)`` int64 labels or one factor's indices, or ``(N, K)`` int64 factors."""
    if target == LABEL:
        return np.asarray(data.labels, dtype=np.int64)
    if target == FACTORS:
        return np.asarray(data.factors, dtype=np.int64)
    if isinstance(target, str) and target in data.factor_names:
        return np.ascontiguousarray(data.factors[:, data.factor_names.index(target)], dtype=np.int64)
    choices = [LABEL, FACTORS, *data.factor_names]
    raise ValueError(f"unknown target {target!r} for dataset {data.name!r}; choose from {choices}")


__all__ = ["BasicPropDataset", "FACTORS", "LABEL"]

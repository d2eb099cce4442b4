"""One function from a dataset name to arrays plus factor metadata: :func:`load_dataset`.

Names: ``basicprop-<kind>`` for every kind (rendered in memory, balanced, seeded, cached; the same arrays as
``basicprop make`` writes with the default sizes and the same seed), ``mnist`` (torchvision's ``MNIST`` class over a
local directory, see :mod:`basicprop.mnist`), or a path to a ``.h5`` / ``.npz`` file or IDX folder written by
``basicprop make``.
"""
from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from basicprop.generate import N_TEST, N_TRAIN, SPLITS, check_seed, check_size, render_split, split_rngs
from basicprop.kinds import KIND_NAMES, Kind, get_kind

PREFIX = "basicprop-"
DATASET_NAMES: tuple[str, ...] = tuple(PREFIX + k for k in KIND_NAMES) + ("mnist",)
DEFAULT_SIZES = {"train": N_TRAIN, "test": N_TEST}


@dataclass(frozen=True, eq=False)
class Dataset:
    """One split of a dataset: images with their labels and ground-truth factors (samples first)."""

    images: np.ndarray  # (N, 28, 28) uint8
    labels: np.ndarray  # (N,) int64
    factors: np.ndarray  # (N, K) int64 factor indices
    factor_names: tuple[str, ...]
    factor_sizes: tuple[int, ...]
    name: str  # the name or path it was loaded from
    meta: dict[str, Any] = field(default_factory=dict)  # JSON-able: dataset, kind, kind_params, seed, split

    def __len__(self) -> int:
        return len(self.images)

    def kind(self) -> Kind | None:
        """The Kind that renders this data (None for MNIST)."""
        if self.meta.get("kind") in (None, "mnist"):
            return None
        return get_kind(self.meta["kind"], **(self.meta.get("kind_params") or {}))


def load_dataset(name, split: str = "train", data_dir=None, seed: int = 0, *, n: int | None = None,
                 kind_params: Mapping | None = None) -> Dataset:
    """Images, labels, factors and factor metadata of one split of a dataset.

    name: ``basicprop-<kind>``, ``mnist``, or a path to a ``.h5``/``.npz`` file or IDX folder from ``basicprop make``.
    split: ``"train"`` or ``"test"``.  data_dir: the MNIST directory (else ``$BASICPROP_MNIST_DIR``).
    seed, n, kind_params: only for rendered ``basicprop-*`` data (n defaults to 60,000 train / 10,000 test).
    The arrays are fresh copies; the rendered and MNIST arrays behind them are cached per process.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose from {list(SPLITS)}")
    key = os.fspath(name) if isinstance(name, os.PathLike) else name
    if not isinstance(key, str):
        raise ValueError(f"dataset must be a name or a path, got {name!r}")
    if key.startswith(PREFIX) and key in DATASET_NAMES:
        kind = get_kind(key[len(PREFIX):], **(kind_params or {}))
        n = DEFAULT_SIZES[split] if n is None else check_size(n, "n")
        seed = check_seed(seed)
        images, labels, factors = _rendered(kind.name, json.dumps(kind.params, sort_keys=True), split, n, seed)
        meta = {"dataset": key, "kind": kind.name, "kind_params": kind.params, "seed": seed, "split": split}
        return Dataset(images.copy(), labels.copy(), factors.copy(), kind.factor_names, kind.factor_sizes, key, meta)
    if n is not None or kind_params:
        raise ValueError(f"n and kind_params apply only to rendered datasets ({PREFIX}<kind>), not to {key!r}")
    if key == "mnist":
        from basicprop.mnist import load_mnist

        images, labels = load_mnist(split, data_dir)
        meta = {"dataset": "mnist", "kind": "mnist", "kind_params": None, "seed": None, "split": split}
        return Dataset(images.copy(), labels.copy(), labels[:, None].copy(), ("digit",), (10,), "mnist", meta)
    path = Path(key).expanduser()
    if path.exists():
        return read_dataset(path, split)
    raise ValueError(
        f"unknown dataset {key!r}; choose from {list(DATASET_NAMES)} or give the path of a .h5/.npz file or IDX "
        "folder written by 'basicprop make'"
    )


def read_dataset(path, split: str = "train") -> Dataset:
    """One split of a file or IDX folder written by ``basicprop make``."""
    from basicprop import io

    arrays, head = io.read(path, split)
    meta = {"dataset": str(path), "kind": head["kind"], "kind_params": head["kind_params"], "seed": head["seed"],
            "split": split}
    return Dataset(arrays["images"], arrays["labels"], arrays["factors"], tuple(head["factor_names"]),
                   tuple(head["factor_sizes"]), str(path), meta)


@functools.lru_cache(maxsize=8)
def _rendered(kind_name: str, params_json: str, split: str, n: int, seed: int):
    kind = get_kind(kind_name, **json.loads(params_json))
    arrays = render_split(kind, n, split_rngs(seed)[split])
    out = (arrays["images"], arrays["labels"], arrays["factors"])
    for a in out:
        a.setflags(write=False)
    return out


__all__ = ["DATASET_NAMES", "Dataset", "load_dataset", "read_dataset"]

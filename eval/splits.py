"""Held-out splits for the metrics that fit a predictor (SAP, DCI, probes). Randomness is passed in."""
from __future__ import annotations

import numpy as np

TEST_FRACTION = 1 / 3  # disentanglement_lib samples 10,000 train + 5,000 test points: the same 2:1 ratio


def train_test_split(n: int, rng: np.random.Generator, test_fraction: float = TEST_FRACTION,
                     max_train: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Shuffle ``range(n)`` with ``rng`` -> (train indices, test indices); ``max_train`` caps the train part."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    order = rng.permutation(n)
    n_test = max(1, int(round(n * test_fraction)))
    if n - n_test < 1:
        raise ValueError(f"{n} samples are too few to hold out a test split")
    test, train = order[:n_test], order[n_test:]
    if max_train is not None and train.size > max_train:
        train = train[:max_train]
    return train, test


def standardize(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Zero mean, unit variance per column using the train statistics (constant columns are only centred)."""
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return [(a - mean) / std for a in (train, *others)]

"""A BasicProp kind as disentanglement_lib's ground-truth data: :class:`GroundTruthData`.

disentanglement_lib's metrics (``compute_mig``, ``compute_factor_vae``, ``compute_dci``, ...) take a
``ground_truth_data`` object with this interface, a ``representation_function`` (observations -> codes) and a
``numpy.random.RandomState``. This adapter offers that interface without depending on the library::

    import numpy as np
    from basicprop.ground_truth import GroundTruthData

    data = GroundTruthData("rectangles", bg_noise=(0, 60))
    data.num_factors, data.factors_num_values, data.observation_shape   # 2, [10, 10], (28, 28, 1)
    factors, x = data.sample(16, np.random.RandomState(0))             # (16, 2) int64, (16, 28, 28, 1) float32

Observations are channels-last float32 in [0, 1] (pixel / 255), as disentanglement_lib's datasets give them.
Factors are the kind's factor *indices* ``0 <= f[:, k] < factors_num_values[k]``, a fresh writable array
(disentanglement_lib's FactorVAE score overwrites a column in place).

Randomness: every method takes a ``numpy.random.RandomState`` (what disentanglement_lib passes), a
``numpy.random.Generator`` (used as it is) or a non-negative int seed. A RandomState is turned into a Generator
seeded by one 63-bit draw from it (``as_generator``), so it advances at every call and the same RandomState seed
gives the same factors and images. An int gives the same draws at every call (pass a generator to continue a
stream).
"""
from __future__ import annotations

import numpy as np

from basicprop.kinds import SIZE, Kind, get_kind

OBSERVATION_SHAPE = (SIZE, SIZE, 1)  # disentanglement_lib: observations are (H, W, channels)


def as_generator(random_state) -> np.random.Generator:
    """A ``RandomState`` (one draw seeds a new Generator), a ``Generator`` (as is) or an int seed -> Generator."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(int(random_state.randint(0, 2**63 - 1, dtype=np.int64)))
    return np.random.default_rng(_seed(random_state))


def check_random_state(random_state) -> np.random.RandomState | np.random.Generator:
    """A ``RandomState`` or ``Generator`` as is; an int seed -> ``RandomState(seed)`` (disentanglement_lib's
    ``evaluation.random_seed``), so one object carries the stream through every draw of a metric."""
    if isinstance(random_state, (np.random.RandomState, np.random.Generator)):
        return random_state
    return np.random.RandomState(_seed(random_state))


def _seed(value) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or not 0 <= value < 2**32:
        raise ValueError("random_state must be a numpy.random.RandomState, a numpy.random.Generator or an int seed "
                         f"in 0..2**32-1, got {value!r}")
    return int(value)


class GroundTruthData:
    """disentanglement_lib's ``GroundTruthData`` interface over a BasicProp kind (``get_kind(kind, **params)``)."""

    def __init__(self, kind: Kind | str, **params):
        self.kind = get_kind(kind, **params)

    def __repr__(self) -> str:
        return f"GroundTruthData({self.kind!r})"

    @property
    def num_factors(self) -> int:
        return len(self.kind.factor_sizes)

    @property
    def factors_num_values(self) -> list[int]:
        return list(self.kind.factor_sizes)

    @property
    def factor_names(self) -> tuple[str, ...]:
        return self.kind.factor_names

    @property
    def observation_shape(self) -> tuple[int, int, int]:
        return OBSERVATION_SHAPE

    def sample_factors(self, num: int, random_state) -> np.ndarray:
        """(num, num_factors) int64 factor indices, each factor uniform and independent."""
        return self.kind.sample_factors(num, as_generator(random_state))

    def sample_observations_from_factors(self, factors, random_state) -> np.ndarray:
        """(num, num_factors) factor indices -> (num, 28, 28, 1) float32 images in [0, 1]; noise from random_state."""
        images = self.kind.render(factors, as_generator(random_state))
        return (images.astype(np.float32) / np.float32(255.0))[..., None]

    def sample(self, num: int, random_state) -> tuple[np.ndarray, np.ndarray]:
        """(factors (num, num_factors) int64, observations (num, 28, 28, 1) float32)."""
        rng = as_generator(random_state)
        factors = self.sample_factors(num, rng)
        return factors, self.sample_observations_from_factors(factors, rng)

    def sample_observations(self, num: int, random_state) -> np.ndarray:
        """(num, 28, 28, 1) float32 observations of random factors."""
        return self.sample(num, random_state)[1]


__all__ = ["GroundTruthData", "OBSERVATION_SHAPE", "as_generator", "check_random_state"]

"""Score any representation function on ground-truth data, as disentanglement_lib's ``compute_*`` do:
:func:`compute`.

A model trained elsewhere (a VAE, a disentanglement_lib or disent model, an InfoGAN encoder) enters as a function
from a batch of observations to codes::

    import numpy as np
    from basicprop.ground_truth import GroundTruthData
    from eval.representation import compute

    data = GroundTruthData("rectangles")                  # observations (n, 28, 28, 1) float32 in [0, 1]
    def representation_function(x):                       # (n, 28, 28, 1) -> (n, C) codes
        return model.encode(x)
    scores = compute(data, representation_function, np.random.RandomState(0))
    scores["mig"], scores["factor_vae"], scores["modularity"], scores["explicitness_test"]

``ground_truth_data`` is anything with disentanglement_lib's interface (:class:`basicprop.ground_truth.
GroundTruthData`, or one of disentanglement_lib's own datasets) or a BasicProp kind name. ``random_state`` is a
``numpy.random.RandomState`` (what disentanglement_lib passes), a ``numpy.random.Generator`` or an int seed
(``RandomState(seed)``); it is handed to the data for every draw, so the same seed gives the same scores.

What is drawn, in this order: ``num_train`` (10,000) observations in batches of ``batch_size`` (16), encoded batch
by batch (disentanglement_lib's ``generate_batch_factor_code``); for modularity/explicitness ``num_test`` (5,000)
more; one seed for the held-out splits of SAP and DCI; then FactorVAE's own fixed-factor batches
(:mod:`eval.factor_vae`, its defaults in :class:`~eval.factor_vae.FactorVAEConfig`). The metrics on the codes:
MIG (:mod:`eval.mig`), SAP (:mod:`eval.sap`), DCI (:mod:`eval.dci`), modularity and explicitness
(:mod:`eval.modularity`). The result is one flat dict with each module's keys.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from basicprop.ground_truth import GroundTruthData, check_random_state
from eval import dci as _dci
from eval import mig as _mig
from eval import modularity as _modularity
from eval import sap as _sap
from eval.discretize import NUM_BINS
from eval.factor_vae import FactorVAEConfig, compute_factor_vae, encode

METRICS: tuple[str, ...] = ("mig", "sap", "dci", "factor_vae", "modularity")
NUM_TRAIN = 10_000   # disentanglement_lib: mig / sap / dci / modularity num_train
NUM_TEST = 5_000     # disentanglement_lib: modularity_explicitness.num_test
BATCH_SIZE = 16      # disentanglement_lib: generate_batch_factor_code batch_size

N_SAMPLES = "n_samples"
NUM_CODES = "num_codes"
FACTOR_NAMES = "factor_names"


def generate_codes(ground_truth_data, representation_function: Callable, num_points: int, random_state,
                   batch_size: int = BATCH_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``num_points`` (factors, observations) in batches and encode them: (codes (N, C), factors (N, K))."""
    codes, factors = [], []
    done = 0
    while done < num_points:
        n = min(num_points - done, batch_size)
        batch_factors, observations = ground_truth_data.sample(n, random_state)
        codes.append(encode(representation_function, observations, n))
        factors.append(np.asarray(batch_factors))
        done += n
    width = {c.shape[1] for c in codes}
    if len(width) > 1:
        raise ValueError(f"representation_function returned codes of different widths {sorted(width)}")
    return np.concatenate(codes), np.concatenate(factors).astype(np.int64)


def compute(ground_truth_data, representation_function: Callable, random_state, *, num_train: int = NUM_TRAIN,
            batch_size: int = BATCH_SIZE, metrics: Sequence[str] = METRICS, num_test: int = NUM_TEST,
            factor_vae: FactorVAEConfig = FactorVAEConfig(), num_bins: int = NUM_BINS,
            discrete: Sequence[bool] | None = None, dci_max_train: int | None = None) -> dict:
    """Every requested metric of ``representation_function`` on ``ground_truth_data``, one flat dict.

    metrics: any of :data:`METRICS`. discrete: which code columns are categorical (default: integer-valued
    columns, see :mod:`eval.discretize`). dci_max_train caps DCI's training split (its boosted trees are the slow
    part). Randomness comes only from ``random_state``.
    """
    data = GroundTruthData(ground_truth_data) if isinstance(ground_truth_data, str) else ground_truth_data
    random_state = check_random_state(random_state)
    metrics = _check_metrics(metrics)
    if not callable(representation_function):
        raise ValueError(f"representation_function must be callable, got {representation_function!r}")
    for name, value, minimum in (("num_train", num_train, 3), ("batch_size", batch_size, 1),
                                 ("num_test", num_test, 2)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
            raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    factor_vae.validate()
    with threadpool_limits(limits=1):  # small sklearn models: extra threads only spin (see eval.score)
        return _compute(data, representation_function, random_state, num_train, batch_size, metrics, num_test,
                        factor_vae, num_bins, discrete, dci_max_train)


def _compute(data, fn, random_state, num_train, batch_size, metrics, num_test, factor_vae, num_bins, discrete,
             dci_max_train) -> dict:
    codes, factors = generate_codes(data, fn, num_train, random_state, batch_size)
    names = getattr(data, "factor_names", None) or [f"factor{j}" for j in range(factors.shape[1])]
    out: dict = {N_SAMPLES: int(codes.shape[0]), NUM_CODES: int(codes.shape[1]), FACTOR_NAMES: list(names)}
    if "modularity" in metrics:
        test_codes, test_factors = generate_codes(data, fn, num_test, random_state, batch_size)
    rng = np.random.default_rng(_seed(random_state))
    if "mig" in metrics:
        out.update(_mig.mig(codes, factors, discrete=discrete, num_bins=num_bins))
    if "sap" in metrics:
        out.update(_sap.sap(codes, factors, rng=rng, discrete=discrete))
    if "dci" in metrics:
        out.update(_dci.dci(codes, factors, rng=rng, max_train=dci_max_train))
    if "modularity" in metrics:
        out.update(_modularity.modularity_explicitness(codes, factors, test_codes, test_factors,
                                                       discrete=discrete, num_bins=num_bins))
    if "factor_vae" in metrics:
        out.update(compute_factor_vae(data, fn, random_state, factor_vae))
    return out


def _seed(random_state) -> int:
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(2**31 - 1))
    return int(random_state.integers(2**31 - 1))


def _check_metrics(metrics) -> tuple[str, ...]:
    if isinstance(metrics, str):
        metrics = (metrics,)
    metrics = tuple(metrics)
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise ValueError(f"unknown metric {unknown[0]!r}; choose from {list(METRICS)}" if unknown
                         else f"no metric requested; choose from {list(METRICS)}")
    return metrics

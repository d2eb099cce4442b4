"""Generator direction: sample latents, generate, measure the factors of the generated images, score the codes.

Factors are measured by a :class:`eval.measure.Measurer` (factor classifiers and pixel measurements). Codes ``y``
(C-InfoGAN label), ``cat0..``, ``cont0..`` as sampled, against the measured factors: every metric of
:func:`eval.score.score` but DCI and the probes, and the Spearman correlation of every continuous code with every
ordered factor (BasicProp factors with numeric values, MNIST slant and width; not the digit or a shape name).
Analytic twins of classifier factors are reported as agreement rates (``gen.check.<factor>.agreement``).

**C-InfoGAN**: label fidelity (the measured condition factor equals the requested label ``y``) and the Spearman
correlation of each continuous code with every other measured factor (``cinfogan.rho.<code>.<factor>``), also
among the images of one requested label, averaged over labels (``cinfogan.rho_given_label.<code>.<factor>``).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable

import numpy as np
import torch

from basicprop.images import to_uint8
from eval.codes import add_spearman, latent_codes, spearman_columns, spearman_given
from eval.discretize import histogram_discretize
from eval.keys import (CHECK_AGREEMENT, CINFOGAN, GENERATOR, LABEL_FIDELITY, SPEARMAN, SPEARMAN_CODES,
                       SPEARMAN_FACTORS)
from eval.measure import Measurer
from eval.score import ScoreConfig, score


def factor_matrix(values: dict[str, np.ndarray], measurer: Measurer, num_bins: int):
    """Measured values -> (N, K) int factors (continuous ones binned), names, binned mask, raw (N, K) float."""
    names = measurer.names
    raw = np.stack([np.asarray(values[n], dtype=np.float64) for n in names], axis=1)
    binned = [m.continuous for m in measurer.factors]
    ints = np.stack([histogram_discretize(raw[:, j], num_bins) if binned[j] else raw[:, j].astype(np.int64)
                     for j in range(len(names))], axis=1)
    return ints, names, binned, raw


def cinfogan_entries(result: dict, measured: dict, y: np.ndarray, cond: str | None, given_label: np.ndarray,
                     log: Callable[[str], None]) -> dict:
    """Label fidelity (None when the condition factor is not measured), Spearman(code, other factors) and the same
    correlations among the images of one label, averaged over labels (``given_label``: the (C_cont, K)
    :func:`eval.codes.spearman_given` over the requested labels; ``cinfogan.rho_given_label.*``)."""
    entries: dict = {}
    if cond in measured:
        entries[CINFOGAN + LABEL_FIDELITY] = float(np.mean(np.asarray(measured[cond]) == y))
    else:
        entries[CINFOGAN + LABEL_FIDELITY] = None
        log(f"warning: condition factor {cond!r} is not measured; label fidelity not computed")
    for r, code in enumerate(result[SPEARMAN_CODES]):
        for f, fname in enumerate(result[SPEARMAN_FACTORS]):
            if fname != cond:
                entries[f"{CINFOGAN}rho.{code}.{fname}"] = result[SPEARMAN][r][f]
                entries[f"{CINFOGAN}rho_given_label.{code}.{fname}"] = float(given_label[r][f])
    return entries


def generate(model, n_samples: int, generator: torch.Generator):
    """``n_samples`` latents drawn with ``generator`` and their images -> (latent, (n, 28, 28) uint8 images)."""
    latent = model.sample_latent(n_samples, generator)
    return latent, to_uint8(model.generate(latent))


def generator_direction(model, measurer: Measurer, layout, latent, images: np.ndarray, *, num_bins: int,
                        score_config: ScoreConfig, rng: np.random.Generator, log: Callable[[str], None]) -> dict:
    """Score G's sampled codes ``latent`` on the factors measured on its ``images`` (from :func:`generate`) ->
    report entries ``gen.*`` (``cinfogan.*``)."""
    measured = measurer.measure(images)
    codes, discrete = latent_codes(latent, layout)
    factors, names, binned, raw = factor_matrix(measured, measurer, num_bins)
    result = score(codes, factors, rng=rng, discrete=discrete, config=replace(score_config, dci=False, probes=False),
                   code_names=[n for n, _, _ in layout], factor_names=names, binned=binned)
    ordinal = [m.ordinal for m in measurer.factors]
    add_spearman(result, codes, discrete, raw, ordinal)
    entries = {GENERATOR + k: v for k, v in result.items()}
    for chk in measurer.checks:
        entries[f"{GENERATOR}check.{chk.twin_of}.{CHECK_AGREEMENT}"] = float(np.mean(measured[chk.name]
                                                                                   == measured[chk.twin_of]))
    if model.spec.cond:
        y = latent.y.cpu().numpy()
        cont, cols = spearman_columns(discrete, ordinal)
        entries.update(cinfogan_entries(result, measured, y, model.dataset_meta.get("condition_factor"),
                                        spearman_given(codes[:, cont], raw[:, cols], y), log))
    return entries

"""``disentangle(config)``: how well do a checkpoint's codes recover the known factors? Returns one flat report dict
and writes no report file (:func:`eval.report.write_report` writes the JSON and the pictures; ``python -m eval
disentangle`` calls both); the only file it may write is a newly trained factor classifier, into its cache.
Sizes are checked against the memory available before anything is allocated.

Three steps, each in its own module, the first two scored with :func:`eval.score.score` (categorical code ->
argmax / sampled value, discrete; continuous code -> Q's mean / sampled value, continuous, 20 histogram bins for MI):

* :mod:`eval.encoder_direction` — Q reads real images with known factors: MI matrix, MIG, SAP, DCI (trees on
  ``dci_max_train`` = 2,000 training samples), one-to-one accuracy / purity / NMI / ARI of every categorical code,
  logistic and MLP probes, Spearman of continuous codes with ordered factors (keys ``enc.*``).
* :mod:`eval.generator_direction` — sample latents, generate, measure the factors of the generated images with the
  factor classifiers of :mod:`eval.factor_classifiers` (cached; their test accuracy is reported as
  ``classifier.<factor>.test_accuracy``) and the pixel measurements of :mod:`eval.measure` (keys ``gen.*``;
  C-InfoGAN label fidelity and Spearman correlations ``cinfogan.*``).
* :mod:`eval.traversal` — sweep one code alone over ``traversal_bases`` base latents and measure how each factor
  moves (keys ``trav.*``); the captioned sweep picture is under ``report[TRAVERSAL_GRID]`` (not in the JSON).
* :mod:`eval.sample_quality` (``quality``) — Fréchet distance and precision / recall / density / coverage between
  the first ``quality_samples`` (5,000) of the real images and as many generated ones, in the penultimate-layer
  features of the dataset's factor classifiers (keys ``quality.*``; not comparable with Inception FID).
* ``baseline`` — the encoder and generator directions and sample quality again for the untrained network
  (:func:`gan_models.baseline.untrained_like`: same architecture and seed, initial weights) with the same
  settings, seed and samples, every entry under ``untrained.`` (``untrained.enc.mig``, ``untrained.quality.fd``).

Real images whose factors (names, sizes) differ from the checkpoint's training data are refused unless
``allow_other_factors``.

The report also holds the settings (``setting.*``), library versions (``version.*``), the checkpoint's code spec
and dataset metadata (``checkpoint.*``) and the seconds each step took (``timing.*``).
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from basicprop import resources
from eval import report
from eval.codes import code_layout
from eval.config import DisentangleConfig, validate
from eval.encoder_direction import check_factors, encoder_direction, load_real
from eval.generator_direction import generate, generator_direction
from eval.keys import QUALITY, TRAVERSAL_GRID, UNTRAINED
from eval.measure import build_measurer, dataset_classifiers
from eval.sample_quality import (CHUNK, FEATURES, classifier_features, features_name, real_manifold,
                                 sample_quality)
from eval.score import ScoreConfig
from eval.traversal import traversal

# Host memory per scored sample, a little above the measured growth of the peak with --n-samples (generated images,
# their uint8 copy, the classifiers' float input, measurement temporaries): 2.8-4.6 kB on line and rectangles, and
# 25 kB on MNIST, whose slant and width come from float64 moments of every image.
BYTES_PER_SAMPLE = 8 * 1024
MNIST_BYTES_PER_SAMPLE = 24 * 1024
# Sample quality: distance blocks of sample_quality.CHUNK rows by n float32 columns, a few alive at once.
QUALITY_BYTES_PER_SAMPLE = 4 * 4 * CHUNK


def memory_estimate(config: DisentangleConfig, spec, kind: str | None) -> int:
    """Bytes the largest batch of images needs: ``n_samples`` generated images, or one code's traversal sweeps."""
    sweep = max([config.traversal_steps, spec.cond, *spec.cat])
    n = max(config.n_samples, config.traversal_bases * sweep)
    quality = QUALITY_BYTES_PER_SAMPLE * min(config.n_samples, config.quality_samples) if config.quality else 0
    return n * (BYTES_PER_SAMPLE + (MNIST_BYTES_PER_SAMPLE if kind == "mnist" else 0)) + quality


def check_memory(config: DisentangleConfig, spec, kind: str | None) -> None:
    """Refuse, before allocating, sizes whose images cannot fit in the memory available now."""
    resources.check_memory(memory_estimate(config, spec, kind),
               f"--n-samples {config.n_samples} with --traversal-bases {config.traversal_bases}", "score fewer samples")


def check_data(config: DisentangleConfig, model) -> None:
    """Refuse, before anything is written, a ``--dataset`` whose factors differ from the checkpoint's training data
    (unless ``allow_other_factors``); :func:`disentangle` checks again on the images it scores."""
    if config.dataset is None or config.allow_other_factors:
        return
    config = _with_training_data_dir(config, model)
    real = load_real(model, config.dataset, config.data_dir, config.n_samples, np.random.default_rng(config.seed))
    check_factors(model, real[0])


def _settings(config: DisentangleConfig, model) -> dict:
    rep = report.flatten("setting.", {k: v for k, v in asdict(config).items() if k != "classifier"})
    rep.update(report.flatten("setting.classifier.", asdict(config.classifier)))
    rep.update(report.flatten("version.", report.versions()))
    rep["checkpoint.spec"] = model.spec.to_dict()
    rep["checkpoint.dataset_meta"] = model.dataset_meta
    return rep


def _with_training_data_dir(config: DisentangleConfig, model) -> DisentangleConfig:
    """Without --data-dir and $BASICPROP_MNIST_DIR: the MNIST directory the checkpoint was trained from."""
    trained_on = (getattr(model, "config", None) or {}).get("data_dir")
    if config.data_dir is None and not os.environ.get("BASICPROP_MNIST_DIR") and trained_on \
            and Path(trained_on).is_dir():
        return replace(config, data_dir=trained_on)
    return config


def _directions(model, real, measurer, layout, config: DisentangleConfig, scoring: ScoreConfig, lap, log):
    """The encoder and generator directions of one model, from the seed: the trained and the untrained model get
    the same splits, latents and generated samples. -> (entries, reference scales, generated images, the torch
    generator where the traversal continues)."""
    rng, gen = np.random.default_rng(config.seed), torch.Generator().manual_seed(config.seed)
    rep, scales = encoder_direction(model, real, num_bins=config.num_bins, score_config=scoring, rng=rng,
                                    q_draws=config.q_draws, seed=config.seed)
    lap("encoder")
    latent, images = generate(model, config.n_samples, gen)
    rep.update(generator_direction(model, measurer, layout, latent, images, num_bins=config.num_bins,
                                   score_config=scoring, rng=rng, log=log))
    lap("generator")
    return rep, scales, images, gen


def disentangle(config: DisentangleConfig, *, model=None, baseline_model=None,
                log: Callable[[str], None] = lambda message: None) -> dict:
    """Run the encoder direction, the generator direction, the traversal test and sample quality -> the flat
    report dict; with ``config.baseline`` the same directions and quality again for the untrained network, under
    ``untrained.*``.

    ``model``: an already loaded checkpoint (anything with ``spec``, ``dataset_meta``, ``sample_latent``,
    ``generate``, ``encode``, ``device``); else ``gan_models.load_checkpoint(config.ckpt, config.device)``.
    ``baseline_model``: the untrained twin to score; default :func:`gan_models.baseline.untrained_like` of ``model``
    (which needs the checkpoint's training config). ``log`` receives progress lines (classifier training); silent
    by default. Writes no report file. Raises ValueError when the real data's factors differ from the training
    data's (unless ``config.allow_other_factors``).
    """
    validate(config)
    timing, t0 = {}, time.perf_counter()
    if model is None:
        if not config.ckpt:
            raise ValueError("--ckpt is required")
        from gan_models import load_checkpoint
        model = load_checkpoint(config.ckpt, device=config.device)
    layout = code_layout(model.spec)
    if not layout:
        raise ValueError("this checkpoint has no latent codes (a vanilla GAN): nothing to score")
    check_memory(config, model.spec, model.dataset_meta.get("kind"))
    config = _with_training_data_dir(config, model)
    if config.baseline and baseline_model is None:
        from gan_models.baseline import untrained_like
        baseline_model = untrained_like(model)
    clock = [t0]

    def lap(name: str) -> None:
        now = time.perf_counter()
        timing[f"timing.{name}"] = round(timing.get(f"timing.{name}", 0.0) + now - clock[0], 3)
        clock[0] = now

    real = load_real(model, config.dataset, config.data_dir, config.n_samples, np.random.default_rng(config.seed))
    check_factors(model, real[0], config.allow_other_factors)
    lap("load")
    device = str(getattr(model, "device", "cpu"))
    measurer = build_measurer(model.dataset_meta, use_classifiers=config.measure == "classifier",
                              config=config.classifier, data_dir=config.data_dir, device=device, log=log)
    quality = _QualityFeatures(model.dataset_meta, config, device, real[1][:config.quality_samples], log) \
        if config.quality else None
    lap("classifiers")
    rep = _settings(config, model)
    rep.update({f"classifier.{m.name}.test_accuracy": m.test_accuracy for m in measurer.factors
                if m.source == "classifier"})
    scoring = ScoreConfig(num_bins=config.num_bins, sap=config.sap, dci=config.dci,
                          dci_max_train=config.dci_max_train, probes=config.probes, mlp=config.mlp)
    entries, scales, images, gen = _directions(model, real, measurer, layout, config, scoring, lap, log)
    rep.update(entries)
    if quality:
        rep.update(quality.entries(images[:config.quality_samples]))
        lap("quality")
    trav, rep[TRAVERSAL_GRID] = traversal(model, measurer, layout, bases=config.traversal_bases,
                                          steps=config.traversal_steps, grid_bases=config.grid_bases,
                                          grid_columns=config.grid_columns, generator=gen, scales=scales)
    rep.update(trav)
    lap("traversal")
    if config.baseline:
        entries, _, images, _ = _directions(baseline_model, real, measurer, layout, config, scoring,
                                            lambda name: lap(f"untrained_{name}"), log)
        if quality:
            entries.update(quality.entries(images[:config.quality_samples]))
            lap("untrained_quality")
        rep.update({UNTRAINED + k: v for k, v in entries.items()})
    rep.update(timing)
    rep["timing.total"] = round(time.perf_counter() - t0, 3)
    return rep


class _QualityFeatures:
    """Sample quality against one set of real images: their classifier features are computed once."""

    def __init__(self, meta: dict, config: DisentangleConfig, device: str, real_images: np.ndarray, log):
        self.classifiers = dataset_classifiers(meta, config=config.classifier, data_dir=config.data_dir,
                                               device=device, log=log)
        self.real = classifier_features(self.classifiers, real_images)
        self.manifold = real_manifold(self.real)
        self.name = features_name(self.classifiers)

    def entries(self, fake_images: np.ndarray) -> dict:
        result = sample_quality(self.real, classifier_features(self.classifiers, fake_images), manifold=self.manifold)
        return {QUALITY + k: v for k, v in {**result, FEATURES: self.name}.items()}

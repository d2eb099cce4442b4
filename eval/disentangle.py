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
from eval.encoder_direction import encoder_direction
from eval.generator_direction import generator_direction
from eval.keys import TRAVERSAL_GRID
from eval.measure import build_measurer
from eval.score import ScoreConfig
from eval.traversal import traversal

# Host memory per scored sample, a little above the measured growth of the peak with --n-samples (generated images,
# their uint8 copy, the classifiers' float input, measurement temporaries): 2.8-4.6 kB on line and rectangles, and
# 25 kB on MNIST, whose slant and width come from float64 moments of every image.
BYTES_PER_SAMPLE = 8 * 1024
MNIST_BYTES_PER_SAMPLE = 24 * 1024


def memory_estimate(config: DisentangleConfig, spec, kind: str | None) -> int:
    """Bytes the largest batch of images needs: ``n_samples`` generated images, or one code's traversal sweeps."""
    sweep = max([config.traversal_steps, spec.cond, *spec.cat])
    n = max(config.n_samples, config.traversal_bases * sweep)
    return n * (BYTES_PER_SAMPLE + (MNIST_BYTES_PER_SAMPLE if kind == "mnist" else 0))


def check_memory(config: DisentangleConfig, spec, kind: str | None) -> None:
    """Refuse, before allocating, sizes whose images cannot fit in the memory available now."""
    resources.check_memory(memory_estimate(config, spec, kind),
               f"--n-samples {config.n_samples} with --traversal-bases {config.traversal_bases}", "score fewer samples")


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


def disentangle(config: DisentangleConfig, *, model=None, log: Callable[[str], None] = lambda message: None) -> dict:
    """Run the encoder direction, the generator direction and the traversal test -> the flat report dict.

    ``model``: an already loaded checkpoint (anything with ``spec``, ``dataset_meta``, ``sample_latent``,
    ``generate``, ``encode``, ``device``); else ``gan_models.load_checkpoint(config.ckpt, config.device)``.
    ``log`` receives progress lines (classifier training); silent by default. Writes no report file.
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
    rng, gen = np.random.default_rng(config.seed), torch.Generator().manual_seed(config.seed)

    def lap(name: str, start: float = t0) -> float:
        timing[f"timing.{name}"] = round(time.perf_counter() - start, 3)
        return time.perf_counter()

    t = lap("load")
    measurer = build_measurer(model.dataset_meta, use_classifiers=config.measure == "classifier",
                              config=config.classifier, data_dir=config.data_dir,
                              device=str(getattr(model, "device", "cpu")), log=log)
    t = lap("classifiers", t)
    rep = _settings(config, model)
    rep.update({f"classifier.{m.name}.test_accuracy": m.test_accuracy for m in measurer.factors
                if m.source == "classifier"})
    scoring = ScoreConfig(num_bins=config.num_bins, sap=config.sap, dci=config.dci,
                          dci_max_train=config.dci_max_train, probes=config.probes, mlp=config.mlp)
    enc, scales = encoder_direction(model, dataset=config.dataset, data_dir=config.data_dir,
                                    n_samples=config.n_samples, num_bins=config.num_bins, score_config=scoring, rng=rng)
    rep.update(enc)
    t = lap("encoder", t)
    rep.update(generator_direction(model, measurer, layout, n_samples=config.n_samples, num_bins=config.num_bins,
                                   score_config=scoring, generator=gen, rng=rng, log=log))
    t = lap("generator", t)
    trav, rep[TRAVERSAL_GRID] = traversal(model, measurer, layout, bases=config.traversal_bases,
                                          steps=config.traversal_steps, grid_bases=config.grid_bases,
                                          grid_columns=config.grid_columns, generator=gen, scales=scales)
    rep.update(trav)
    lap("traversal", t)
    rep.update(timing)
    rep["timing.total"] = round(time.perf_counter() - t0, 3)
    return rep

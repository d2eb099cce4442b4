"""The untrained baseline of a checkpoint: the same network at initialisation, for reading every score beside it.

A random, untrained Q already reads some information from images (its continuous outputs are random features of
the image), so a score means learning only where it stands above the same architecture's score at step 0.
"""
from __future__ import annotations

import dataclasses

import torch

from .checkpoint import Loaded, build_model


def untrained_like(model: Loaded) -> Loaded:
    """The same architecture as ``model`` with the initial weights training started from (``torch.manual_seed`` of
    the training seed, then the model is built), in eval mode on ``model``'s device; step 0, no metrics.

    torch's global RNG is left as it was. Raises ValueError for a model that carries no training config."""
    config = getattr(model, "config", None)
    if not isinstance(config, dict) or "seed" not in config:
        raise ValueError("no untrained baseline for a model without its training config (seed and architecture)")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(config["seed"]))
        net = build_model(config, model.spec)
    net.to(model.device).eval()
    return dataclasses.replace(model, generator=net.G, discriminator=net.D, step=0, metrics={})

"""InfoGAN, C-InfoGAN and the study's variants on BasicProp and MNIST.

    from gan_models import make_config, train, load_checkpoint, resume_config
    ckpt = train(make_config("infogan", dataset="basicprop-line", out="runs/line"))
    m = load_checkpoint(ckpt, device="cpu")
    ckpt = train(resume_config("runs/line", steps=2000), resume=True)   # continue it exactly
    ckpts = train_stacked([make_config("infogan-line", seed=s, out=f"runs/line/seed{s}") for s in range(4)])

The names below are imported on first use, so ``import gan_models.config`` (the command line's option table) does
not import torch.
"""
import importlib

_HOME = {"Loaded": "checkpoint", "load_checkpoint": "checkpoint", "resume_config": "checkpoint",
         "PRESETS": "config", "TrainConfig": "config", "make_config": "config", "validate": "config",
         "resolve_device": "device", "CodeSpec": "latent", "Latent": "latent", "sample_latent": "latent",
         "QOut": "nets", "TrainingDiverged": "trainer", "TrainingInterrupted": "trainer", "train": "trainer",
         "train_stacked": "stacked"}

__all__ = sorted(_HOME)


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
    globals()[name] = value
    return value

"""InfoGAN, C-InfoGAN and the study's variants on BasicProp and MNIST.

    from gan_models import make_config, train, load_checkpoint, resume_config
    ckpt = train(make_config("infogan", dataset="basicprop-line", out="runs/line"))
    m = load_checkpoint(ckpt, device="cpu")
    ckpt = train(resume_config("runs/line", steps=2000), resume=True)   # continue it exactly
"""
from .checkpoint import Loaded, load_checkpoint, resume_config
from .config import PRESETS, TrainConfig, make_config, validate
from .device import resolve_device
from .latent import CodeSpec, Latent, sample_latent
from .nets import QOut
from .trainer import TrainingDiverged, TrainingInterrupted, train

__all__ = ["CodeSpec", "Latent", "Loaded", "PRESETS", "QOut", "TrainConfig", "TrainingDiverged",
           "TrainingInterrupted", "load_checkpoint", "make_config", "resolve_device", "resume_config",
           "sample_latent", "train", "validate"]

"""InfoGAN, C-InfoGAN and the study's variants on BasicProp and MNIST.

    from gan_models import make_config, train, load_checkpoint
    ckpt = train(make_config("infogan", dataset="basicprop-line", out="runs/line"))
    m = load_checkpoint(ckpt, device="cpu")
"""
from .checkpoint import Loaded, load_checkpoint, resolve_device
from .config import PRESETS, TrainConfig, make_config, validate
from .latent import CodeSpec, Latent, sample_latent
from .nets import QOut
from .trainer import TrainingDiverged, train

__all__ = ["CodeSpec", "Latent", "Loaded", "PRESETS", "QOut", "TrainConfig", "TrainingDiverged",
           "load_checkpoint", "make_config", "resolve_device", "sample_latent", "train", "validate"]

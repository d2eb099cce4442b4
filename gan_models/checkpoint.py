"""One checkpoint file holds everything to resume or evaluate a run; written atomically, loaded weights-only.

Layout of ``ckpt.pt`` (every value is a tensor or plain JSON-able python data, so
``torch.load(path, weights_only=True)`` reads it):

    format        int, CHECKPOINT_FORMAT
    config        dict, the full TrainConfig
    spec          dict, the CodeSpec
    dataset_meta  dict, ds.meta plus factor_names, factor_sizes, condition_factor
    step          int, optimisation steps done
    model         state dict of InfoGAN / CInfoGAN (G.*, D.*)
    optims        {"D": Adam state dict, "G": Adam state dict}
    rng           {"train": state of the training torch.Generator, "torch": torch's global CPU RNG}
    metrics       dict, the last training-time metrics (Q accuracy on real images, ...)
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .latent import CodeSpec, Latent, sample_latent
from .nets import QOut

CHECKPOINT_FORMAT = 1


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' -> CUDA, then MPS, then CPU; anything else is passed to torch.device (checked)."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} requested but CUDA is not available")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {name!r} requested but MPS is not available")
    return dev


def all_finite(module: torch.nn.Module) -> bool:
    """True when every parameter and buffer is finite (one host sync)."""
    flags = [torch.isfinite(t).all() for t in list(module.parameters()) + list(module.buffers())
             if t.is_floating_point()]
    return bool(torch.stack(flags).all()) if flags else True


def save_checkpoint(path: str | os.PathLike, state: dict) -> Path:
    """Write ``state`` to ``path`` atomically (temp file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def read_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict:
    """The raw checkpoint dict (weights_only load). Raises ValueError for a file that is not one of ours."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(2, "no such checkpoint", str(path))
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # pickle / zip errors: not a checkpoint of this project
        raise ValueError(f"cannot read checkpoint {path}: {exc}") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a gan_models checkpoint (format {CHECKPOINT_FORMAT})")
    return state


@dataclass
class Loaded:
    """A trained model ready for evaluation: G, and D with Q on its shared trunk, in eval mode on ``device``."""

    spec: CodeSpec
    generator: torch.nn.Module
    discriminator: torch.nn.Module
    config: dict
    dataset_meta: dict
    device: torch.device
    step: int = 0
    metrics: dict = field(default_factory=dict)
    batch_size: int = 1024

    def sample_latent(self, n: int, generator: torch.Generator) -> Latent:
        """n latent points drawn with ``generator`` (any device), returned on ``self.device``."""
        return sample_latent(self.spec, n, generator).to(self.device)

    @torch.no_grad()
    def generate(self, latent: Latent) -> torch.Tensor:
        """(n, 1, 28, 28) float in [0, 1] on ``self.device``."""
        latent = latent.to(self.device)
        x = latent.to_input(self.spec)
        if len(x) == 0:
            return x.new_zeros(0, 1, 28, 28)
        return torch.cat([self.generator(x[i:i + self.batch_size]) for i in range(0, len(x), self.batch_size)])

    @torch.no_grad()
    def encode(self, images) -> QOut:
        """Q's code parameters. images: (n, 28, 28) uint8 numpy/tensor, or (n, 1, 28, 28) float in [0, 1]."""
        x = to_float_images(images, self.device)
        if len(x) == 0:
            x = x.new_zeros(0, 1, 28, 28)
            e = x.new_zeros(0, self.spec.cont)
            return QOut([x.new_zeros(0, k) for k in self.spec.cat], e,
                        e if self.discriminator.learn_cont_std else None)
        outs = [self.discriminator.q(self.discriminator.trunk(x[i:i + self.batch_size]))
                for i in range(0, len(x), self.batch_size)]
        cat = [torch.cat([o.cat_logits[j] for o in outs]) for j in range(self.spec.n_cat)]
        mean = torch.cat([o.cont_mean for o in outs])
        logstd = None if outs[0].cont_logstd is None else torch.cat([o.cont_logstd for o in outs])
        return QOut(cat, mean, logstd)


def to_float_images(images, device) -> torch.Tensor:
    """uint8 (n, 28, 28) / (n, 1, 28, 28) numpy or tensor, or float in [0, 1] -> (n, 1, 28, 28) float32."""
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(np.ascontiguousarray(images))
    if images.dim() == 3:
        images = images.unsqueeze(1)
    if images.dim() != 4 or images.shape[1] != 1:
        raise ValueError(f"expected images of shape (n, 28, 28) or (n, 1, 28, 28), got {tuple(images.shape)}")
    if images.dtype == torch.uint8:
        return images.to(device).float().div_(255.0)
    return images.to(device=device, dtype=torch.float32)


def build_model(config: dict, spec: CodeSpec):
    """The InfoGAN / CInfoGAN module a config describes (fresh weights)."""
    from .cinfogan import MODEL_CLASSES
    from .config import TrainConfig
    cfg = TrainConfig.from_dict(config)
    return MODEL_CLASSES[cfg.model].from_config(spec, cfg)


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu") -> Loaded:
    """Load a checkpoint for evaluation on any device (``"auto"`` resolves like training)."""
    dev = resolve_device(device) if isinstance(device, str) else torch.device(device)
    state = read_checkpoint(path, map_location="cpu")
    spec = CodeSpec.from_dict(state["spec"])
    model = build_model(state["config"], spec)
    model.load_state_dict(state["model"])
    model.to(dev).eval()
    return Loaded(spec=spec, generator=model.G, discriminator=model.D, config=state["config"],
                  dataset_meta=state["dataset_meta"], device=dev, step=int(state["step"]),
                  metrics=dict(state.get("metrics") or {}))

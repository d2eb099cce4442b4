"""One checkpoint file holds everything to resume or evaluate a run; written atomically, loaded weights-only.

Layout of ``ckpt.pt`` (every value is a tensor or plain JSON-able python data, so
``torch.load(path, weights_only=True)`` reads it):

    format            int, CHECKPOINT_FORMAT
    config            dict, the full TrainConfig
    spec              dict, the CodeSpec
    dataset_meta      dict, ds.meta plus factor_names, factor_sizes, condition_factor
    data_fingerprint  dict, what the training data was: dataset, kind, kind_params, seed, sizes, sha256 of its arrays
    step              int, optimisation steps done
    model             state dict of InfoGAN / CInfoGAN (G.*, D.*)
    optims            {"D": Adam state dict, "G": Adam state dict}
    rng               {"train": state of the training torch.Generator, "device": its device type}
    metrics           dict, the last training-time metrics (Q on real images, ...)

A weights-only file (``best.pt``, ``export_weights``) lacks ``optims`` and ``rng`` and has ``weights_only: True``:
it samples and scores (``load_checkpoint``) but does not resume. Checkpoints written before ``data_fingerprint``
existed load and resume without the data check. ``keep_previous`` keeps earlier checkpoints as ``ckpt_<step>.pt``.
"""
from __future__ import annotations

import io
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from basicprop.files import atomic_path, write_bytes

from .config import TrainConfig, check_resumable, validate
from .device import ensure_fits, resolve_device
from .latent import CodeSpec, Latent, sample_latent
from .nets import QOut

CHECKPOINT_FORMAT = 1
CKPT_NAME = "ckpt.pt"
BEST_NAME = "best.pt"
LOAD_KEYS = ("config", "spec", "dataset_meta", "step", "model")     # what evaluation needs
RESUME_KEYS = LOAD_KEYS + ("optims", "rng")                        # and what resuming needs besides
_KEPT = re.compile(r"ckpt_(\d{6,})\.pt")


def all_finite(module: torch.nn.Module) -> bool:
    """True when every parameter and buffer is finite (one host sync)."""
    flags = [torch.isfinite(t).all() for t in list(module.parameters()) + list(module.buffers())
             if t.is_floating_point()]
    return bool(torch.stack(flags).all()) if flags else True


def checkpoint_state(config: dict, spec: CodeSpec, dataset_meta: dict, data_fingerprint: dict, step: int,
                     model: torch.nn.Module, optims: dict, generator: torch.Generator, metrics: dict) -> dict:
    """The dict ``ckpt.pt`` holds (layout in the module docstring)."""
    return {"format": CHECKPOINT_FORMAT, "config": config, "spec": spec.to_dict(), "dataset_meta": dataset_meta,
            "data_fingerprint": data_fingerprint, "step": step, "model": model.state_dict(),
            "optims": {k: o.state_dict() for k, o in optims.items()},
            "rng": {"train": generator.get_state(), "device": generator.device.type}, "metrics": metrics}


def weights_only(state: dict) -> dict:
    """``state`` without what only resuming needs (the optimiser states and the training generator)."""
    return {**{k: v for k, v in state.items() if k not in ("optims", "rng")}, "weights_only": True}


def export_weights(src: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Write the weights-only form of checkpoint ``src`` to ``out`` (atomically): what ``load_checkpoint`` needs
    to sample and score (G, D and Q weights and buffers, spec, config, dataset meta, fingerprint, step, metrics),
    without the optimiser state. ValueError when ``src`` is not a checkpoint or ``out`` is ``src`` itself."""
    src, out = Path(src), Path(out)
    state = read_checkpoint(src)
    if out.exists() and out.resolve() == src.resolve():
        raise ValueError(f"--out {out} is the checkpoint itself; write the weights to another file")
    return save_checkpoint(out, weights_only(state))


def keep_previous(path: Path, step: int, n: int) -> None:
    """Keep the checkpoint at ``path`` (of ``step``) as ``ckpt_<step:06d>.pt`` beside it before it is replaced,
    and remove the older ``ckpt_*.pt`` beyond the ``n`` of the highest steps (``n = 0``: remove them all)."""
    if n > 0:
        with atomic_path(path.parent / f"ckpt_{step:06d}.pt", durable=True) as tmp:
            tmp.unlink()
            try:
                os.link(path, tmp)              # the same bytes at no cost: ckpt.pt is replaced, never rewritten
            except OSError:
                shutil.copyfile(path, tmp)
    kept = sorted((int(m.group(1)), p) for p in path.parent.iterdir() if (m := _KEPT.fullmatch(p.name)))
    for _, old in kept[:max(len(kept) - n, 0)]:
        old.unlink(missing_ok=True)


def save_checkpoint(path: str | os.PathLike, state: dict) -> Path:
    """Write ``state`` to ``path`` atomically and durably (``basicprop.files``).

    A failed write (a full disk, ...) raises OSError saying that the previous file at ``path`` is intact.
    """
    path = Path(path)
    buf = io.BytesIO()
    torch.save(state, buf)
    existed = path.is_file()
    try:
        write_bytes(path, buf.getbuffer(), durable=True)
    except OSError as exc:
        kept = f"the previous {path.name} is intact" if existed else "no checkpoint was written"
        raise OSError(exc.errno, f"{exc.strerror or exc} while saving a checkpoint; {kept}", str(path)) from None
    return path


def read_checkpoint(path: str | os.PathLike, map_location="cpu", *, need: tuple[str, ...] = LOAD_KEYS) -> dict:
    """The raw checkpoint dict (weights_only load). Raises ValueError for a file that is not one of ours or
    lacks any of the keys in ``need``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(2, "no such checkpoint", str(path))
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # pickle / zip errors: not a checkpoint of this project
        raise ValueError(f"cannot read checkpoint {path}: {exc}") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a gan_models checkpoint (format {CHECKPOINT_FORMAT})")
    missing = [k for k in need if k not in state]
    if missing and state.get("weights_only"):
        raise ValueError(f"{path} holds weights only (no optimiser state): it samples and scores but cannot resume "
                         f"training; resume from the run's full {CKPT_NAME}")
    if missing:
        raise ValueError(f"checkpoint {path} is incomplete: it lacks {missing}")
    return state


def spec_from(state: dict, path) -> CodeSpec:
    """The checkpoint's CodeSpec; ValueError when it is malformed."""
    try:
        return CodeSpec.from_dict(state["spec"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"checkpoint {path} has a malformed code spec ({exc!r})") from None


def check_state_dict(module: torch.nn.Module, saved: dict, path) -> None:
    """ValueError unless ``saved`` has exactly ``module``'s tensors with the same shapes."""
    if not isinstance(saved, dict):
        raise ValueError(f"checkpoint {path} holds no state dict of a model")
    own = module.state_dict()
    missing, unexpected = sorted(set(own) - set(saved)), sorted(set(saved) - set(own))
    wrong = [f"{k} {tuple(saved[k].shape)} (config: {tuple(own[k].shape)})" for k in own
             if k in saved and (not torch.is_tensor(saved[k]) or saved[k].shape != own[k].shape)]
    if missing or unexpected or wrong:
        detail = "; ".join(f"{what}: {items[:3]}" for what, items in
                           (("missing", missing), ("unexpected", unexpected), ("shape", wrong)) if items)
        raise ValueError(f"checkpoint {path} does not match the model its config describes ({detail})")


def _fits(opt: torch.optim.Optimizer, state) -> bool:
    """Whether a saved optimizer state dict has per-parameter tensors of ``opt``'s parameters' shapes."""
    if not isinstance(state, dict) or not isinstance(state.get("state"), dict):
        return False
    params = [p for group in opt.param_groups for p in group["params"]]
    for i, moments in state["state"].items():
        if not (isinstance(i, int) and 0 <= i < len(params) and isinstance(moments, dict)):
            return False
        if any(torch.is_tensor(v) and v.dim() > 0 and v.shape != params[i].shape for v in moments.values()):
            return False
    return True


def load_optimizers(optims: dict, saved, path) -> None:
    """Load the saved optimizer states; ValueError when one does not fit the model's parameters."""
    for name, opt in optims.items():
        state = saved.get(name) if isinstance(saved, dict) else None
        if not _fits(opt, state):
            raise ValueError(f"checkpoint {path}: the saved {name} optimizer state does not fit the model")
        opt.load_state_dict(state)


def restore_generator(generator: torch.Generator, rng: dict, seed: int, step: int) -> bool:
    """Load the saved training-generator state; True when it is continued exactly.

    A state of another device's generator (a checkpoint written on CUDA resumed on a CPU-only machine, or back)
    cannot be continued: the generator is then reseeded from (seed, step), and False is returned.
    """
    saved = rng["train"].cpu()
    if saved.dtype == torch.uint8 and saved.shape == generator.get_state().shape:
        generator.set_state(saved)
        return True
    generator.manual_seed(seed * 1_000_003 + step)
    return False


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
        """n latent points drawn with ``generator`` (any device), returned on ``self.device``.

        Raises ValueError when n latents and their n images could not fit in memory (estimated first)."""
        ensure_fits(n * 4 * (self.spec.input_dim + 28 * 28), generator.device, f"{n} samples")
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


def count_parameters(config: dict, spec: CodeSpec) -> int:
    """Parameters of the model a config describes, counted without allocating them (meta device)."""
    from .cinfogan import MODEL_CLASSES
    cfg = TrainConfig.from_dict(config)
    with torch.device("meta"):
        return sum(p.numel() for p in MODEL_CLASSES[cfg.model].from_config(spec, cfg).parameters())


def build_model(config: dict, spec: CodeSpec):
    """The InfoGAN / CInfoGAN module a config describes (fresh weights, on the CPU).

    Raises ValueError for an invalid config, or when the weights could not fit in memory (estimated first)."""
    from .cinfogan import MODEL_CLASSES
    cfg = TrainConfig.from_dict(config)
    validate(cfg)
    n = count_parameters(config, spec)
    ensure_fits(4 * n, torch.device("cpu"), f"a model of {n:,} parameters")
    return MODEL_CLASSES[cfg.model].from_config(spec, cfg)


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu") -> Loaded:
    """Load a checkpoint for evaluation on any device (``"auto"`` resolves like training)."""
    dev = resolve_device(device) if isinstance(device, str) else torch.device(device)
    state = read_checkpoint(path, map_location="cpu")
    spec = spec_from(state, path)
    model = build_model(state["config"], spec)
    check_state_dict(model, state["model"], path)
    model.load_state_dict(state["model"])
    model.to(dev).eval()
    return Loaded(spec=spec, generator=model.G, discriminator=model.D, config=state["config"],
                  dataset_meta=state["dataset_meta"], device=dev, step=int(state["step"]),
                  metrics=dict(state.get("metrics") or {}))


def resume_config(out: str | os.PathLike, **overrides) -> TrainConfig:
    """The config saved in ``<out>/ckpt.pt`` with ``overrides`` applied, ready for ``train(cfg, resume=True)``.

    Only the fields in RESUMABLE_CHANGES may be overridden (ValueError naming the others).
    """
    path = Path(out) / CKPT_NAME
    if not path.is_file():
        raise ValueError(f"nothing to resume: no checkpoint at {path}")
    saved = read_checkpoint(path)["config"]
    cfg = TrainConfig.from_dict({**saved, **overrides, "out": str(out)})
    validate(cfg)
    check_resumable(saved, cfg)
    return cfg

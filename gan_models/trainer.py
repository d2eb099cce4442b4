"""The schedule: data on the device, the step loop, logging, grids, checkpoints, the NaN guard, resume.

    from gan_models import make_config, train
    ckpt = train(make_config("infogan", dataset="basicprop-line", epochs=1, out="runs/line"))

A run directory holds ``config.json``, ``log.jsonl`` (one JSON record per ``log_every`` steps, plus ``eval``
records), ``samples_XXXXXX.png``, ``traverse_contJ_XXXXXX.png`` and (two categorical codes)
``traverse_cat1_XXXXXX.png`` grids, ``ckpt.pt`` and, at the end, ``metrics.json``. The whole dataset lives on
the device as one uint8 tensor; batches are drawn with replacement by a seeded ``torch.Generator`` whose state
is checkpointed, so a resumed run is bit-identical to an uninterrupted one. Losses stay on the device between
log intervals (no per-step host sync).
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .checkpoint import (CHECKPOINT_FORMAT, all_finite, build_model, read_checkpoint, resolve_device,
                         save_checkpoint)
from .config import RESUMABLE_CHANGES, TrainConfig, validate
from . import losses
from .infogan import Batch
from .latent import CodeSpec, traversal_latent, sample_latent
from .monitor import code_factor_accuracy, image_grid, save_png

CKPT_NAME = "ckpt.pt"


class TrainingDiverged(RuntimeError):
    """A loss or weight became NaN/inf; the message names the step, the last good checkpoint and remedies."""


@dataclass
class Data:
    images: torch.Tensor          # (N, 1, 28, 28) uint8 on the device
    labels: torch.Tensor | None   # (N,) long condition label on the device (C-InfoGAN), else None
    factors: np.ndarray           # (N, K) int64, for monitoring
    factor_names: tuple
    meta: dict                    # dataset_meta stored in checkpoints


def load_data(cfg: TrainConfig, device: torch.device) -> tuple[Data, int]:
    """The training split on ``device``, and the number of condition classes (0 = unconditional)."""
    from basicprop.datasets import load_dataset
    extra = {"kind_params": cfg.kind_params} if cfg.kind_params else {}
    ds = load_dataset(cfg.dataset, split="train", data_dir=cfg.data_dir, seed=cfg.data_seed, **extra)
    factor_names = tuple(ds.factor_names)
    factors = np.asarray(ds.factors, dtype=np.int64)
    cond, labels, condition = 0, None, None
    if cfg.model == "cinfogan":
        condition = cfg.condition or factor_names[0]
        if condition not in factor_names:
            raise ValueError(f"unknown condition factor {condition!r} for {ds.name}; choose from {list(factor_names)}")
        j = factor_names.index(condition)
        cond = int(ds.factor_sizes[j])
        labels = torch.from_numpy(factors[:, j].copy()).to(device)
    images = torch.from_numpy(np.ascontiguousarray(ds.images)).to(device).unsqueeze(1)
    if images.dtype != torch.uint8 or tuple(images.shape[1:]) != (1, 28, 28):
        raise ValueError(f"dataset {ds.name} must hold (N, 28, 28) uint8 images, got {tuple(ds.images.shape)} "
                         f"{ds.images.dtype}")
    meta = dict(ds.meta)
    meta.update(factor_names=list(factor_names), factor_sizes=[int(s) for s in ds.factor_sizes],
                condition_factor=condition)
    return Data(images, labels, factors, factor_names, meta), cond


def instance_noise_std(cfg: TrainConfig, step: int) -> float:
    """Linear anneal from cfg.instance_noise at step 0 to 0 at cfg.instance_noise_steps (constant if 0 steps)."""
    if cfg.instance_noise <= 0:
        return 0.0
    if cfg.instance_noise_steps <= 0:
        return cfg.instance_noise
    return cfg.instance_noise * max(0.0, 1.0 - step / cfg.instance_noise_steps)


def _check_resumable(saved: dict, cfg: TrainConfig) -> None:
    saved = TrainConfig.from_dict(saved).to_dict()   # read as loading reads it: newer options take their default
    now = cfg.to_dict()
    changed = sorted(k for k in now if k not in RESUMABLE_CHANGES and saved.get(k) != now[k])
    if changed:
        detail = ", ".join(f"{k}: {saved.get(k)!r} -> {now[k]!r}" for k in changed)
        raise ValueError(f"cannot resume under a changed config ({detail}); "
                         f"only {list(RESUMABLE_CHANGES)} may change")


class _Logger:
    def __init__(self, out: Path):
        self.path = out / "log.jsonl"

    def write(self, record: dict) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")


@torch.no_grad()
def evaluate(model, data: Data, eval_idx: np.ndarray, device: torch.device) -> dict[str, float]:
    """Q's categorical accuracy on real images against every factor (Hungarian matching), and the label-free
    ``real_mi/cat{i}``: I(c_hat; x) of Q's predicted category on the same real images, in nats (log k at best:
    every category used equally, each image assigned with certainty)."""
    if not model.spec.cat or len(eval_idx) == 0:
        return {}
    was_training = model.training
    model.eval()
    logits = []
    for i in range(0, len(eval_idx), 1000):
        idx = torch.from_numpy(eval_idx[i:i + 1000]).to(device)
        logits.append(model.encode(data.images[idx].float().div_(255.0)).cat_logits)
    model.train(was_training)
    out, codes = {}, []
    for i in range(len(model.spec.cat)):
        lg = torch.cat([b[i] for b in logits]).double()
        codes.append(lg.argmax(1).cpu())
        out[f"real_mi/cat{i}"] = float(losses.real_data_mi(lg))
    out.update(code_factor_accuracy(torch.stack(codes, 1).numpy(), data.factors[eval_idx], data.factor_names))
    return out


@torch.no_grad()
def save_grids(model, out: Path, tag: str, seed: int, device: torch.device) -> list[Path]:
    """A 10x10 sample grid, one traversal grid per continuous code (rows: first categorical code or label) and,
    with two or more categorical codes, a cat0 x cat1 grid."""
    was_training = model.training
    model.eval()
    spec = model.spec
    gen = torch.Generator(device).manual_seed(seed)
    paths = []
    lat = sample_latent(spec, 100, gen)
    paths.append(save_png(image_grid(model.generate(lat).cpu().numpy(), 10, 10), out / f"samples_{tag}.png"))
    rows = "y" if spec.cond else "cat0"
    for j in (range(spec.cont) if spec.cont else [None]):
        gen = torch.Generator(device).manual_seed(seed + 1)
        lat, n_rows, n_cols = traversal_latent(spec, gen, cont_index=j, rows=rows)
        name = f"traverse_cont{j}_{tag}.png" if j is not None else f"traverse_{tag}.png"
        paths.append(save_png(image_grid(model.generate(lat).cpu().numpy(), n_rows, n_cols), out / name))
    if len(spec.cat) >= 2 and not spec.cond:    # rows: cat0, columns: cat1 (one z for the whole grid)
        gen = torch.Generator(device).manual_seed(seed + 2)
        lat, n_rows, n_cols = traversal_latent(spec, gen, cat_cols=1)
        paths.append(save_png(image_grid(model.generate(lat).cpu().numpy(), n_rows, n_cols),
                              out / f"traverse_cat1_{tag}.png"))
    model.train(was_training)
    return paths


def train(config: TrainConfig, *, resume: bool = False) -> Path:
    """Train the model ``config`` describes; returns the path of the final checkpoint (``<out>/ckpt.pt``).

    ``resume=True`` continues ``<out>/ckpt.pt`` exactly (config must match up to RESUMABLE_CHANGES).
    Raises ValueError for bad settings, TrainingDiverged when a loss becomes non-finite.
    """
    cfg = config
    validate(cfg)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    out = Path(cfg.out)
    ckpt_path = out / CKPT_NAME
    if resume and not ckpt_path.is_file():
        raise ValueError(f"--resume: no checkpoint at {ckpt_path}")
    if not resume and ckpt_path.exists():
        raise ValueError(f"{ckpt_path} already exists; pass --resume to continue it or choose another --out")

    data, cond = load_data(cfg, device)
    spec = CodeSpec(noise_dim=cfg.noise_dim, cat=cfg.cat, cont=cfg.cont, cond=cond, noise_scale=cfg.noise_scale)
    torch.manual_seed(cfg.seed)                       # weight init
    model = build_model(cfg.to_dict(), spec).to(device)
    optims = model.make_optimizers(cfg.lr_d, cfg.lr_g, (cfg.beta1, cfg.beta2))
    gen = torch.Generator(device).manual_seed(cfg.seed)   # batches, latents, instance noise
    step, metrics = 0, {}
    if resume:
        state = read_checkpoint(ckpt_path, map_location=device)
        _check_resumable(state["config"], cfg)
        model.load_state_dict(state["model"])
        for k, opt in optims.items():
            opt.load_state_dict(state["optims"][k])
        gen.set_state(state["rng"]["train"].cpu())
        torch.set_rng_state(state["rng"]["torch"].cpu())
        step, metrics = int(state["step"]), dict(state.get("metrics") or {})
    model.train()

    n_data = data.images.shape[0]
    if n_data < cfg.batch_size:
        raise ValueError(f"dataset has {n_data} images, fewer than batch_size {cfg.batch_size}")
    steps_per_epoch = n_data // cfg.batch_size
    total = cfg.steps or cfg.epochs * steps_per_epoch
    eval_every = cfg.eval_every or steps_per_epoch
    eval_idx = np.random.default_rng(0).permutation(n_data)[:cfg.eval_size]
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps({"config": cfg.to_dict(), "spec": spec.to_dict(),
                                                 "dataset_meta": data.meta}, indent=2) + "\n")
    log = _Logger(out)
    last_good = {"path": str(ckpt_path), "step": step} if resume else None

    def checkpoint() -> None:
        nonlocal last_good
        if not all_finite(model):
            raise diverged(step)
        save_checkpoint(ckpt_path, {
            "format": CHECKPOINT_FORMAT, "config": cfg.to_dict(), "spec": spec.to_dict(),
            "dataset_meta": data.meta, "step": step, "model": model.state_dict(),
            "optims": {k: o.state_dict() for k, o in optims.items()},
            "rng": {"train": gen.get_state(), "torch": torch.get_rng_state()}, "metrics": metrics})
        last_good = {"path": str(ckpt_path), "step": step}

    def diverged(at_step: int) -> TrainingDiverged:
        where = (f"the last good checkpoint is {last_good['path']} (step {last_good['step']})" if last_good
                 else "no checkpoint was written before it")
        log.write({"event": "diverged", "step": at_step})
        return TrainingDiverged(
            f"non-finite loss at step {at_step} of {cfg.out}: training stopped and nothing was saved; {where}. "
            f"Remedies: instance noise (--instance-noise 0.1 --instance-noise-steps {max(total // 2, 1)}), "
            f"a lower D learning rate (--lr-d {cfg.lr_d / 2:g}), one-sided label smoothing (--real-label 0.9).")

    from tqdm.auto import tqdm
    bar = tqdm(total=total, initial=step, disable=not cfg.progress, dynamic_ncols=True, desc=out.name)
    sums: dict[str, torch.Tensor] = {}
    count = 0
    first_bad = torch.tensor(-1, device=device)
    t_last, step_last = time.time(), step
    try:
        while step < total:
            idx = torch.randint(n_data, (cfg.batch_size,), generator=gen, device=device)
            batch = Batch(data.images[idx].float().div_(255.0), None if data.labels is None else data.labels[idx])
            stats = model.train_step(batch, optims, generator=gen, noise_std=instance_noise_std(cfg, step))
            step += 1
            count += 1
            for k, v in stats.items():
                sums[k] = sums[k] + v if k in sums else v.clone()
            ok = torch.isfinite(stats["loss/d"] + stats["loss/g"] + stats["loss/info"])
            first_bad = torch.where(~ok & (first_bad < 0), torch.tensor(step, device=device), first_bad)
            bar.update(1)

            if step % cfg.log_every == 0 or step == total:
                bad = int(first_bad)                      # the host sync of this interval
                if bad >= 0:
                    raise diverged(bad)
                now = time.time()
                rec = {"step": step, "epoch": step / steps_per_epoch}
                rec.update({k: float(v) / count for k, v in sums.items()})
                rec.update({"noise_std": instance_noise_std(cfg, step),
                            "img_per_s": (step - step_last) * cfg.batch_size / max(now - t_last, 1e-9),
                            "time": now})
                log.write(rec)
                bar.set_postfix({"D": f"{rec['loss/d']:.3f}", "G": f"{rec['loss/g']:.3f}",
                                 "info": f"{rec['loss/info']:.3f}"}, refresh=False)
                sums, count, t_last, step_last = {}, 0, now, step
            if step % eval_every == 0 or step == total:
                if int(first_bad) >= 0:
                    raise diverged(int(first_bad))
                metrics = {"step": step, "epoch": step / steps_per_epoch,
                           **evaluate(model, data, eval_idx, device)}
                log.write({"event": "eval", **metrics})
                save_grids(model, out, f"{step:06d}", cfg.seed + 12345, device)
                if metrics:
                    bar.write(f"step {step}: " + ", ".join(f"{k}={v:.3f}" for k, v in metrics.items()
                                                           if k.startswith("acc/") and k.count("/") == 1))
            if step % cfg.ckpt_every == 0 or step == total:
                if int(first_bad) >= 0:
                    raise diverged(int(first_bad))
                checkpoint()
    except KeyboardInterrupt:
        bar.close()
        if int(first_bad) < 0 and all_finite(model):
            checkpoint()
            print(f"\ninterrupted: saved {ckpt_path} at step {step}; continue with --resume")
        raise
    bar.close()
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return ckpt_path

"""K seeds trained as one stacked model against K single runs, as img/s per seed measured side by side in one process.

    python benchmarks/bench_stacked.py [--preset infogan-line] [--k 4] [--batch-size 64] [--seconds 20]
                                       [--threads 1] [--device auto] [--batched auto|on|off]

Four ways to train, each timed over whole training steps (one D/Q update + one G update of every model):

- ``stacked``: ``gan_models.stacked.Stack`` over K models (one step for all K);
- ``separate``: the K models as K single runs, ``InfoGAN.train_step`` one after the other;
- ``stacked1``: ``Stack`` over one model;
- ``single``: one model's ``InfoGAN.train_step``.

The timed windows interleave (stacked, separate, stacked1, single, stacked, ...) so that a change in the machine's
load hits all four alike; each figure is the median over windows of (images trained per model) / second. Where a
model's tensors lie in memory moves its speed by a few percent (the models built first ran 2-3 % slower or faster
than the same step on models built later), so every way is built twice, once early and once late (the second set
in the reverse order), and both sets take part in every round. The batches
come from random uint8 images on the device, as the trainer holds its data; the latents, noise and warps are drawn as
in training.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from gan_models import resolve_device
from gan_models.checkpoint import build_model
from gan_models.config import make_config
from gan_models.infogan import Batch
from gan_models.latent import CodeSpec
from gan_models.stacked import Stack

N_IMAGES = 8192


def _models(cfg, k: int, device: torch.device):
    spec = CodeSpec(cfg.noise_dim, cfg.cat, cfg.cont, 0, cfg.noise_scale)
    models = []
    for seed in range(k):
        torch.manual_seed(seed)
        models.append(build_model(cfg.to_dict(), spec).to(device).train())
    return models


def _stepper(cfg, k: int, device: torch.device, stacked: bool, batched: bool):
    """A function doing one training step of k models, and one reading a loss back (the host sync)."""
    models = _models(cfg, k, device)
    gens = [torch.Generator(device).manual_seed(seed) for seed in range(k)]
    images = torch.randint(0, 256, (N_IMAGES, 1, 28, 28), dtype=torch.uint8, generator=gens[0], device=device)
    betas = (cfg.beta1, cfg.beta2)
    optims = [m.make_optimizers(cfg.lr_d, cfg.lr_g, betas) for m in models]
    stack = Stack(models, optims, batched=batched) if stacked else None

    def batches():
        return [Batch(images[torch.randint(N_IMAGES, (cfg.batch_size,), generator=g, device=device)]
                      .float().div_(255.0)) for g in gens]

    def step():
        if stack is not None:
            return stack.train_step(batches(), gens, cfg.instance_noise)
        return [m.train_step(b, o, generator=g, noise_std=cfg.instance_noise)
                for m, o, g, b in zip(models, optims, gens, batches())]
    return step, lambda stats: float(stats["loss/d"].sum()) if isinstance(stats, dict) else float(stats[-1]["loss/d"])


def measure(preset: str = "infogan-line", k: int = 4, batch_size: int = 64, seconds: float = 20.0,
            device: str = "auto", batched: bool | None = None, windows: int = 3) -> dict:
    """img/s per seed of K stacked against K separate single runs, and of one stacked against the plain single step.

    ``batched=None``: vmapped on CUDA, member by member elsewhere (as ``train_stacked``). Returns a flat dict:
    ``<method>/img_per_s_per_seed`` for stacked, separate, stacked1, single, and the ratios
    ``stacked_vs_separate`` and ``stacked1_vs_single``."""
    dev = resolve_device(device)
    cfg = make_config(preset, batch_size=batch_size, device=str(dev))
    batched = dev.type == "cuda" if batched is None else batched
    methods = {"stacked": (k, True), "separate": (k, False), "stacked1": (1, True), "single": (1, False)}
    builds = list(methods.items()) + list(reversed(methods.items()))       # each way built early and late
    steppers = [(name, _stepper(cfg, n, dev, stacked, batched)) for name, (n, stacked) in builds]
    for _, (step, sync) in steppers:              # warm-up: first Adam steps, allocator, vmap tracing
        sync(step())
        sync(step())
    rates = {name: [] for name in methods}
    budget = seconds / (windows * len(steppers))
    for _ in range(windows):
        for name, (step, sync) in steppers:
            n, t0 = 0, time.perf_counter()
            while True:
                stats = step()
                n += 1
                if time.perf_counter() - t0 >= budget:
                    sync(stats)
                    break
            rates[name].append(n * batch_size / (time.perf_counter() - t0))
    out = {"preset": preset, "k": k, "batch_size": batch_size, "device": str(dev), "batched": batched,
           "threads": torch.get_num_threads()}
    for name in methods:
        out[f"{name}/img_per_s_per_seed"] = statistics.median(rates[name])
    out["stacked_vs_separate"] = out["stacked/img_per_s_per_seed"] / out["separate/img_per_s_per_seed"]
    out["stacked1_vs_single"] = out["stacked1/img_per_s_per_seed"] / out["single/img_per_s_per_seed"]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", default="infogan-line")
    p.add_argument("--k", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="auto")
    p.add_argument("--batched", choices=("auto", "on", "off"), default="auto")
    args = p.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    batched = {"auto": None, "on": True, "off": False}[args.batched]
    print(json.dumps(measure(args.preset, args.k, args.batch_size, args.seconds, args.device, batched), indent=2))


if __name__ == "__main__":
    main()

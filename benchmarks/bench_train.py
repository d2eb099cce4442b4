"""Training throughput of the paper InfoGAN (one D/Q step + one G step per batch), in images per second.

    python benchmarks/bench_train.py [--batch-size 128] [--steps 20] [--threads 2] [--device auto]

Random uint8 data held on the device, batches indexed with a torch.Generator, exactly as the trainer does.
Compare numbers only within one run (the machine may be shared).
"""
from __future__ import annotations

import argparse
import time

import torch

from gan_models.checkpoint import build_model, resolve_device
from gan_models.config import make_config
from gan_models.infogan import Batch
from gan_models.latent import CodeSpec


def bench(preset: str, batch_size: int, steps: int, device: torch.device, warmup: int = 3) -> float:
    cfg = make_config(preset, batch_size=batch_size)
    spec = CodeSpec(cfg.noise_dim, cfg.cat, cfg.cont, 0)
    torch.manual_seed(0)
    model = build_model(cfg.to_dict(), spec).to(device).train()
    optims = model.make_optimizers(cfg.lr_d, cfg.lr_g, (cfg.beta1, cfg.beta2))
    gen = torch.Generator(device).manual_seed(0)
    images = torch.randint(0, 256, (10_000, 1, 28, 28), dtype=torch.uint8, generator=gen, device=device)

    def step():
        idx = torch.randint(len(images), (batch_size,), generator=gen, device=device)
        return model.train_step(Batch(images[idx].float().div_(255.0)), optims, generator=gen)

    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(steps):
        stats = step()
    float(stats["loss/d"])  # sync
    return steps * batch_size / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch-size", type=int, nargs="+", default=[64, 128])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--preset", default="infogan")
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    print(f"device={device} threads={torch.get_num_threads()} preset={args.preset} torch={torch.__version__}")
    for bs in args.batch_size:
        print(f"batch {bs:4d}: {bench(args.preset, bs, args.steps, device):8.1f} img/s")


if __name__ == "__main__":
    main()

"""Training throughput, as ratios measured side by side in one process (the machine may be shared and noisy).

    python benchmarks/bench_train.py [--batch-size 64 128 256] [--seconds 6] [--threads 2] [--device auto]
                                     [--peak-gflops auto] [--compiled] [--json]

For each batch size, three ways to train the paper's MNIST InfoGAN for one step (one D/Q update + one G update):

- ``project``: this project's step — the dataset on the device as uint8, batches indexed with a torch.Generator,
  ``InfoGAN.train_step`` (Q on D's shared trunk, read from the same forward pass), no host sync inside the loop;
- ``textbook``: the same networks and losses trained the way a PyTorch tutorial does — a ``DataLoader`` over a
  ``TensorDataset`` of float images, ``.item()`` on every loss every step, and Q computed by a separate forward
  pass of D's trunk on the fakes;
- ``public``: the step of the most-used public PyTorch InfoGAN, written here from its published description
  (32x32 inputs, upsample + conv generator, a four-block conv discriminator with dropout and three heads, a
  least-squares adversarial loss, and three optimiser steps per batch — G, D, then G and D together on the
  information loss with a fresh batch of fakes), float images from a ``DataLoader``.

With CUDA, the fast path's variants of the project's step are timed beside them (``gan_models.device.fast_path``):
``project-bf16`` (bf16 autocast), ``project-compiled`` (torch.compile) and ``project-compiled-bf16``; ``--compiled``
adds ``project-compiled`` on a CPU too. Their warm-up (where compilation happens) is reported apart, in seconds.

All three run under one malloc setting (``--malloc``): by default the one the command lines set, which keeps freed
memory for reuse instead of faulting fresh pages in for every big temporary; ``--malloc default`` keeps glibc's.

The timed windows interleave (project, textbook, public, project, ...) so that a change in the machine's load hits
all methods alike; the reported figure is each method's median img/s. Also printed: each method's ratio to the
others (``vs_textbook``, ``vs_public``; ``<variant>_vs_project``) and the percentage of the FMA peak the project's
step reaches, from the paper net's count of 0.31 GFLOP per image per step and ``--peak-gflops`` (on a CPU by default
estimated from /proc/cpuinfo: threads x 2 FMA units x float32 lanes (16 with AVX-512, 8 with AVX2) x 2 x the clock;
an upper bound where AVX-512 runs on 256-bit units, as on AMD Zen 4).
"""
from __future__ import annotations

import argparse
import functools
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from basicprop.resources import keep_freed_memory
from gan_models import losses
from gan_models.checkpoint import build_model
from gan_models.config import make_config
from gan_models import resolve_device
from gan_models.device import fast_path
from gan_models.infogan import Batch
from gan_models.latent import CodeSpec, sample_latent

GFLOP_PER_IMAGE_STEP = 0.31      # paper MNIST net: D/Q forward+backward on real and fake, G forward+backward twice
N_IMAGES = 8192


# ----------------------------------------------------------------------------------------- the project's step
def _paper_model(batch_size: int, device: torch.device):
    """The paper's MNIST InfoGAN (the ``infogan`` preset), its config and code spec, seeded."""
    cfg = make_config("infogan", batch_size=batch_size)
    spec = CodeSpec(cfg.noise_dim, cfg.cat, cfg.cont, 0)
    torch.manual_seed(0)
    return build_model(cfg.to_dict(), spec).to(device).train(), cfg, spec


def project_step(batch_size: int, device: torch.device, precision: str = "fp32", compiled: bool = False):
    model, cfg, spec = _paper_model(batch_size, device)
    fast_path(model, device, precision=precision, compile=compiled)
    optims = model.make_optimizers(cfg.lr_d, cfg.lr_g, (cfg.beta1, cfg.beta2))
    gen = torch.Generator(device).manual_seed(0)
    images = torch.randint(0, 256, (N_IMAGES, 1, 28, 28), dtype=torch.uint8, generator=gen, device=device)

    def step():
        idx = torch.randint(len(images), (batch_size,), generator=gen, device=device)
        return model.train_step(Batch(images[idx].float().div_(255.0)), optims, generator=gen)
    return step, lambda stats: float(stats["loss/d"])


# ------------------------------------------------------------------------------------------- a textbook loop
def _batches(loader):
    while True:
        yield from loader


def textbook_step(batch_size: int, device: torch.device):
    model, cfg, spec = _paper_model(batch_size, device)
    G, D = model.G, model.D
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2))
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2))
    data = torch.utils.data.TensorDataset(torch.rand(N_IMAGES, 1, 28, 28))
    batches = _batches(torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=True, drop_last=True))
    gen = torch.Generator().manual_seed(0)
    history = []

    def step():
        (x,) = next(batches)
        x = x.to(device)
        latent = sample_latent(spec, batch_size, gen).to(device)
        fake = G(latent.to_input(spec))
        opt_d.zero_grad()
        d_real, _ = D(x)
        d_fake, _ = D(fake.detach())
        q = D.q(D.trunk(fake.detach()))                       # Q: a separate forward pass
        info = (losses.categorical_nll(q.cat_logits[0], latent.cat[:, 0])
                + losses.gaussian_nll(latent.cont, q.cont_mean))
        loss_d = losses.d_loss(d_real, d_fake) + info
        loss_d.backward()
        opt_d.step()
        opt_g.zero_grad()
        d_fake_g, _ = D(fake)
        q = D.q(D.trunk(fake))
        loss_g = (losses.g_loss_nonsaturating(d_fake_g) + losses.categorical_nll(q.cat_logits[0], latent.cat[:, 0])
                  + losses.gaussian_nll(latent.cont, q.cont_mean))
        loss_g.backward()
        opt_g.step()
        history.append((loss_d.item(), loss_g.item(), info.item()))   # the per-step host sync of a tutorial
        return history[-1]
    return step, lambda stats: stats


# ------------------------------------------------------------------- the public InfoGAN, from its description
class _PublicG(nn.Module):
    def __init__(self, latent=62, classes=10, code=2, img=32):
        super().__init__()
        self.s = img // 4
        self.l1 = nn.Linear(latent + classes + code, 128 * self.s ** 2)
        self.blocks = nn.Sequential(
            nn.BatchNorm2d(128), nn.Upsample(scale_factor=2), nn.Conv2d(128, 128, 3, 1, 1),
            nn.BatchNorm2d(128, 0.8), nn.LeakyReLU(0.2, inplace=True),
            nn.Upsample(scale_factor=2), nn.Conv2d(128, 64, 3, 1, 1),
            nn.BatchNorm2d(64, 0.8), nn.LeakyReLU(0.2, inplace=True), nn.Conv2d(64, 1, 3, 1, 1), nn.Tanh())

    def forward(self, z):
        return self.blocks(self.l1(z).view(z.shape[0], 128, self.s, self.s))


class _PublicD(nn.Module):
    def __init__(self, classes=10, code=2, img=32):
        super().__init__()
        layers, c_in = [], 1
        for i, c in enumerate((16, 32, 64, 128)):
            layers += [nn.Conv2d(c_in, c, 3, 2, 1), nn.LeakyReLU(0.2, inplace=True), nn.Dropout2d(0.25)]
            if i:
                layers.append(nn.BatchNorm2d(c, 0.8))
            c_in = c
        self.trunk = nn.Sequential(*layers)
        flat = 128 * (img // 16) ** 2
        self.adv, self.aux, self.code = nn.Linear(flat, 1), nn.Linear(flat, classes), nn.Linear(flat, code)

    def forward(self, x):
        h = self.trunk(x).flatten(1)
        return self.adv(h), self.aux(h), self.code(h)


def public_step(batch_size: int, device: torch.device):
    torch.manual_seed(0)
    G, D = _PublicG().to(device), _PublicD().to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_info = torch.optim.Adam(list(G.parameters()) + list(D.parameters()), lr=2e-4, betas=(0.5, 0.999))
    data = torch.utils.data.TensorDataset(torch.rand(N_IMAGES, 1, 32, 32) * 2 - 1)
    batches = _batches(torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=True, drop_last=True))

    def latent():
        z = torch.randn(batch_size, 62, device=device)
        labels = torch.randint(10, (batch_size,), device=device)
        code = torch.rand(batch_size, 2, device=device) * 2 - 1
        return torch.cat([z, F.one_hot(labels, 10).float(), code], 1), labels, code

    def step():
        (x,) = next(batches)
        x = x.to(device)
        ones, zeros = torch.ones(batch_size, 1, device=device), torch.zeros(batch_size, 1, device=device)
        opt_g.zero_grad()
        fake = G(latent()[0])
        loss_g = F.mse_loss(D(fake)[0], ones)
        loss_g.backward()
        opt_g.step()
        opt_d.zero_grad()
        loss_d = (F.mse_loss(D(x)[0], ones) + F.mse_loss(D(fake.detach())[0], zeros)) / 2
        loss_d.backward()
        opt_d.step()
        opt_info.zero_grad()
        z, labels, code = latent()
        _, pred_label, pred_code = D(G(z))
        loss_info = F.cross_entropy(pred_label, labels) + 0.1 * F.mse_loss(pred_code, code)
        loss_info.backward()
        opt_info.step()
        return loss_d.item(), loss_g.item(), loss_info.item()
    return step, lambda stats: stats


# -------------------------------------------------------------------------------------------------- timing
METHODS = {"project": project_step, "textbook": textbook_step, "public": public_step}
FAST = {"project-bf16": dict(precision="bf16"), "project-compiled": dict(compiled=True),
        "project-compiled-bf16": dict(precision="bf16", compiled=True)}


def methods(device: torch.device, compiled: bool) -> dict:
    """The three ways to train, and the fast path's variants: all three with CUDA, the compiled one with
    ``compiled`` on a CPU."""
    out = dict(METHODS)
    for name, opts in FAST.items():
        if device.type == "cuda" or (compiled and opts == {"compiled": True}):
            out[name] = functools.partial(project_step, **opts)
    return out


def _window(step, sync, seconds: float, device) -> float:
    """Images per second over at least ``seconds`` (whole steps)."""
    n, t0 = 0, time.perf_counter()
    stats = None
    while True:
        stats = step()
        n += 1
        if n % 4 == 0 and time.perf_counter() - t0 >= seconds:
            break
    sync(stats)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return n / (time.perf_counter() - t0)


def compare(batch_size: int, device: torch.device, seconds: float, rounds: int, compiled: bool = False) -> dict:
    """{method: median img/s} and {method: warm-up seconds} (three steps; compilation happens there)."""
    torch._dynamo.reset()                      # each batch size compiles afresh (static shapes)
    steps, warmup = {}, {}
    for name, make in methods(device, compiled).items():
        t0 = time.perf_counter()
        step, sync = steps[name] = make(batch_size, device)
        for _ in range(3):                     # warm-up: allocator, cuDNN autotuning, compilation, first-call costs
            sync(step())
        if device.type == "cuda":
            torch.cuda.synchronize()
        warmup[name] = time.perf_counter() - t0
    rates: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(rounds):
        for name, (step, sync) in steps.items():
            rates[name].append(_window(step, sync, seconds / rounds, device) * batch_size)
    return {name: statistics.median(r) for name, r in rates.items()}, warmup


def cpu_peak_gflops(threads: int) -> tuple[float | None, str]:
    """The float32 FMA peak of ``threads`` cores from /proc/cpuinfo (Linux), and how it was estimated."""
    try:
        info = open("/proc/cpuinfo").read()
    except OSError:
        return None, "no /proc/cpuinfo: give --peak-gflops"
    flags = set(next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), []))
    mhz = next((float(line.split(":", 1)[1]) for line in info.splitlines() if line.startswith("cpu MHz")), None)
    if mhz is None:
        return None, "no clock in /proc/cpuinfo: give --peak-gflops"
    lanes = 16 if "avx512f" in flags else 8 if "avx2" in flags and "fma" in flags else 4
    peak = threads * 2 * lanes * 2 * mhz / 1000
    return peak, f"{threads} thread(s) x 2 FMA x {lanes} lanes x 2 x {mhz / 1000:.2f} GHz"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch-size", type=int, nargs="+", default=[64, 128, 256])
    ap.add_argument("--seconds", type=float, default=6.0, help="timed seconds per method and batch size")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved windows per method")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--peak-gflops", default="auto",
                    help="float32 FMA peak of the device in GFLOP/s; auto: estimated on a CPU, none on a GPU")
    ap.add_argument("--compiled", action="store_true", help="time the compiled step on a CPU too (compiles first)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    ap.add_argument("--malloc", choices=("keep", "default"), default="keep",
                    help="keep: malloc keeps freed memory for reuse, as the command lines run "
                         "(basicprop.resources.keep_freed_memory); default: glibc's own thresholds")
    args = ap.parse_args()
    malloc = "keep" if args.malloc == "keep" and keep_freed_memory() else "default"
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    if args.peak_gflops != "auto":
        peak, how = float(args.peak_gflops), "given"
    elif device.type == "cpu":
        peak, how = cpu_peak_gflops(torch.get_num_threads())
    else:
        peak, how = None, "give --peak-gflops for the GPU"
    rows = []
    for bs in args.batch_size:
        r, warmup = compare(bs, device, args.seconds, args.rounds, args.compiled)
        row = {"batch_size": bs, **{f"{k}_img_s": round(v, 1) for k, v in r.items()},
               "vs_textbook": round(r["project"] / r["textbook"], 3), "vs_public": round(r["project"] / r["public"], 3)}
        for name in r.keys() - METHODS.keys():
            row[f"{name}_vs_project"] = round(r[name] / r["project"], 3)
            row[f"{name}_warmup_s"] = round(warmup[name], 1)
        if peak:
            row["fma_peak_pct"] = round(100 * r["project"] * GFLOP_PER_IMAGE_STEP / peak, 1)
        rows.append(row)
    head = {"device": str(device), "threads": torch.get_num_threads(), "malloc": malloc, "torch": torch.__version__,
            "peak_gflops": round(peak, 1) if peak else None, "peak": how}
    if args.json:
        print(json.dumps({**head, "rows": rows}))
        return
    print(" ".join(f"{k}={v}" for k, v in head.items()))
    for row in rows:
        print("  ".join(f"{k}={v}" for k, v in row.items()))


if __name__ == "__main__":
    main()

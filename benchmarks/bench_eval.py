"""Time `python -m eval disentangle` end to end (target: 10,000 samples in <= 30 s on 2 CPU cores).

    python benchmarks/bench_eval.py                      # an InfoGAN checkpoint on basicprop-line, made here
    python benchmarks/bench_eval.py --ckpt runs/x/ckpt.pt --n-samples 10000 --threads 2

Without --ckpt it trains a 1-step checkpoint (the paper's InfoGAN nets: cost does not depend on the weights).
The one-off factor-classifier training is done and timed first, then cached, as the target excludes it.
Prints the per-phase timings of the measured run and the total.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ckpt", default=None)
    ap.add_argument("--n-samples", type=int, default=10_000)
    ap.add_argument("--threads", type=int, default=2, help="torch threads (the target machine has 2 cores)")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()

    import torch
    torch.set_num_threads(args.threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    from eval.disentangle import DisentangleConfig, disentangle
    from eval.measure import build_measurer
    from gan_models import load_checkpoint, make_config, train

    tmp = tempfile.TemporaryDirectory()
    ckpt = args.ckpt
    if ckpt is None:
        cfg = make_config("infogan", dataset="basicprop-line", out=str(Path(tmp.name) / "run"), steps=1,
                          batch_size=32, eval_size=100, eval_every=1000, progress=False, device="cpu")
        ckpt = str(train(cfg))
    model = load_checkpoint(ckpt, device=args.device)

    t = time.perf_counter()
    measurer = build_measurer(model.dataset_meta, device=args.device, log=print)
    print(f"factor classifiers (one-off, then cached): {time.perf_counter() - t:.1f} s; test accuracy "
          + ", ".join(f"{m.name} {m.test_accuracy:.4f}" for m in measurer.factors if m.test_accuracy is not None))

    config = DisentangleConfig(ckpt=ckpt, n_samples=args.n_samples, device=args.device)
    t = time.perf_counter()
    rep = disentangle(config, log=print)
    total = time.perf_counter() - t
    phases = {k[len("timing."):]: v for k, v in rep.items() if k.startswith("timing.") and k != "timing.total"}
    print("phases (s): " + ", ".join(f"{k} {v:.2f}" for k, v in phases.items()))
    print(f"disentangle on {args.n_samples} samples ({model.dataset_meta.get('dataset')}, torch threads "
          f"{args.threads}): {total:.1f} s (target <= 30 s)")
    tmp.cleanup()


if __name__ == "__main__":
    main()

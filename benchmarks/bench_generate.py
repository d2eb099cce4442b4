"""Generation speed on one core: images/s per kind with and without noise, and the full 70k rectangles to .h5.

    python benchmarks/bench_generate.py [--n 20000] [--repeats 3]

Targets (issue 3): >= 200,000 images/s with foreground and background noise; 60k + 10k rectangles to .h5 < 1 s.
Each figure is the best of ``--repeats`` runs (the machine may be shared).
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # one core
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from basicprop import KIND_NAMES, get_kind  # noqa: E402
from basicprop.generate import make_dataset  # noqa: E402

NOISE = {"none": {"fg_noise": None}, "fg": {}, "fg+bg": {"bg_noise": (0, 60)}}


def best_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20_000, help="images per measurement")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # pin to one core
    print(f"numpy {np.__version__}, python {platform.python_version()}, {args.n} images, best of {args.repeats}")
    print(f"{'kind':<12}" + "".join(f"{name + ' img/s':>16}" for name in NOISE))
    for name in KIND_NAMES:
        row = f"{name:<12}"
        for params in NOISE.values():
            kind = get_kind(name, **params)
            rng = np.random.default_rng(0)
            factors = kind.sample_factors(args.n, rng)
            kind.render(factors[:10], rng)  # build the tables outside the timing
            seconds = best_time(lambda: kind.render(factors, rng), args.repeats)
            row += f"{args.n / seconds:>16,.0f}"
        print(row)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rect.h5"
        seconds = best_time(lambda: make_dataset("rectangles", out, force=True), args.repeats)
        print(f"make_dataset('rectangles', 60k train + 10k test, fg noise) -> .h5: {seconds:.3f} s "
              f"({out.stat().st_size / 1e6:.1f} MB)")
        seconds = best_time(lambda: make_dataset("rectangles", out, force=True, kind_params={"bg_noise": (0, 60)}),
                            args.repeats)
        print(f"make_dataset('rectangles', 60k train + 10k test, fg+bg noise) -> .h5: {seconds:.3f} s")


if __name__ == "__main__":
    main()

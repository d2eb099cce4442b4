"""Generation speed on one core, against the format-1 renderer in the same process.

    python benchmarks/bench_generate.py [--n 20000] [--repeats 7]

Prints images/s per kind without noise, with foreground noise and with foreground and background noise, for the
renderer of :mod:`basicprop.noise` and for the format-1 renderer (16 random bits per pixel turned into a pixel by a
65,536-entry lookup table; kept below, unchanged, as the baseline), and the ratio; then the work time of
``make_dataset`` for 60,000 + 10,000 rectangles with foreground and background noise written to .h5, split into
factor sampling, rendering and writing, both ways.

Targets: >= 1,000,000 line images/s with foreground noise on one core; 70,000 rectangles with foreground and
background noise to .h5 in <= 0.15 s. The two renderers are timed alternately and each figure is the best of
``--repeats`` runs (the machine may be shared); images/s are per second of this process's CPU time, the .h5 time is
given both as CPU time and as wall time.
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

from basicprop import KIND_NAMES, get_kind, io  # noqa: E402
from basicprop.generate import SPLITS, balanced_factors, header, make_dataset, split_rngs  # noqa: E402

NOISE = {"none": {"fg_noise": None}, "fg": {}, "fg+bg": {"bg_noise": (0, 60)}}
RECT_SIZES = {"train": 60_000, "test": 10_000}
RECT_PARAMS = {"bg_noise": (0, 60)}


class Format1:
    """The format-1 renderer: 16 random bits per pixel hold the ink code in the top bits and ``r`` below; a lookup
    table maps them to ``low + r % width``, ``r`` in the incomplete last block redrawn."""

    def __init__(self, kind):
        ranges = kind.pixel_ranges
        widths = np.array([hi - lo for lo, hi in ranges], dtype=np.int64)
        self.constant = bool(np.all(widths == 1))
        self.values = np.array([lo for lo, _ in ranges], dtype=np.uint8)
        code_bits = max(1, (len(ranges) - 1).bit_length())
        self.rbits = 16 - code_bits
        self.span = 1 << self.rbits
        r = np.arange(self.span)
        lut = np.zeros((1 << code_bits, self.span), dtype=np.uint8)
        for code, (lo, hi) in enumerate(ranges):
            lut[code] = lo + r % (hi - lo)
        self.lut = lut.ravel()
        self.limits = (self.span - self.span % widths).astype(np.int64)
        self.threshold = int(self.limits.min())
        self.kind = kind
        self.clean = self.values[kind._table]
        self.shifted = np.left_shift(kind._table.astype(np.uint16), self.rbits)

    def render(self, factors, rng):
        index = self.kind.labels(factors)
        if self.constant:
            return self.clean[index]
        n = len(index)
        out = np.empty((n,) + self.shifted.shape[1:], dtype=np.uint8)
        rmask = np.uint16(self.span - 1)
        for start in range(0, n, 1024):
            stop = min(n, start + 1024)
            codes = self.shifted[index[start:stop]]
            r = rng.integers(0, 1 << 16, size=codes.shape, dtype=np.uint16)
            r &= rmask
            if self.threshold < self.span:
                self._redraw(r, codes, rng)
            r |= codes
            np.take(self.lut, r, out=out[start:stop])
        return out

    def _redraw(self, r, codes, rng):
        per_image = r[0].size
        flat_r, flat_c = r.reshape(-1), codes.reshape(-1)
        rows = np.flatnonzero(flat_r.reshape(-1, per_image).max(axis=1) >= self.threshold)
        if rows.size == 0:
            return
        sub = flat_r.reshape(-1, per_image)[rows]
        hits = np.flatnonzero(sub >= self.threshold)
        pos = rows[hits // per_image] * per_image + hits % per_image
        limits = self.limits[flat_c[pos] >> self.rbits]
        bad = flat_r[pos] >= limits
        rmask = np.uint16(self.span - 1)
        while bad.any():
            pos, limits = pos[bad], limits[bad]
            new = rng.integers(0, 1 << 16, size=pos.size, dtype=np.uint16) & rmask
            flat_r[pos] = new
            bad = new >= limits


def best_times(fns: dict, repeats: int) -> tuple[dict, dict]:
    """Best CPU time (this process's user + system time, which other processes on a shared machine do not inflate)
    and best wall time of each function, the functions run alternately ``repeats`` times."""
    cpu, wall = dict.fromkeys(fns, float("inf")), dict.fromkeys(fns, float("inf"))
    for _ in range(repeats):
        for name, fn in fns.items():
            start_cpu, start_wall = time.process_time(), time.perf_counter()
            fn()
            cpu[name] = min(cpu[name], time.process_time() - start_cpu)
            wall[name] = min(wall[name], time.perf_counter() - start_wall)
    return cpu, wall


def timed_stages(out: Path, stages: dict, format1: bool = False) -> None:
    """``make_dataset("rectangles", out, kind_params=RECT_PARAMS)`` as the same calls timed one by one (factors,
    render, write), with today's renderer or (``format1``) the format-1 one; each stage's best time kept."""
    kind = get_kind("rectangles", **RECT_PARAMS)
    render = Format1(kind).render if format1 else kind.render
    t0 = time.perf_counter()
    rngs = split_rngs(0)
    factors = {s: balanced_factors(kind, RECT_SIZES[s], rngs[s]) for s in SPLITS}
    t1 = time.perf_counter()
    splits = {s: {"images": render(factors[s], rngs[s]), "labels": kind.labels(factors[s]),
                  "factors": factors[s]} for s in SPLITS}
    t2 = time.perf_counter()
    io.write(out, splits, header(kind, 0, RECT_SIZES), force=True)
    t3 = time.perf_counter()
    for name, seconds in (("factors", t1 - t0), ("render", t2 - t1), ("write", t3 - t2)):
        stages[name] = min(stages.get(name, float("inf")), seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20_000, help="images per measurement")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # pin to one core
    print(f"numpy {np.__version__}, python {platform.python_version()}, {args.n} images, best of {args.repeats}")
    print(f"{'kind':<12}{'noise':<7}{'format 1 img/s':>16}{'now img/s':>14}{'ratio':>8}")
    for name in KIND_NAMES:
        for noise, params in NOISE.items():
            kind = get_kind(name, **params)
            old = Format1(kind)
            rng = np.random.default_rng(0)
            factors = kind.sample_factors(args.n, rng)
            kind.render(factors[:10], rng)  # build the tables outside the timing
            best, _ = best_times({"old": lambda: old.render(factors, rng), "now": lambda: kind.render(factors, rng)},
                                 args.repeats)
            print(f"{name:<12}{noise:<7}{args.n / best['old']:>16,.0f}{args.n / best['now']:>14,.0f}"
                  f"{best['old'] / best['now']:>8.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rect.h5"
        get_kind("rectangles", **RECT_PARAMS).render(np.zeros((1, 2), np.int64), np.random.default_rng(0))
        old_stages, now_stages = {}, {}
        cpu, wall = best_times({"old": lambda: timed_stages(out, old_stages, format1=True),
                                "now": lambda: make_dataset("rectangles", out, force=True, kind_params=RECT_PARAMS),
                                "stages": lambda: timed_stages(out, now_stages)}, args.repeats)
        size = out.stat().st_size / 1e6
        print(f"make_dataset('rectangles', 60k train + 10k test, fg+bg noise) -> .h5 ({size:.1f} MB)")
        for what, best in (("CPU", cpu), ("wall", wall)):
            print(f"  {what:<4}  format 1 {best['old']:.3f} s, now {best['now']:.3f} s, "
                  f"ratio {best['old'] / best['now']:.2f}")
        for what, stages in (("format 1", old_stages), ("now", now_stages)):
            print(f"  stages (wall), {what}: " + ", ".join(f"{k} {v:.3f} s" for k, v in stages.items()))


if __name__ == "__main__":
    main()

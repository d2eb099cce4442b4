"""Which edge of the square each value of a translation checkpoint's x and y codes pins.

    python benchmarks/translation_anchors.py results/basicprop-plus/work/translation-*/seed*/ckpt.pt

The ``translation`` factors x and y are the square's left column and top row. A code value that pins the right
(bottom) edge instead draws a left edge that moves with the size, so it stands for a different x at every size:
the code is readable (Q's term cannot tell) but does not recover the factor. For each code value G draws
``--n`` images; the value pins an edge ("start": left / top, "end": right / bottom, "centre") when one position of
that edge holds >= 90 % of its images, else it is "mixed". Prints one line per checkpoint with the counts.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from basicprop.clitools import fail
from gan_models.checkpoint import load_checkpoint
from gan_models.latent import CodeSpec, sample_latent

SHARE = 0.9
CODES = {"x": (1, 1), "y": (2, 2)}     # factor: (categorical code index, image axis summed away for its profile)


def anchors(path: str, n: int = 3000, seed: int = 0) -> dict[str, list[str]]:
    """Per code ("x", "y") of the checkpoint at ``path``, the edge each of its values pins: "start", "end",
    "centre" or "mixed"."""
    model = load_checkpoint(path)
    return generator_anchors(model.generator, model.spec, n, seed)


def generator_anchors(generator, spec: CodeSpec, n: int = 3000, seed: int = 0) -> dict[str, list[str]]:
    """``anchors`` for a generator (latent input -> (n, 1, 28, 28) images in [0, 1])."""
    if len(spec.cat) != 3 or tuple(spec.cat[1:]) != (8, 8):
        raise ValueError(f"categorical codes {list(spec.cat)}: not a translation layout (size, x, y: [3, 8, 8])")
    with torch.no_grad():
        latent = sample_latent(spec, n, torch.Generator().manual_seed(seed))
        ink = generator(latent.to_input(spec))[:, 0].numpy() > 0.5
    out = {}
    for name, (code, axis) in CODES.items():
        profile = ink.any(axis)                                      # (n, 28): columns (x) / rows (y) with ink
        first = profile.argmax(1)
        last = profile.shape[1] - 1 - profile[:, ::-1].argmax(1)
        edges = {"start": first, "end": last, "centre": first + last}
        values = latent.cat[:, code].numpy()
        kinds = []
        for v in range(spec.cat[code]):
            chosen = values == v
            share = {k: np.unique(e[chosen], return_counts=True)[1].max() / chosen.sum() for k, e in edges.items()}
            best = max(share, key=share.get)
            kinds.append(best if share[best] >= SHARE else "mixed")
        out[name] = kinds
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ckpt", nargs="+", help="translation checkpoints (cat = 3, 8, 8: size, x, y)")
    parser.add_argument("--n", type=int, default=3000, help="images drawn per checkpoint")
    args = parser.parse_args()
    torch.set_num_threads(1)
    for path in args.ckpt:
        try:
            found = anchors(path, args.n)
        except (OSError, ValueError) as exc:
            fail(f"{path}: {exc.strerror if isinstance(exc, OSError) else exc}")
        counts = "; ".join(f"{name}: " + ", ".join(f"{k} {v.count(k)}" for k in ("start", "end", "centre", "mixed"))
                           for name, v in found.items())
        print(f"{path}  {counts}")


if __name__ == "__main__":
    main()

"""How much of MNIST's slant and width each continuous code of a C-InfoGAN checkpoint controls.

    python benchmarks/code_share.py results/cinfogan/work/mnist-slant-width-box/seed*/ckpt.pt [--bases 300]

The generator direction's Spearman ρ (``cinfogan.rho*`` of ``python -m eval disentangle``) pairs each sampled code
with the property measured on its image, over images whose z differs too. This script separates the two inputs:
for ``--bases`` latents (label, z and the other codes drawn once) each continuous code is swept alone over
``--steps`` values on [-1, 1] and every image is measured (:func:`eval.measure.slant_width`). Per code and
property it prints

* ``along``: the Spearman ρ of the code with the property along one sweep, averaged over the sweeps (what a
  traversal picture shows: ±1 when the property follows the code monotonically in every sweep);
* ``share``: the part of the property's variance among one label's images that the code accounts for, the mean
  over labels of the variance along the sweeps over the variance of all that label's images (1 when z and the
  other codes do not move the property at all, 0 when the code does not).
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from basicprop.clitools import fail
from basicprop.images import to_uint8
from eval.measure import slant_width
from eval.traversal import sweep_latent, sweep_spearman
from scored_checkpoints import each_scored, require_mnist_cinfogan

PROPERTIES = ("slant", "width")


def code_share(model, bases: int = 300, steps: int = 9, seed: int = 0) -> dict[str, dict[str, dict[str, float]]]:
    """{code: {property: {"along": mean Spearman ρ along a sweep, "share": within-label variance share}}} for each
    continuous code of a C-InfoGAN ``model`` (a loaded checkpoint) trained on MNIST."""
    require_mnist_cinfogan(model, continuous=True)
    base = model.sample_latent(bases, torch.Generator().manual_seed(seed))
    labels = base.y.cpu().numpy()
    values = torch.linspace(-1.0, 1.0, steps)
    out = {}
    with torch.no_grad():
        for j in range(model.spec.cont):
            images = to_uint8(model.generate(sweep_latent(base, "cont", j, values)))
            measured = slant_width(images).reshape(bases, steps, len(PROPERTIES))
            out[f"cont{j}"] = {name: _along_and_share(measured[:, :, k], labels)
                               for k, name in enumerate(PROPERTIES)}
    return out


def _along_and_share(sweeps: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """(bases, steps) measurements along the sweeps, (bases,) labels -> {"along", "share"}."""
    groups = [sweeps[labels == d] for d in np.unique(labels) if np.sum(labels == d) >= 2]
    total = np.mean([g.var() for g in groups])
    share = np.mean([g.var(axis=1).mean() for g in groups]) / total if total > 0 else 0.0
    return {"along": sweep_spearman(sweeps), "share": float(share)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ckpt", nargs="+")
    parser.add_argument("--bases", type=int, default=300, help="latents whose codes are swept (default 300)")
    parser.add_argument("--steps", type=int, default=9, help="values of each sweep on [-1, 1] (default 9)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.bases < 20 or args.steps < 3:
        fail(f"--bases must be at least 20 and --steps at least 3, got {args.bases} and {args.steps}")
    torch.set_grad_enabled(False)
    for path, result in each_scored(args.ckpt, lambda m: code_share(m, args.bases, args.steps, args.seed)):
        cells = [f"{code} {name}: along {v['along']:+.2f} share {v['share']:.2f}"
                 for code, row in result.items() for name, v in row.items()]
        print(f"{path}\n  " + "\n  ".join(cells))


if __name__ == "__main__":
    main()

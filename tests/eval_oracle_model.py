"""A fake "loaded checkpoint" that satisfies the gan_models contract with known answers (used by eval tests).

Its codes *are* the factors: the generator renders images through the basicprop factor API from the categorical
codes (one per factor), and the encoder reads the factors back from pixels (the analytic measurements), so every
metric should score it ~1. With ``condition`` one factor becomes the C-InfoGAN label ``y`` instead of a code.
"""
from __future__ import annotations

import numpy as np
import torch

from eval.oracles import line_position, rectangle_heights, to_uint8
from gan_models.latent import CodeSpec, sample_latent
from gan_models.nets import QOut


class OracleModel:
    def __init__(self, kind, condition: str | None = None, seed: int = 0):
        self.kind = kind
        names = list(kind.factor_names)
        self.cond_index = names.index(condition) if condition else None
        sizes = list(kind.factor_sizes)
        cat = tuple(s for j, s in enumerate(sizes) if j != self.cond_index)
        cond = sizes[self.cond_index] if condition else 0
        self.spec = CodeSpec(noise_dim=0, cat=cat, cont=0, cond=cond)
        self.dataset_meta = {"dataset": f"basicprop-{kind.name}", "kind": kind.name, "kind_params": kind.params,
                             "seed": 0, "factor_names": names, "factor_sizes": sizes, "condition_factor": condition}
        self.device = torch.device("cpu")
        self.rng = np.random.default_rng(seed)

    def sample_latent(self, n, generator):
        return sample_latent(self.spec, n, generator)

    def _factors_of(self, latent) -> np.ndarray:
        cols = list(latent.cat.numpy().T)
        if self.cond_index is not None:
            cols.insert(self.cond_index, latent.y.numpy())
        return np.stack(cols, axis=1).astype(np.int64)

    def generate(self, latent):
        images = self.kind.render(self._factors_of(latent), self.rng)
        return torch.from_numpy(images).float().div(255).unsqueeze(1)

    def encode(self, images):
        images = to_uint8(images)
        f = line_position(images)[:, None] if self.kind.name == "line" else rectangle_heights(images)
        f = np.clip(f, 0, None)
        keep = [j for j in range(f.shape[1]) if j != self.cond_index]
        logits = [torch.nn.functional.one_hot(torch.from_numpy(f[:, j]), self.kind.factor_sizes[j]).float()
                  for j in keep]
        return QOut(logits, torch.zeros(len(images), 0), None)

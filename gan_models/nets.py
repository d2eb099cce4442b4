"""The networks of the InfoGAN paper's MNIST setup (Chen et al. 2016, appendix C.1), sized by a CodeSpec.

    G: FC 1024-BN-ReLU, FC 7*7*128-BN-ReLU, deconv 4x4/2 64-BN-ReLU, deconv 4x4/2 1-sigmoid -> (n, 1, 28, 28) in [0, 1]
    D trunk: conv 4x4/2 64-lReLU, conv 4x4/2 128-BN-lReLU, FC 1024-BN-lReLU    (lReLU slope 0.1)
    D head:  FC 1                       (C-InfoGAN: plus a projection <embed(y), h>, i.e. D(x, y))
    Q head:  FC 128-BN-lReLU, FC (sum of category sizes + n_cont [+ n_cont log-stds])  on the *shared* trunk

Q reads the same trunk features as D, so its loss trains the trunk too. Q does not see the label y, so
``encode(images)`` needs only images, also for C-InfoGAN.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _sn

from .latent import CodeSpec

LRELU = 0.1


class QOut(NamedTuple):
    cat_logits: list[torch.Tensor]       # one (n, k) tensor of logits per categorical code
    cont_mean: torch.Tensor              # (n, n_cont)
    cont_logstd: torch.Tensor | None     # (n, n_cont), None when the std is fixed


class Generator(nn.Module):
    def __init__(self, spec: CodeSpec):
        super().__init__()
        self.spec = spec
        self.fc = nn.Sequential(
            nn.Linear(spec.input_dim, 1024), nn.BatchNorm1d(1024), nn.ReLU(True),
            nn.Linear(1024, 128 * 7 * 7), nn.BatchNorm1d(128 * 7 * 7), nn.ReLU(True),
        )
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.ReLU(True),
            nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Sigmoid(),
        )

    def forward(self, g_input: torch.Tensor) -> torch.Tensor:
        """g_input: (n, spec.input_dim) -> images (n, 1, 28, 28) in [0, 1]."""
        return self.deconv(self.fc(g_input).view(-1, 128, 7, 7))


class Discriminator(nn.Module):
    """D(x[, y]) and Q(c | x) on a shared trunk. ``forward`` returns (logit (n,), trunk features (n, 1024))."""

    def __init__(self, spec: CodeSpec, *, learn_cont_std: bool = False, spectral_norm: bool = False,
                 batchnorm: bool = True):
        super().__init__()
        self.spec = spec
        self.learn_cont_std = learn_cont_std
        sn = _sn if spectral_norm else (lambda m: m)
        norm2d = (lambda c: nn.BatchNorm2d(c)) if batchnorm else (lambda c: nn.Identity())
        norm1d = (lambda c: nn.BatchNorm1d(c)) if batchnorm else (lambda c: nn.Identity())
        self.trunk = nn.Sequential(
            sn(nn.Conv2d(1, 64, 4, 2, 1)), nn.LeakyReLU(LRELU, True),
            sn(nn.Conv2d(64, 128, 4, 2, 1)), norm2d(128), nn.LeakyReLU(LRELU, True),
            nn.Flatten(),
            sn(nn.Linear(128 * 7 * 7, 1024)), norm1d(1024), nn.LeakyReLU(LRELU, True),
        )
        self.head = sn(nn.Linear(1024, 1))
        self.embed = sn(nn.Embedding(spec.cond, 1024)) if spec.cond else None
        n_q = sum(spec.cat) + spec.cont * (2 if learn_cont_std else 1)
        self.q_head = nn.Sequential(
            nn.Linear(1024, 128), nn.BatchNorm1d(128), nn.LeakyReLU(LRELU, True), nn.Linear(128, n_q),
        ) if n_q else None

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.trunk(x)
        logit = self.head(h).squeeze(1)
        if self.embed is not None:
            if y is None:
                raise ValueError("this discriminator is conditional: pass the label y")
            logit = logit + (self.embed(y) * h).sum(1)
        return logit, h

    def q(self, h: torch.Tensor) -> QOut:
        """Q's code parameters from trunk features h (n, 1024)."""
        n, spec = h.shape[0], self.spec
        if self.q_head is None:
            empty = h.new_zeros(n, 0)
            return QOut([], empty, empty if self.learn_cont_std else None)
        out = self.q_head(h)
        logits = list(torch.split(out[:, :sum(spec.cat)], list(spec.cat), dim=1)) if spec.cat else []
        rest = out[:, sum(spec.cat):]
        mean = rest[:, :spec.cont]
        logstd = rest[:, spec.cont:].clamp(-5.0, 3.0) if self.learn_cont_std else None
        return QOut(logits, mean, logstd)


@torch.no_grad()
def recalibrate_batchnorm(discriminator: Discriminator, batches) -> None:
    """Set the running statistics of every BatchNorm layer in D's trunk and Q's head to the plain average of their
    batch statistics over ``batches`` (tensors (n, 1, 28, 28) in [0, 1]): what D and Q apply in eval mode.

    Training leaves there an exponential average over every batch D saw (real, fake, warped), so in eval mode Q
    reads real images under statistics it never met; re-estimated from real images alone (no labels), they are
    the statistics of the images it reads. Only the BatchNorm layers run in train mode (spectral norm's power
    iteration stays still); weights, other buffers and every module's mode are left as they were."""
    layers = [m for m in discriminator.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]
    momenta, modes = [m.momentum for m in layers], [(m, m.training) for m in discriminator.modules()]
    discriminator.eval()
    for m in layers:
        m.reset_running_stats()
        m.momentum = None                 # cumulative average: every batch weighs the same
        m.train()
    try:
        for x in batches:
            discriminator.q(discriminator.trunk(x))
    finally:
        for m, momentum in zip(layers, momenta):
            m.momentum = momentum
        for m, training in modes:
            m.training = training


def init_weights(module: nn.Module, scheme: str) -> None:
    """'dcgan': conv/linear weights N(0, 0.02), BN weights N(1, 0.02), biases 0; 'default': PyTorch's own."""
    if scheme == "default":
        return
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
            w = m.parametrizations.weight.original if hasattr(m, "parametrizations") else m.weight
            nn.init.normal_(w, 0.0, 0.02)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)

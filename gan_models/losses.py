"""Small pure loss functions. Every input is samples-first; every output is a scalar mean over the batch.

The information term of InfoGAN is a variational lower bound on the mutual information of a code c and the
generator's output x = G(z, c):   I(c; x) >= H(c) - E[-log Q(c | x)].
For Cat(k), H(c) = log k; for a continuous code c ~ U(-1, 1), the differential entropy H(c) = log 2 per
dimension, and -log Q(c | x) is the Gaussian NLL *including* its log(sigma) and 0.5 log(2 pi) terms (dropping
them, or using a fixed sigma = 1 prior cross-entropy for H(c), inflates the reported bound).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LOG_2PI = math.log(2 * math.pi)


def d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, real_label: float = 1.0) -> torch.Tensor:
    """Discriminator BCE on logits: real -> ``real_label`` (1.0, or e.g. 0.9 for one-sided smoothing), fake -> 0."""
    real = F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, real_label))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real + fake


def g_loss_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss: -log D(G(z)) = BCE(fake_logits, 1)."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def categorical_nll(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy -log Q(c | x). logits (n, k) raw scores (softmax applied once, here), target (n,) long."""
    return F.cross_entropy(logits, target)


def gaussian_nll(x: torch.Tensor, mean: torch.Tensor, logstd: torch.Tensor | None = None,
                 fixed_std: float = 1.0) -> torch.Tensor:
    """-log N(x; mean, std) summed over code dimensions, mean over samples. x, mean, logstd: (n, d).

    logstd=None uses the fixed ``fixed_std`` (with std 1 this is 0.5 * squared error + 0.5 log 2 pi).
    """
    if x.shape[1] == 0:
        return x.new_zeros(())
    if logstd is None:
        logstd = torch.full_like(mean, math.log(fixed_std))
    per_dim = 0.5 * ((x - mean) * torch.exp(-logstd)) ** 2 + logstd + 0.5 * LOG_2PI
    return per_dim.sum(1).mean()


def gaussian_nll_per_dim(x: torch.Tensor, mean: torch.Tensor, logstd: torch.Tensor | None = None,
                         fixed_std: float = 1.0) -> torch.Tensor:
    """(d,) NLL of each continuous code dimension, mean over samples."""
    if logstd is None:
        logstd = torch.full_like(mean, math.log(fixed_std))
    return (0.5 * ((x - mean) * torch.exp(-logstd)) ** 2 + logstd + 0.5 * LOG_2PI).mean(0)


def gaussian_nll_fitted_std(x: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    """(d,) NLL per dimension of the Gaussian Q(c | x) = N(mean, s^2) with s^2 = the batch's mean squared error.

    The best constant std for Q's means: 0.5 * log(2 pi e * MSE). With a fixed std of 1 the bound
    log 2 - NLL can never exceed log 2 - 0.5 log 2 pi = -0.23 nats, so this tighter bound is logged beside it.
    """
    mse = ((x - mean) ** 2).mean(0).clamp_min(1e-12)
    return 0.5 * torch.log(2 * math.pi * math.e * mse)


def mi_lower_bound(entropy: float, nll: torch.Tensor) -> torch.Tensor:
    """Variational lower bound H(c) - E[-log Q(c | x)] in nats."""
    return entropy - nll


def real_data_mi(logits: torch.Tensor) -> torch.Tensor:
    """I(c_hat; x) of Q's predicted category on a batch of (real) images, as in CatGAN / IMSAT.

    I = H(E_x[Q(c | x)]) - E_x[H(Q(c | x))], logits (n, k). High when Q is confident on each image (low
    conditional entropy) and uses all categories equally over the batch (high marginal entropy).
    """
    logp = F.log_softmax(logits, dim=1)
    p = logp.exp()
    cond_entropy = -(p * logp).sum(1).mean()
    marginal = p.mean(0)
    marginal_entropy = -(marginal * torch.log(marginal.clamp_min(1e-12))).sum()
    return marginal_entropy - cond_entropy


def warp_consistency(logits_clean: torch.Tensor, logits_warped: torch.Tensor) -> torch.Tensor:
    """KL(Q(c | x) || Q(c | warp(x))) averaged over a batch, the clean reading held fixed: IMSAT's self-augmented
    training (Hu et al. 2017) with warps for its perturbation. Zero when the warp leaves Q's reading unchanged."""
    target = F.log_softmax(logits_clean.detach(), dim=1)
    return (target.exp() * (target - F.log_softmax(logits_warped, dim=1))).sum(1).mean()

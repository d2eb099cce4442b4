"""InfoGAN (Chen et al. 2016): a GAN whose generator G(z, c) is asked to keep its codes c readable by Q.

The model owns its update, the trainer owns the schedule:

    stats = model.train_step(batch, optims, generator=gen, noise_std=0.1)

One step, as in the paper's code:
  1. D/Q step: D learns real -> 1, G(z, c) -> 0; Q (on D's shared trunk) learns c from G(z, c) by minimising
     lambda_cat * CE + lambda_cont * NLL; optionally - lambda_real_mi * I(c_hat; x) on real images (from the step
     the trainer sets ``real_mi_on``, config.real_mi_start; with code_invariance each code read through its own
     nuisance, as on the fakes), and
     + lambda_real_consistency * KL(Q(c | x) || Q(c | warp(x))) on real images (categorical codes, warps at the
     cat_augment strength, the clean reading held fixed), so Q reads real images as it reads warped fakes.
     With cat_augment > 0 the categorical codes are read from randomly warped fakes (``augment``), so G cannot
     keep them readable through slant, width or position alone; with code_invariance each categorical code is read
     from the fakes under its own nuisance (e.g. the x code of translation through random vertical shifts), so G
     can keep it readable only through the factor that survives it. Continuous codes are read from the fakes as
     drawn, or with cont_invariance each through its own nuisance the same way (C-InfoGAN's width code through
     random shears, which keep the width and scramble the slant).
  2. G step: non-saturating -log D(G(z, c)) plus the same information term (unless info_to_generator=False),
     optionally + lambda_interaction * the code-interaction penalty (see ``code_interaction``).
The returned stats are detached 0-d tensors (no host sync); the trainer averages them at log time.
"""
from __future__ import annotations

from itertools import combinations
from typing import NamedTuple

import torch
from torch import nn

from . import losses
from .augment import NO_INVARIANCE, invariance_view, random_affine
from .latent import CodeSpec, Latent, sample_latent
from .nets import Discriminator, Generator, QOut, init_weights


class Batch(NamedTuple):
    x: torch.Tensor               # (n, 1, 28, 28) float in [0, 1]
    y: torch.Tensor | None = None  # (n,) long condition label (C-InfoGAN), else None


class Views(NamedTuple):
    """The images D reads in one update, instance noise added: (n, 1, 28, 28) each."""
    real: torch.Tensor | None     # real images (D's step only)
    fake: torch.Tensor            # G's images
    warped: tuple | None          # G's images as Q reads the categorical codes: one warp for all (cat_augment),
                                  # one per code with a nuisance (code_invariance); else None
    real_warped: torch.Tensor | None = None   # real images warped at the cat_augment strength (D's step, with
                                              # lambda_real_consistency); else None
    cont_views: tuple | None = None           # G's images, one view per continuous code with a nuisance
                                              # (cont_invariance); else None
    real_views: tuple | None = None           # real images, one view per categorical code with a nuisance
                                              # (code_invariance, with lambda_real_mi; D's step); else None


STATS_LAST = ("loss/d", "loss/g", "loss/info", "d/real", "d/fake")


def step_stats(d_stats: dict, g_stats: dict) -> dict:
    """One step's stats in the log's order: information bounds and optional terms first, then STATS_LAST."""
    stats = {**d_stats, **g_stats}
    last = {k: stats.pop(k) for k in STATS_LAST}
    return {**stats, **last}


class InfoGAN(nn.Module):
    conditional = False

    def __init__(self, spec: CodeSpec, *, lambda_cat: float = 1.0, lambda_cont: float = 1.0,
                 info_to_generator: bool = True, lambda_real_mi: float = 0.0, real_label: float = 1.0,
                 learn_cont_std: bool = False, d_spectral_norm: bool = False, d_batchnorm: bool = True,
                 init: str = "dcgan", lambda_interaction: float = 0.0, cat_augment: float = 0.0,
                 code_invariance: tuple[str, ...] = (), lambda_real_consistency: float = 0.0,
                 cont_invariance: tuple[str, ...] = ()):
        super().__init__()
        if spec.cond and not self.conditional:
            raise ValueError("InfoGAN is unconditional; use CInfoGAN for a code spec with cond > 0")
        self.spec = spec
        self.lambda_cat, self.lambda_cont = lambda_cat, lambda_cont
        self.info_to_generator = info_to_generator
        self.lambda_real_mi = lambda_real_mi
        self.real_mi_on = True          # False: the real-image MI term is logged, not trained (config.real_mi_on)
        self.lambda_interaction = lambda_interaction
        self.cat_augment = cat_augment
        self.lambda_real_consistency = lambda_real_consistency
        if lambda_real_consistency > 0 and not (cat_augment > 0 and spec.cat):
            raise ValueError("lambda_real_consistency warps real images at the cat_augment strength: needs a "
                             "categorical code and cat_augment > 0")
        self.code_invariance = tuple(code_invariance)
        if self.code_invariance and (len(self.code_invariance) != len(spec.cat) or cat_augment > 0):
            raise ValueError("code_invariance names one nuisance per categorical code, without cat_augment")
        self.cont_invariance = tuple(cont_invariance)
        if self.cont_invariance and len(self.cont_invariance) != spec.cont:
            raise ValueError("cont_invariance names one nuisance per continuous code")
        self.real_label = real_label
        self.G = Generator(spec)
        self.D = Discriminator(spec, learn_cont_std=learn_cont_std, spectral_norm=d_spectral_norm,
                               batchnorm=d_batchnorm)
        init_weights(self.G, init)
        init_weights(self.D, init)
        self._entropy = spec.code_entropies()

    @classmethod
    def from_config(cls, spec: CodeSpec, cfg) -> "InfoGAN":
        return cls(spec, lambda_cat=cfg.lambda_cat, lambda_cont=cfg.lambda_cont,
                   info_to_generator=cfg.info_to_generator, lambda_real_mi=cfg.lambda_real_mi,
                   real_label=cfg.real_label, learn_cont_std=cfg.learn_cont_std,
                   d_spectral_norm=cfg.d_spectral_norm, d_batchnorm=cfg.d_batchnorm, init=cfg.init,
                   lambda_interaction=cfg.lambda_interaction, cat_augment=cfg.cat_augment,
                   code_invariance=cfg.code_invariance, lambda_real_consistency=cfg.lambda_real_consistency,
                   cont_invariance=cfg.cont_invariance)

    # ---- pieces
    def generate(self, latent: Latent) -> torch.Tensor:
        return self.G(latent.to_input(self.spec))

    def make_optimizers(self, lr_d: float, lr_g: float, betas: tuple[float, float]) -> dict:
        """One Adam for D + Q (shared trunk), one for G."""
        return {"D": torch.optim.Adam(self.D.parameters(), lr=lr_d, betas=betas),
                "G": torch.optim.Adam(self.G.parameters(), lr=lr_g, betas=betas)}

    def info_loss(self, q: QOut, latent: Latent, cat_logits: list | None = None,
                  cont: QOut | None = None) -> tuple[torch.Tensor, dict]:
        """lambda-weighted -log Q(c | x) over all codes, and per-code NLL and MI lower bounds (detached).
        ``cat_logits`` replaces ``q.cat_logits`` (Q's reading of warped images, see ``cat_augment``), ``cont``'s
        continuous parameters replace ``q``'s (``cont_invariance``)."""
        spec, stats = self.spec, {}
        total = latent.z.new_zeros(())
        for i, logits in enumerate(q.cat_logits if cat_logits is None else cat_logits):
            nll = losses.categorical_nll(logits, latent.cat[:, i])
            total = total + self.lambda_cat * nll
            stats[f"mi/cat{i}"] = losses.mi_lower_bound(self._entropy[f"cat{i}"], nll.detach())
        if spec.cont:
            q = q if cont is None else cont
            total = total + self.lambda_cont * losses.gaussian_nll(latent.cont, q.cont_mean, q.cont_logstd)
            per_dim = losses.gaussian_nll_per_dim(latent.cont.detach(), q.cont_mean.detach(),
                                                  None if q.cont_logstd is None else q.cont_logstd.detach())
            fitted = losses.gaussian_nll_fitted_std(latent.cont.detach(), q.cont_mean.detach())
            for j in range(spec.cont):
                stats[f"mi/cont{j}"] = losses.mi_lower_bound(self._entropy[f"cont{j}"], per_dim[j])
                stats[f"mi/cont{j}_fit"] = losses.mi_lower_bound(self._entropy[f"cont{j}"], fitted[j])
        return total, stats

    def code_interaction(self, n: int, generator: torch.Generator, y: torch.Tensor | None = None) -> torch.Tensor:
        """Mean squared mixed second difference of G between two codes a and b, z (and y) held fixed:

            G(a', b') - G(a', b) - G(a, b') + G(a, b)

        It is zero exactly when the effects of a and b on the image add up, as two disentangled factors that
        draw different parts of the image do (the two bars of rectangles), and large for the entangled optima
        that InfoGAN's objective cannot tell apart from them (one value of a code taking over the other bar:
        G's distribution and Q's accuracy on G's codes are both perfect there). A discrete form of the
        Hessian Penalty (Peebles et al., ECCV 2020). ``n`` quadruples (one G pass of 4n images), the pair of
        codes cycling over all pairs of categorical and continuous codes; a categorical a' always differs from a.
        """
        return self.interaction_penalty(self.interaction_input(n, generator, y))

    def interaction_input(self, n: int, generator: torch.Generator,
                          y: torch.Tensor | None = None) -> torch.Tensor | None:
        """The random half of ``code_interaction``: G's input (4n, input_dim) for the variants (a', b'), (a', b),
        (a, b'), (a, b) of n latents, in that order; None (nothing drawn) when the spec has no pair of codes."""
        spec = self.spec
        n_groups = spec.n_cat + spec.cont
        pairs = list(combinations(range(n_groups), 2))
        if not pairs:
            return None
        base = sample_latent(spec, n, generator, y=y[:n] if y is not None else None)
        dev = base.z.device
        shift = torch.stack([torch.randint(1, k, (n,), generator=generator, device=dev) for k in spec.cat], 1) \
            if spec.cat else base.cat
        alt_cat = torch.stack([(base.cat[:, i] + shift[:, i]) % k for i, k in enumerate(spec.cat)], 1) \
            if spec.cat else base.cat
        alt_cont = torch.rand(n, spec.cont, generator=generator, device=dev) * 2 - 1
        groups = torch.arange(n_groups, device=dev)
        # the pairs in itertools' order, built on the device (no host data copied in the step)
        pair = torch.combinations(groups, 2)[torch.arange(n, device=dev) % len(pairs)]      # (n, 2)
        sel_a, sel_b = groups == pair[:, :1], groups == pair[:, 1:]                          # (n, n_groups)

        def variant(use_a: bool, use_b: bool) -> Latent:
            chosen = (sel_a & use_a) | (sel_b & use_b)
            return base._replace(cat=torch.where(chosen[:, :spec.n_cat], alt_cat, base.cat),
                                 cont=torch.where(chosen[:, spec.n_cat:], alt_cont, base.cont))

        lats = [variant(True, True), variant(True, False), variant(False, True), variant(False, False)]
        return torch.cat([lat.to_input(spec) for lat in lats])

    def interaction_penalty(self, g_input: torch.Tensor | None) -> torch.Tensor:
        """The deterministic half of ``code_interaction``: G on ``interaction_input``'s variants, the mean squared
        mixed difference; 0 for None."""
        if g_input is None:
            return self.G.fc[0].weight.new_zeros(())
        x11, x10, x01, x00 = self.G(g_input).chunk(4)
        return (x11 - x10 - x01 + x00).pow(2).mean()

    @staticmethod
    def _noisy(x: torch.Tensor, std: float, generator: torch.Generator) -> torch.Tensor:
        if std <= 0:
            return x
        return x + std * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)

    def _warp(self, fake: torch.Tensor, noise_std: float, generator: torch.Generator) -> tuple | None:
        """The noisy fakes Q reads the categorical codes from, when not the fakes as drawn: (one random warp,)
        with cat_augment, one view per code with a nuisance (in code order) with code_invariance; else None."""
        if not self.spec.cat:
            return None
        if self.cat_augment > 0:
            return (self._noisy(random_affine(fake, self.cat_augment, generator), noise_std, generator),)
        return self._nuisance_views(fake, self.code_invariance, noise_std, generator)

    def _nuisance_views(self, fake: torch.Tensor, names: tuple[str, ...], noise_std: float,
                        generator: torch.Generator) -> tuple | None:
        """One noisy view of the fakes per name other than "none", in order; None when there is none."""
        views = tuple(self._noisy(invariance_view(fake, name, generator), noise_std, generator)
                      for name in names if name != NO_INVARIANCE)
        return views or None

    def _cat_logits(self, warped: tuple | None, q_fake: QOut) -> list | None:
        """Q's categorical logits from ``_warp``'s views: code i from its own view (code_invariance; "none": the
        fakes' ``q_fake``), every code from the one warp (cat_augment); None: read them from ``q_fake``."""
        if warped is None:
            return None
        read = [self.D.q(self.D.trunk(x)).cat_logits for x in warped]
        if not self.code_invariance:
            return read[0]
        views = iter(read)
        return [q_fake.cat_logits[i] if name == NO_INVARIANCE else next(views)[i]
                for i, name in enumerate(self.code_invariance)]

    def _cont_warp(self, fake: torch.Tensor, noise_std: float, generator: torch.Generator) -> tuple | None:
        """The noisy fakes Q reads the continuous codes from: one view per code with a nuisance (cont_invariance,
        in code order); None when every code is read as drawn."""
        return self._nuisance_views(fake, self.cont_invariance, noise_std, generator)

    def _cont_read(self, views: tuple | None, q_fake: QOut) -> QOut | None:
        """Q's continuous parameters with code j read from its own view (``_cont_warp``; "none": ``q_fake``'s
        column j); None: read them all from ``q_fake``."""
        if views is None:
            return None
        read = iter([self.D.q(self.D.trunk(x)) for x in views])
        picks = [q_fake if name == NO_INVARIANCE else next(read) for name in self.cont_invariance]
        mean = torch.stack([p.cont_mean[:, j] for j, p in enumerate(picks)], 1)
        logstd = None if q_fake.cont_logstd is None else torch.stack(
            [p.cont_logstd[:, j] for j, p in enumerate(picks)], 1)
        return QOut(q_fake.cat_logits, mean, logstd)

    # ---- the update: random draws (``*_inputs``) apart from the losses, so that a stack of models
    # (gan_models.stacked) draws each member's numbers from its own generator in this order and vmaps the losses
    def d_inputs(self, x_real: torch.Tensor, fake: torch.Tensor, noise_std: float,
                 generator: torch.Generator) -> Views:
        """What D sees in its step: noisy real images, noisy fakes (detached), with cat_augment (code_invariance)
        warped fakes, with lambda_real_consistency warped real images, with cont_invariance the continuous codes'
        views, with code_invariance and lambda_real_mi the categorical codes' views of the real images; drawn in
        that order, the newer options last, so runs without them draw as before."""
        views = Views(self._noisy(x_real, noise_std, generator), self._noisy(fake, noise_std, generator),
                      self._warp(fake, noise_std, generator))
        if self.lambda_real_consistency > 0:
            warped = random_affine(x_real, self.cat_augment, generator)
            views = views._replace(real_warped=self._noisy(warped, noise_std, generator))
        if self.cont_invariance:
            views = views._replace(cont_views=self._cont_warp(fake, noise_std, generator))
        if self.lambda_real_mi > 0 and self.code_invariance:
            views = views._replace(real_views=self._nuisance_views(x_real, self.code_invariance, noise_std, generator))
        return views

    def g_inputs(self, fake: torch.Tensor, noise_std: float, generator: torch.Generator) -> Views:
        """What D sees in G's step: the noisy fakes and, when the information term reaches G, the categorical and
        then the continuous codes' views (cat_augment / code_invariance, cont_invariance)."""
        noisy = self._noisy(fake, noise_std, generator)
        info = self.info_to_generator and self.spec.has_codes
        warped = self._warp(fake, noise_std, generator) if info else None
        cont_views = self._cont_warp(fake, noise_std, generator) if info and self.cont_invariance else None
        return Views(None, noisy, warped, cont_views=cont_views)

    def d_loss(self, views: Views, y: torch.Tensor | None, latent: Latent) -> tuple[torch.Tensor, dict]:
        """D's loss (GAN + information term [- real-data MI] [+ real-image warp consistency]) and its stats; D
        forward on real, fake, warped fakes [and warped real images]."""
        D = self.D
        d_real, h_real = D(views.real, y)
        d_fake, h_fake = D(views.fake, latent.y)
        loss_gan_d = losses.d_loss(d_real, d_fake, self.real_label)
        q_fake = D.q(h_fake)
        info_d, stats = self.info_loss(q_fake, latent, self._cat_logits(views.warped, q_fake),
                                       self._cont_read(views.cont_views, q_fake))
        loss_d = loss_gan_d + info_d
        q_real = D.q(h_real) if self.lambda_real_mi > 0 or self.lambda_real_consistency > 0 else None
        real_logits = None if q_real is None else q_real.cat_logits
        if self.lambda_real_mi > 0:
            read = self._cat_logits(views.real_views, q_real) or real_logits
            real_mi = sum(losses.real_data_mi(lg) for lg in read)
            if self.real_mi_on:
                loss_d = loss_d - self.lambda_real_mi * real_mi
            stats["mi/real"] = real_mi.detach()
        if self.lambda_real_consistency > 0:
            warped = D.q(D.trunk(views.real_warped)).cat_logits
            consistency = sum(losses.warp_consistency(clean, w) for clean, w in zip(real_logits, warped))
            loss_d = loss_d + self.lambda_real_consistency * consistency
            stats["loss/real_consistency"] = consistency.detach()
        stats.update({"loss/d": loss_gan_d.detach(), "loss/info": info_d.detach(),
                      "d/real": torch.sigmoid(d_real.detach()).mean(), "d/fake": torch.sigmoid(d_fake.detach()).mean()})
        return loss_d, stats

    def g_loss(self, views: Views, latent: Latent, interaction: torch.Tensor | None) -> tuple[torch.Tensor, dict]:
        """G's loss: non-saturating GAN loss [+ information term] [+ lambda_interaction * ``interaction``]."""
        D = self.D
        d_fake_g, h_fake_g = D(views.fake, latent.y)
        loss_gan_g = losses.g_loss_nonsaturating(d_fake_g)
        loss_g, stats = loss_gan_g, {"loss/g": loss_gan_g.detach()}
        if self.info_to_generator and self.spec.has_codes:
            q_fake = D.q(h_fake_g)
            info_g, _ = self.info_loss(q_fake, latent, self._cat_logits(views.warped, q_fake),
                                       self._cont_read(views.cont_views, q_fake))
            loss_g = loss_g + info_g
        if interaction is not None:
            loss_g = loss_g + self.lambda_interaction * interaction
            stats["loss/interaction"] = interaction.detach()
        return loss_g, stats

    def train_step(self, batch: Batch, optims: dict, *, generator: torch.Generator,
                   noise_std: float = 0.0) -> dict[str, torch.Tensor]:
        G, D, spec = self.G, self.D, self.spec
        x_real, y = batch
        n = x_real.shape[0]
        latent = sample_latent(spec, n, generator, y=y if spec.cond else None)
        fake = G(latent.to_input(spec))

        # 1. D and Q
        D.requires_grad_(True)
        optims["D"].zero_grad(set_to_none=True)
        loss_d, d_stats = self.d_loss(self.d_inputs(x_real, fake.detach(), noise_std, generator), y, latent)
        loss_d.backward()
        optims["D"].step()

        # 2. G (D frozen: no weight gradients computed for it)
        D.requires_grad_(False)
        optims["G"].zero_grad(set_to_none=True)
        views = self.g_inputs(fake, noise_std, generator)
        interaction = self.code_interaction(max(n // 4, 1), generator, y) if self.lambda_interaction > 0 else None
        loss_g, g_stats = self.g_loss(views, latent, interaction)
        loss_g.backward()
        optims["G"].step()
        D.requires_grad_(True)
        return step_stats(d_stats, g_stats)

    # ---- evaluation helpers
    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> QOut:
        """Q's code parameters for images x (n, 1, 28, 28) in [0, 1]; call in eval mode."""
        return self.D.q(self.D.trunk(x))

"""C-InfoGAN (the conditional report, after Mirza & Osindero 2014 and Chen et al. 2016).

G(z, y, c) and D(x, y) both receive a label y (one-hot into G; a projection term <embed(y), h> in D's head),
and Q(c | x) is asked to read the remaining codes c from G's output. With MNIST digits as y, the continuous
codes are expected to catch style (slant, width); with a BasicProp factor as y (e.g. the left bar's height of
rectangles) a categorical code is expected to catch what y does not fix (the right bar's height).

The update is InfoGAN's; during training the fakes take the labels of the real batch, so the label marginal
of fakes and reals match.
"""
from __future__ import annotations

from .infogan import InfoGAN
from .latent import CodeSpec


class CInfoGAN(InfoGAN):
    conditional = True

    def __init__(self, spec: CodeSpec, **kwargs):
        if spec.cond < 2:
            raise ValueError("C-InfoGAN needs a condition with at least 2 classes (spec.cond)")
        super().__init__(spec, **kwargs)


MODEL_CLASSES = {"infogan": InfoGAN, "cinfogan": CInfoGAN}

"""Random small affine warps of images, differentiable in the image (G's gradient flows through them).

``cat_augment`` uses them to make the categorical codes survive what does not change a digit's identity:

    x_aug = random_affine(fake, strength=0.67, generator=gen)   # Q reads c_cat from x_aug

At strength a each image gets its own rotation in ±30a degrees, scale per axis in 1 ± 0.25a and shift in
±3a pixels (at a = 1 MNIST digits stay readable: checked by eye on warped training images). The rotation and
the horizontal scale blur exactly the cues that InfoGAN's categories otherwise split a digit on (slant, width)
-- the idea of Elastic-InfoGAN (Ojha et al., NeurIPS 2020), there applied to real images through a contrastive
term.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

MAX_ROTATION_DEG = 30.0
MAX_SCALE = 0.25
MAX_SHIFT_PX = 3.0


def random_affine(x: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """x (n, c, h, w) -> the same images, each warped by its own random affine map; zeros fill the border."""
    if strength <= 0:
        return x
    n, _, h, w = x.shape
    u = 2 * torch.rand(n, 5, generator=generator, device=x.device, dtype=x.dtype) - 1
    angle = u[:, 0] * (strength * math.radians(MAX_ROTATION_DEG))
    scale_x = 1 + u[:, 1] * (strength * MAX_SCALE)
    scale_y = 1 + u[:, 2] * (strength * MAX_SCALE)
    shift_x = u[:, 3] * (strength * MAX_SHIFT_PX * 2 / w)   # affine_grid's coordinates span [-1, 1]
    shift_y = u[:, 4] * (strength * MAX_SHIFT_PX * 2 / h)
    cos, sin = torch.cos(angle), torch.sin(angle)
    # theta maps output coordinates to input ones: input = M (output - shift), M = rotation @ inverse scale,
    # so the image is scaled and rotated about its centre, then moved by exactly the shift
    m = torch.stack([torch.stack([cos / scale_x, -sin / scale_y], 1),
                     torch.stack([sin / scale_x, cos / scale_y], 1)], 1)
    shift = torch.stack([shift_x, shift_y], 1).unsqueeze(2)
    theta = torch.cat([m, -(m @ shift)], 2)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

"""Random small affine warps of images, differentiable in the image (G's gradient flows through them).

``cat_augment`` uses them to make the categorical codes survive what does not change a digit's identity:

    x_aug = random_affine(fake, strength=0.67, generator=gen)   # Q reads c_cat from x_aug

At strength a each image gets its own rotation in ±30a degrees, scale per axis in 1 ± 0.25a and shift in
±3a pixels (at a = 1 MNIST digits stay readable: checked by eye on warped training images). The rotation and
the horizontal scale blur exactly the cues that InfoGAN's categories otherwise split a digit on (slant, width)
-- the idea of Elastic-InfoGAN (Ojha et al., NeurIPS 2020), there applied to real images through a contrastive
term.

``code_invariance`` gives each categorical code its own nuisance instead (``invariance_view``, at the end), and
``cont_invariance`` each continuous code.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

MAX_ROTATION_DEG = 30.0
MAX_SCALE = 0.25
MAX_SHIFT_PX = 3.0


def _resample(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """x (n, c, h, w) resampled bilinearly through the affine maps theta (n, 2, 3) from output to input
    coordinates (affine_grid's, align_corners=False); zeros fill the border."""
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


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
    return _resample(x, theta)


# ---- code invariances: each categorical code read through a transform that keeps its factor and scrambles others
#
#     view = invariance_view(fake, "shift_y", generator)   # the x code of ``translation``: y is lost, x is kept
#
# A code read from such views can only be kept readable through what the transform leaves alone, so G has to put
# the code into the factor that survives it (``code_invariance``; a prior on which factor a code should take).
SCALE_RANGE = 2.0          # "scale*": factor log-uniform in [1/2, 2] about the centre
BRIGHTNESS_RANGE = 2.5     # "brightness": factor log-uniform in [1/2.5, 2.5]


def _roll(x: torch.Tensor, dim: int, generator: torch.Generator) -> torch.Tensor:
    """Each image circularly shifted along ``dim`` (2: rows, 3: columns) by its own uniform amount, 0..size-1."""
    n, size = x.shape[0], x.shape[dim]
    s = torch.randint(0, size, (n,), generator=generator, device=x.device)
    idx = (torch.arange(size, device=x.device)[None, :] - s[:, None]) % size        # (n, size)
    shape = [n, 1, 1, 1]
    shape[dim] = size
    return torch.gather(x, dim, idx.view(shape).expand_as(x))


def _uniform(n: int, lo: float, hi: float, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """n numbers uniform in [lo, hi], on x's device and in its dtype."""
    return lo + (hi - lo) * torch.rand(n, generator=generator, device=x.device, dtype=x.dtype)


def _log_uniform(n: int, top: float, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    u = 2 * torch.rand(n, generator=generator, device=x.device, dtype=x.dtype) - 1
    return torch.exp(u * math.log(top))


def _stretch(x: torch.Tensor, generator: torch.Generator, axes: str) -> torch.Tensor:
    """Each image scaled about its centre by its own factor in [1/2, 2]: along x, y, or both ("xy", one factor)."""
    n = x.shape[0]
    s = _log_uniform(n, SCALE_RANGE, x, generator)
    theta = torch.zeros(n, 2, 3, device=x.device, dtype=x.dtype)
    theta[:, 0, 0] = 1 / s if "x" in axes else 1
    theta[:, 1, 1] = 1 / s if "y" in axes else 1
    return _resample(x, theta)


def _brightness(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return x * _log_uniform(x.shape[0], BRIGHTNESS_RANGE, x, generator).view(-1, 1, 1, 1)


SHEAR_RANGE = 0.6          # "shear_x": x moves by k * (y - centre), k uniform in [-0.6, 0.6]
BLUR_SIGMA_PX = (2.0, 4.0)  # "blur": Gaussian std uniform in this range, in pixels
SOFTEN_SIGMA_PX = (1.0, 1.5)  # "soften": the same, light enough to keep the outline of a shape ~12 px across


def _shear(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each image sheared horizontally about its centre by its own k in [-SHEAR_RANGE, SHEAR_RANGE]: a point at
    height y moves right by k * (y - centre). In image moments the slant -mu11 / mu02 moves by -k while the width
    after removing the slant, sqrt(mu20 - mu11^2 / mu02), is unchanged (eval.measure.slant_width)."""
    n = x.shape[0]
    k = SHEAR_RANGE * (2 * torch.rand(n, generator=generator, device=x.device, dtype=x.dtype) - 1)
    theta = torch.zeros(n, 2, 3, device=x.device, dtype=x.dtype)
    theta[:, 0, 0] = theta[:, 1, 1] = 1
    theta[:, 0, 1] = -k                                        # input x = output x - k * output y
    return _resample(x, theta)


def _gaussian_blur(x: torch.Tensor, sigma: torch.Tensor, radius: int) -> torch.Tensor:
    """x (n, c, h, w) blurred by a Gaussian of std sigma[i] px per image (separable, cut at ``radius`` px, zeros
    beyond the border)."""
    n, c, h, w = x.shape
    t = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    k = torch.exp(-0.5 * (t[None, :] / sigma[:, None]) ** 2)
    k = (k / k.sum(1, keepdim=True)).repeat_interleave(c, 0)               # (n * c, 2 radius + 1)
    y = F.conv2d(x.reshape(1, n * c, h, w), k[:, None, :, None], padding=(radius, 0), groups=n * c)
    y = F.conv2d(y, k[:, None, None, :], padding=(0, radius), groups=n * c)
    return y.view(n, c, h, w)


def _blur(x: torch.Tensor, generator: torch.Generator, sigma_px: tuple[float, float] = BLUR_SIGMA_PX) -> torch.Tensor:
    """Each image blurred by a Gaussian of its own std in ``sigma_px`` (cut at twice the largest std): the ink's
    mass, centre and extent stay, corners and strokes thinner than the blur go."""
    sigma = _uniform(x.shape[0], *sigma_px, x, generator)
    return _gaussian_blur(x, sigma, math.ceil(2 * sigma_px[1]))


STROKE_LEVEL = (0.1, 0.6)   # "stroke": the threshold, as a fraction of the image's brightest blurred pixel
STROKE_RAMP = 0.2           # ... and the width of the ramp from 0 to 1 about it, in the same units


def _restroke(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each image redrawn at its own stroke thickness: blurred by a 1-px Gaussian, then thresholded at its own
    level in STROKE_LEVEL of its brightest blurred pixel (a linear ramp STROKE_RAMP wide, clipped to [0, 1]). A low
    level thickens every stroke, a high one thins it, and the ink ends up at full brightness: thickness and
    intensity are scrambled, the ink's outline (its extent, width and slant) stays. The brightest pixel is read from
    the image but not differentiated through."""
    n = x.shape[0]
    b = _gaussian_blur(x, torch.ones(n, device=x.device, dtype=x.dtype), 2)
    level = _uniform(n, *STROKE_LEVEL, x, generator)
    with torch.no_grad():
        top = b.flatten(1).amax(1).clamp(min=1e-6)
    threshold, ramp = (level * top).view(n, 1, 1, 1), (STROKE_RAMP * top).view(n, 1, 1, 1)
    return ((b - threshold) / ramp + 0.5).clamp(0, 1)


def _ink_moments_basis(x: torch.Tensor):
    """What the moment-based views read from x (n, 1, h, w): the ink (n, h, w) (negative values clipped), its mass
    (n,), its centroid cy, cx (n,) in pixel-centre coordinates (row r's centre at r + 0.5), and each pixel centre's
    offset from it, dy (n, h, 1) and dx (n, 1, w)."""
    n, _, h, w = x.shape
    ink = x[:, 0].clamp(min=0)
    mass = ink.sum((1, 2)).clamp(min=1e-6)
    rows = torch.arange(h, device=x.device, dtype=x.dtype) + 0.5
    cols = torch.arange(w, device=x.device, dtype=x.dtype) + 0.5
    cy = (ink.sum(2) * rows).sum(1) / mass
    cx = (ink.sum(1) * cols).sum(1) / mass
    return ink, mass, cy, cx, rows.view(1, h, 1) - cy.view(n, 1, 1), cols.view(1, 1, w) - cx.view(n, 1, 1)


def _central_moments(x: torch.Tensor):
    """The ink's second central moments mu20 (along x), mu02 (along y) and mu11, each (n,), and its centroid's row
    cy (n,): what ``eval.measure.slant_width`` reads slant and width from."""
    ink, mass, cy, _, dy, dx = _ink_moments_basis(x)
    return ((ink * dx * dx).sum((1, 2)) / mass, (ink * dy * dy).sum((1, 2)) / mass,
            (ink * dx * dy).sum((1, 2)) / mass, cy)


NORMAL_SPREAD_PX = 5.0     # "normalize_size": the RMS distance of the ink from its centroid after normalising


def _normalize_size(x: torch.Tensor) -> torch.Tensor:
    """Each image moved so that its ink's centroid is the image's centre and scaled about it so that the ink's RMS
    distance from the centroid is NORMAL_SPREAD_PX: size and position are gone, shape is kept. The map is read
    from the image but not differentiated through (the gradient flows through the resampling only)."""
    n, _, h, w = x.shape
    with torch.no_grad():
        ink, mass, cy, cx, dy, dx = _ink_moments_basis(x)
        spread = ((ink * (dy ** 2 + dx ** 2)).sum((1, 2)) / mass).sqrt().clamp(min=0.5)
        s = NORMAL_SPREAD_PX / spread                                       # > 1 enlarges
        theta = torch.zeros(n, 2, 3, device=x.device, dtype=x.dtype)
        theta[:, 0, 0] = theta[:, 1, 1] = 1 / s
        theta[:, 0, 2] = cx * 2 / w - 1                                     # output centre <- the centroid
        theta[:, 1, 2] = cy * 2 / h - 1
    return _resample(x, theta)


def _deslant(x: torch.Tensor) -> torch.Tensor:
    """Each image sheared horizontally about its ink's centroid so that its slant is gone: x moves by -k (y - y_c)
    with k = mu11 / mu02 of the ink's moments, the slant of ``eval.measure.slant_width``. What is left of the
    width is the width across the slant, which that measure reports. The shear is read from the image but not
    differentiated through (the gradient flows through the resampling only)."""
    n, _, h, w = x.shape
    with torch.no_grad():
        _, mu02, mu11, cy = _central_moments(x)
        k = torch.where(mu02 > 1e-6, mu11 / mu02.clamp(min=1e-6), torch.zeros_like(mu02))
        theta = torch.zeros(n, 2, 3, device=x.device, dtype=x.dtype)
        theta[:, 0, 0] = theta[:, 1, 1] = 1
        theta[:, 0, 1] = k                                  # input x = output x + k (output y - y_c)
        theta[:, 0, 2] = -k * (cy * 2 / h - 1)              # y_c in affine_grid's coordinates
    return _resample(x, theta)


def _bounding_box(x: torch.Tensor) -> torch.Tensor:
    """Each image replaced by its ink's bounding box: every pixel takes the smaller of its row's and its column's
    brightest value. Shapes of one extent become one box (a disc, a triangle and a cross of one size all fill the
    square they span), so what is kept is the extent along each axis and the brightness; the outline inside it is
    lost. Differentiable through the maxima (the gradient reaches each row's and column's brightest pixel)."""
    return torch.minimum(x.amax(3, keepdim=True), x.amax(2, keepdim=True))


BAR_ROWS = (4, 24)         # "width_bar", "slant_bar": the rows the bar fills
SLANT_BAR_STD_PX = 1.5     # "slant_bar": the std of the bar's Gaussian cross-section
SLANT_BAR_MAX = 1.5        # "slant_bar": the slant is clamped to this many px per row (MNIST's lie within 1.1)


def _width_bar(x: torch.Tensor) -> torch.Tensor:
    """Each image replaced by an upright bar at full brightness, rows BAR_ROWS, centred, whose columns follow a
    Gaussian of std the ink's width across its slant, sqrt(mu20 - mu11^2 / mu02) -- the width of
    ``eval.measure.slant_width`` (clamped at 0.5 px). Everything but that one number is gone: outline, slant, height,
    thickness, brightness and position. Differentiable through the moments, so every pixel of ink gets a gradient
    (``box`` passes one only to each row's and column's brightest pixel)."""
    n, _, h, w = x.shape
    mu20, mu02, mu11, _ = _central_moments(x)
    width = (mu20 - mu11 ** 2 / mu02.clamp(min=1e-6)).clamp(min=0.25).sqrt()
    cols = torch.arange(w, device=x.device, dtype=x.dtype) + 0.5 - w / 2
    profile = torch.exp(-cols.view(1, w) ** 2 / (2 * width.view(n, 1) ** 2))
    return (_bar_rows(x).view(1, h, 1) * profile.view(n, 1, w)).unsqueeze(1)


def _bar_rows(x: torch.Tensor) -> torch.Tensor:
    """(h,): 1 on the rows BAR_ROWS, 0 elsewhere."""
    rows = torch.zeros(x.shape[2], device=x.device, dtype=x.dtype)
    rows[BAR_ROWS[0]:BAR_ROWS[1]] = 1
    return rows


def _slant_bar(x: torch.Tensor) -> torch.Tensor:
    """Each image replaced by a bar at full brightness, rows BAR_ROWS, through the image's centre, leaning by the
    ink's slant: its columns follow a Gaussian of std SLANT_BAR_STD_PX about x = k (y - y_centre), k = mu11 / mu02
    of the ink's moments, so ``eval.measure.slant_width`` reads the ink's slant from it (k clamped at
    +-SLANT_BAR_MAX). Everything but that one number is gone: outline, width, height, thickness, brightness and
    position. Differentiable through the moments, so every pixel of ink gets a gradient."""
    n, _, h, w = x.shape
    _, mu02, mu11, _ = _central_moments(x)
    k = (mu11 / mu02.clamp(min=1e-6)).clamp(-SLANT_BAR_MAX, SLANT_BAR_MAX)
    rows = torch.arange(h, device=x.device, dtype=x.dtype) + 0.5 - h / 2
    cols = torch.arange(w, device=x.device, dtype=x.dtype) + 0.5 - w / 2
    offset = cols.view(1, 1, w) - k.view(n, 1, 1) * rows.view(1, h, 1)
    profile = torch.exp(-offset ** 2 / (2 * SLANT_BAR_STD_PX ** 2))
    return (_bar_rows(x).view(1, h, 1) * profile).unsqueeze(1)


def _scale_about_corner(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each image scaled by its own factor in [1/2, 2] (log-uniform, both axes) about its ink's top-left corner:
    the left boundary of the first column and the top boundary of the first row holding a pixel brighter than half
    the image's brightest. Size is scrambled, the left and top edges stay where they are; whatever else marks a
    position (the right or bottom edge, the centre) moves with the size. The corner is read from the image but not
    differentiated through (the gradient flows through the resampling only)."""
    n, _, h, w = x.shape
    s = _log_uniform(n, SCALE_RANGE, x, generator)
    with torch.no_grad():
        img = x[:, 0]
        bright = img > 0.5 * img.flatten(1).amax(1).clamp(min=1e-6).view(n, 1, 1)
        top = bright.any(2).to(torch.uint8).argmax(1).to(x.dtype)
        left = bright.any(1).to(torch.uint8).argmax(1).to(x.dtype)
        ax, ay = 2 * left / w - 1, 2 * top / h - 1              # affine_grid's coordinates (align_corners=False)
    theta = torch.zeros(n, 2, 3, device=x.device, dtype=x.dtype)
    theta[:, 0, 0] = theta[:, 1, 1] = 1 / s                     # input = corner + (output - corner) / s
    theta[:, 0, 2] = ax * (1 - 1 / s)
    theta[:, 1, 2] = ay * (1 - 1 / s)
    return _resample(x, theta)


# name: (what the transform scrambles, the transform). A code marked with a name is invariant to that nuisance.
INVARIANCES = {
    "shift": ("position (both axes, circular shifts)", lambda x, g: _roll(_roll(x, 3, g), 2, g)),
    "shift_x": ("horizontal position (circular shifts)", lambda x, g: _roll(x, 3, g)),
    "shift_y": ("vertical position (circular shifts)", lambda x, g: _roll(x, 2, g)),
    "scale": ("size (one factor in [1/2, 2] for both axes)", lambda x, g: _stretch(x, g, "xy")),
    "scale_x": ("width (horizontal factor in [1/2, 2])", lambda x, g: _stretch(x, g, "x")),
    "scale_y": ("height (vertical factor in [1/2, 2])", lambda x, g: _stretch(x, g, "y")),
    "shear_x": ("slant (horizontal shear, x += k y, k in [-0.6, 0.6]); keeps the deslanted width",
                lambda x, g: _shear(x, g)),
    "brightness": ("intensity (factor in [1/2.5, 2.5])", lambda x, g: _brightness(x, g)),
    "blur": ("fine shape (Gaussian blur, std 2-4 px): corners and thin strokes", lambda x, g: _blur(x, g)),
    # after normalize_size: a small shape enlarged to the common spread comes out blurred by the resampling and a
    # large one shrunk comes out sharp; softening both hides which was which and keeps the outline, but leaves a
    # faint blob faint ("stroke" after normalize_size redraws every shape sharp and at full brightness instead)
    "soften": ("edge sharpness (Gaussian blur, std 1-1.5 px)",
               lambda x, g: _blur(x, g, SOFTEN_SIGMA_PX)),
    "stroke": ("stroke thickness and intensity (1-px blur, thresholded at its own level)",
               lambda x, g: _restroke(x, g)),
    "normalize_size": ("size and position (centred, scaled to one spread; not random)",
                       lambda x, g: _normalize_size(x)),
    "deslant": ("slant (sheared upright about the centroid by the ink's own moments; not random)",
                lambda x, g: _deslant(x)),
    "box": ("the outline within the ink's extent (the ink's bounding box; not random)",
            lambda x, g: _bounding_box(x)),
    "width_bar": ("everything but the width across the slant (a bar with the ink's moment width; not random)",
                  lambda x, g: _width_bar(x)),
    "slant_bar": ("everything but the slant (a bar leaning by the ink's moment slant; not random)",
                  lambda x, g: _slant_bar(x)),
    # position as the left (top) edge, whatever the size: G cannot keep such a code readable by moving the
    # right edge, the centre or any other point of the ink that depends on the size
    "left_edge": ("size and vertical position (scaled about the ink's top-left corner, circular vertical shifts)",
                  lambda x, g: _roll(_scale_about_corner(x, g), 2, g)),
    "top_edge": ("size and horizontal position (scaled about the ink's top-left corner, circular horizontal shifts)",
                 lambda x, g: _roll(_scale_about_corner(x, g), 3, g)),
}
NO_INVARIANCE = "none"


def invariance_view(x: torch.Tensor, name: str, generator: torch.Generator) -> torch.Tensor:
    """x (n, c, h, w) -> each image under its own random draw of the nuisance ``name``: a key of INVARIANCES, or
    keys joined by "+" (``"shift+brightness"``: shifted, then brightened), applied left to right; differentiable
    in x."""
    for part in name.split("+"):
        x = INVARIANCES[part][1](x, generator)
    return x

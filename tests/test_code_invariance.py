"""code_invariance: each categorical code read by Q through its own nuisance transform (gan_models.augment)."""
from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

import cli
from basicprop.images import to_uint8
from basicprop.kinds.shapes import SHAPES, SIZES, shape_mask
from eval.measure import slant_width
from gan_models import losses
from gan_models.augment import (BAR_ROWS, BLUR_SIGMA_PX, INVARIANCES, NO_INVARIANCE, SLANT_BAR_STD_PX,
                                SOFTEN_SIGMA_PX, invariance_view)
from gan_models.checkpoint import build_model
from gan_models.infogan import Batch
from gan_models.config import CODE_INVARIANCES, make_config
from gan_models.latent import CodeSpec, sample_latent

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _boxes(n: int = 64) -> torch.Tensor:
    """n images, each a box of its own size and brightness, centred on the image's centre (14, 14)."""
    g = torch.Generator().manual_seed(1)
    x = torch.zeros(n, 1, 28, 28)
    for i in range(n):
        h, w = (int(v) for v in torch.randint(2, 6, (2,), generator=g))
        x[i, 0, 14 - h:14 + h, 14 - w:14 + w] = 0.3 + 0.7 * float(torch.rand(1, generator=g))
    return x


def _view(name: str, x: torch.Tensor, seed: int = 0) -> torch.Tensor:
    return invariance_view(x, name, torch.Generator().manual_seed(seed))


def _support(x: torch.Tensor, dim: int) -> torch.Tensor:
    """Which rows (dim 3 summed away: dim=3) or columns (dim=2) of each image hold ink: (n, 28) bool."""
    return x[:, 0].abs().sum(dim=dim - 1) > 1e-6


def test_the_names_are_the_configs():
    assert (NO_INVARIANCE, *INVARIANCES) == CODE_INVARIANCES


def test_each_nuisance_keeps_its_factor_and_moves_the_other():
    x = _boxes()
    rows, cols = _support(x, 3), _support(x, 2)
    # shifts: circular, so what the other axis sees is kept exactly; the shifted axis moves, image by image
    sx, sy, s = _view("shift_x", x), _view("shift_y", x), _view("shift", x)
    assert torch.allclose(sx.sum(3), x.sum(3)) and not torch.allclose(sx.sum(2), x.sum(2))  # rows kept, columns move
    assert torch.allclose(sy.sum(2), x.sum(2)) and not torch.allclose(sy.sum(3), x.sum(3))
    assert torch.equal(s.flatten(1).sort(1).values, x.flatten(1).sort(1).values)        # pixels only move
    assert not torch.equal(_support(s, 3), rows) and not torch.equal(_support(s, 2), cols)
    # stretches about the centre: the other axis's extent is kept; widths (heights) change, up and down
    wx, wy = _view("scale_x", x), _view("scale_y", x)
    assert torch.equal(_support(wx, 3), rows) and torch.equal(_support(wy, 2), cols)
    width_change = _support(wx, 2).sum(1) - cols.sum(1)
    assert int((width_change > 0).sum()) > 10 and int((width_change < 0).sum()) > 10
    both = _view("scale", x)
    ratio = _support(both, 2).sum(1).float() / _support(both, 3).sum(1).float()
    assert not torch.equal(_support(both, 2), cols)
    assert torch.allclose(ratio, cols.sum(1).float() / rows.sum(1).float(), rtol=0.5)   # one factor for both axes
    # brightness: every pixel of an image times one factor, which differs between images
    b = _view("brightness", x)
    factor = b.flatten(1).amax(1) / x.flatten(1).amax(1)
    assert torch.allclose(b, x * factor.view(-1, 1, 1, 1), atol=1e-6)
    assert float(factor.min()) < 0.8 and float(factor.max()) > 1.25
    assert float(factor.min()) >= 1 / 2.5 - 1e-6 and float(factor.max()) <= 2.5 + 1e-6


def test_normalize_size_keeps_the_shape_alone():
    """Squares of any size anywhere become one square; a disc and a bar stay what they are."""
    x = torch.zeros(4, 1, 28, 28)
    x[0, 0, 10:18, 10:18] = 1                                    # 8-px square, centred
    x[1, 0, 4:20, 6:22] = 1                                      # 16-px square, off centre
    rr, cc = torch.meshgrid(torch.arange(28) + 0.5, torch.arange(28) + 0.5, indexing="ij")
    x[2, 0] = (((rr - 12) ** 2 + (cc - 15) ** 2) <= 64).float()  # 16-px disc
    x[3, 0, 10:14, 4:24] = 1                                     # horizontal bar
    y = _view("normalize_size", x)
    ink = y[:, 0] > 0.5
    extent = [(ink[i].any(1).nonzero().flatten(), ink[i].any(0).nonzero().flatten()) for i in range(4)]
    (r0, c0), (r1, c1) = extent[0], extent[1]
    assert torch.equal(r0, r1) and torch.equal(c0, c1) and torch.equal(r0, c0)       # one square, centred
    assert 13 <= float(r0.float().mean()) <= 14 and len(r0) > 4                       # ... about the centre
    squares, disc = float((y[0] - y[1]).abs().sum()), float((y[2] - y[1]).abs().sum())
    assert squares < 0.6 * disc                                      # the squares differ by edge blur, not shape
    r3, c3 = extent[3]
    assert len(c3) > 2 * len(r3)                                                      # a bar stays a bar


def test_stroke_after_normalize_size_hides_how_far_a_shape_was_scaled():
    """normalize_size alone leaves a small shape blurred by the enlargement and a faint blob faint, so a code read
    through it can name "small" or "faint" instead of a shape; redrawn by "stroke" afterwards, the smallest shapes
    are nearly as sharp as the largest and the blob comes out at full brightness."""
    x = torch.stack([torch.tensor(shape_mask(s, z), dtype=torch.float) for s in SHAPES for z in SIZES])[:, None]
    smallest, largest = torch.arange(len(x)) % len(SIZES) == 0, torch.arange(len(x)) % len(SIZES) == len(SIZES) - 1

    def grey_share(name: str, which: torch.Tensor) -> float:    # the share of the ink between 0.1 and 0.9
        v = torch.stack([_view(name, x[which], seed) for seed in range(8)])
        return float(((v > 0.1) & (v < 0.9)).sum() / (v > 0.1).sum())

    plain = grey_share("normalize_size", smallest) / grey_share("normalize_size", largest)
    redrawn = grey_share("normalize_size+stroke", smallest) / grey_share("normalize_size+stroke", largest)
    assert plain > 2 and redrawn < 1.6
    rr, cc = torch.meshgrid(torch.arange(28) + 0.5, torch.arange(28) + 0.5, indexing="ij")
    blob = (0.3 * torch.exp(-((rr - 14) ** 2 + (cc - 14) ** 2) / (2 * 1.5 ** 2)))[None, None]
    assert float(_view("normalize_size", blob).max()) < 0.5
    assert float(_view("normalize_size+stroke", blob).max()) == pytest.approx(1.0)


def test_box_keeps_the_extent_alone():
    """Every shape of the shapes kind becomes the square it spans, at its brightness: one image per size, whatever
    the shape; boxes of other sizes stay apart, and a bar keeps its own extent on each axis."""
    masks = [[torch.tensor(shape_mask(shape, size), dtype=torch.float) for size in SIZES] for shape in SHAPES]
    x = 0.8 * torch.stack([m for per_shape in masks for m in per_shape])[:, None]
    y = _view("box", x)
    squares = 0.8 * torch.stack(masks[SHAPES.index("square")])[:, None]
    assert torch.equal(y, squares.repeat(len(SHAPES), 1, 1, 1))
    assert len({tuple(v.flatten().tolist()) for v in y}) == len(SIZES)
    bar = torch.zeros(1, 1, 28, 28)
    bar[0, 0, 10:13, 4:20] = 0.5
    bar[0, 0, 11, 20] = 0.25                                     # a fainter pixel widens the box at its brightness
    box = _view("box", bar)
    assert torch.equal(box[0, 0, 10:13, 4:20], bar[0, 0, 10:13, 4:20])
    assert torch.equal(box[0, 0, 10:13, 20], torch.full((3,), 0.25)) and float(box.sum()) == float(bar.sum()) + 0.5


def _parallelograms(n: int = 24) -> torch.Tensor:
    """n bars 14 rows tall, each of its own width (2-6 px), slant (-0.6..0.6 px per row) and horizontal place."""
    g = torch.Generator().manual_seed(3)
    x = torch.zeros(n, 1, 28, 28)
    for i in range(n):
        width, left = int(torch.randint(2, 7, (1,), generator=g)), int(torch.randint(10, 14, (1,), generator=g))
        k = 1.2 * float(torch.rand(1, generator=g)) - 0.6
        for row in range(7, 21):
            start = left + round(k * (row - 14))
            x[i, 0, row, start:start + width] = 1
    return x


def test_deslant_removes_the_slant_and_keeps_the_width_across_it():
    """After the view every bar stands upright (the moments' slant ~0), its width across the slant is what
    eval.measure.slant_width read before, and upright bars are left as they are."""
    x = _parallelograms()
    before, after = slant_width(to_uint8(x)), slant_width(to_uint8(_view("deslant", x)))
    assert abs(before[:, 0]).max() > 0.3 and abs(after[:, 0]).max() < 0.03
    assert abs(after[:, 1] - before[:, 1]).max() < 0.2          # px; the resampling softens the edges a little
    upright = torch.zeros(1, 1, 28, 28)
    upright[0, 0, 6:22, 12:16] = 1
    assert torch.allclose(_view("deslant", upright), upright, atol=1e-5)


def test_width_bar_keeps_the_width_across_the_slant_alone():
    """Each image becomes an upright bar whose column profile has the std eval.measure.slant_width reads as the
    ink's width; brightness and position leave it as it is, and the gradient reaches every pixel of ink."""
    x = _parallelograms()
    y = _view("width_bar", x)
    profile = y[:, 0, 14]
    cols = torch.arange(28) + 0.5 - 14
    std = ((profile * cols ** 2).sum(1) / profile.sum(1)).sqrt()
    measured = torch.tensor(slant_width(to_uint8(x))[:, 1], dtype=torch.float)
    assert measured.max() - measured.min() > 1.0                     # the bars' widths differ
    assert torch.allclose(std, measured, atol=0.02)
    assert torch.equal(y[:, 0, :BAR_ROWS[0]], torch.zeros(len(x), BAR_ROWS[0], 28))
    assert torch.equal(y[:, 0, BAR_ROWS[0]:BAR_ROWS[1]], profile[:, None].expand(-1, 20, -1))
    moved = 0.4 * torch.roll(x, (2, -3), (2, 3))
    assert torch.allclose(_view("width_bar", moved), y, atol=1e-5)
    ink = x[:1].clone().requires_grad_(True)
    _view("width_bar", ink)[0, 0, 14, 16].backward()
    assert bool((ink.grad[0, 0][x[0, 0] > 0] != 0).all())


def test_slant_bar_keeps_the_slant_alone():
    """Each image becomes one bar through the centre, of one cross-section, leaning by the slant
    eval.measure.slant_width reads from the ink; width, brightness and position leave it as it is, and the gradient
    reaches every pixel of ink."""
    x = _parallelograms()
    y = _view("slant_bar", x)
    measured = slant_width(to_uint8(x))
    assert measured[:, 0].max() - measured[:, 0].min() > 0.8            # the bars lean differently
    assert abs(slant_width(to_uint8(y))[:, 0] - measured[:, 0]).max() < 0.02
    centre_row = y[:, 0, 13:15].mean(1)                                  # rows 13-14 straddle the centre
    cols = torch.arange(28) + 0.5 - 14
    mean = (centre_row * cols).sum(1) / centre_row.sum(1)
    std = ((centre_row * (cols - mean.view(-1, 1)) ** 2).sum(1) / centre_row.sum(1)).sqrt()
    assert mean.abs().max() < 0.05 and (std - SLANT_BAR_STD_PX).abs().max() < 0.1
    assert torch.equal(y[:, 0, :BAR_ROWS[0]], torch.zeros(len(x), BAR_ROWS[0], 28))
    moved = 0.4 * torch.roll(x, (2, -3), (2, 3))
    assert torch.allclose(_view("slant_bar", moved), y, atol=1e-5)
    wider = torch.maximum(x, torch.roll(x, 1, 3))                       # each bar one pixel wider, same slant
    assert torch.allclose(_view("slant_bar", wider), y, atol=0.05)
    ink = x[:1].clone().requires_grad_(True)
    _view("slant_bar", ink)[0, 0, 20, 16].backward()
    assert bool((ink.grad[0, 0][x[0, 0] > 0] != 0).all())


@pytest.mark.parametrize("name, sigma_px", [("blur", BLUR_SIGMA_PX), ("soften", SOFTEN_SIGMA_PX)])
def test_blur_keeps_mass_centre_and_extent_and_spreads_each_image_by_its_own_std(name, sigma_px):
    """A point becomes a Gaussian of std in the nuisance's range (its variance along each axis, one std per image,
    both axes alike); ink is neither made nor lost away from the border, and a box keeps its centre."""
    n = 32
    x = torch.zeros(n, 1, 28, 28)
    x[:, 0, 14, 13] = 1.0
    y = _view(name, x)
    assert torch.allclose(y.sum((1, 2, 3)), torch.ones(n), atol=1e-4) and float(y.min()) > -1e-7
    grid = torch.arange(28.0)
    row_mass, col_mass = y[:, 0].sum(2), y[:, 0].sum(1)
    cy, cx = (row_mass * grid).sum(1), (col_mass * grid).sum(1)
    assert torch.allclose(cy, torch.full((n,), 14.0), atol=1e-3) and torch.allclose(cx, torch.full((n,), 13.0),
                                                                                    atol=1e-3)
    var_y = (row_mass * (grid - 14) ** 2).sum(1)
    var_x = (col_mass * (grid - 13) ** 2).sum(1)
    lo, hi = sigma_px
    assert torch.allclose(var_x, var_y, rtol=1e-4)
    # the kernel is cut at 2 std of the widest blur, which trims the variance of the widest a little
    assert float(var_x.min()) >= 0.9 * lo ** 2 and float(var_x.max()) <= hi ** 2
    assert float(var_x.max() - var_x.min()) > 0.5 * (hi ** 2 - lo ** 2)              # each image its own std
    boxes = _boxes()
    b = _view(name, boxes)
    assert torch.allclose(b.sum((1, 2, 3)), boxes.sum((1, 2, 3)), rtol=1e-4)
    assert float(b.amax((1, 2, 3)).max()) < float(boxes.amax((1, 2, 3)).max())         # edges and peaks soften


def test_stroke_redraws_each_image_at_its_own_thickness_and_keeps_the_outline_and_nothing_of_the_brightness():
    """A vertical bar 3 px wide comes out at full brightness, as thick as its own threshold makes it (several
    thicknesses across images, thinner at a higher level), about the same centre and over the same rows (a pixel
    more at each end when thickened); the background stays black; the same image at half the brightness gives the
    same view."""
    from gan_models.augment import STROKE_LEVEL
    n = 64
    x = torch.zeros(n, 1, 28, 28)
    x[:, 0, 6:22, 12:15] = 0.8
    y = _view("stroke", x)
    assert float(y.min()) >= 0 and float(y.max()) == 1.0
    assert float(y[:, 0, :, :8].abs().max()) == 0 and float(y[:, 0, :2].abs().max()) == 0     # far from the ink
    thickness = y[:, 0, 14].sum(1)                                                  # the ink across one row
    assert float(thickness.min()) >= 2 and float(thickness.max()) <= 6 and float(thickness.std()) > 0.4
    lo, hi = STROKE_LEVEL
    level = lo + (hi - lo) * torch.rand(n, generator=torch.Generator().manual_seed(0))   # _view's draws
    assert float(torch.corrcoef(torch.stack([thickness, level]))[0, 1]) < -0.9   # a high level thins
    cols = torch.arange(28.0)
    centre = (y[:, 0, 14] * cols).sum(1) / y[:, 0, 14].sum(1)
    assert torch.allclose(centre, torch.full((n,), 13.0), atol=1e-4)                       # symmetric about it
    rows = (y[:, 0, :, 13] > 0.5).sum(1)
    assert int(rows.min()) >= 16 and int(rows.max()) <= 18            # 16 rows, a thickened bar one more at each end
    assert torch.allclose(_view("stroke", 0.5 * x), y, atol=1e-6)


def _squares(sides, lefts, tops) -> torch.Tensor:
    x = torch.zeros(len(sides), 1, 28, 28)
    for i, (side, left, top) in enumerate(zip(sides, lefts, tops)):
        x[i, 0, top:top + side, left:left + side] = 0.9
    return x


@pytest.mark.parametrize("name, kept, moved", [("left_edge", 0, 1), ("top_edge", 1, 0)])
def test_edge_views_keep_one_edge_and_nothing_that_moves_with_the_size(name, kept, moved):
    """The translation squares' left (top) edge survives exactly; their size, their right (bottom) edge and their
    other coordinate do not: two squares that share the left edge but differ in size are told apart by neither."""
    n = 200
    g = torch.Generator().manual_seed(2)
    sides, lefts, tops = (torch.randint(lo, hi, (n,), generator=g).tolist() for lo, hi in ((4, 9), (3, 18), (3, 18)))
    x = _squares(sides, lefts, tops)
    y = _view(name, x)
    ink = y[:, 0] > 0.45
    support = [ink.any(1), ink.any(2)]                          # columns, rows holding ink
    first = [s.to(torch.uint8).argmax(1) for s in support]
    last = [27 - s.flip(1).to(torch.uint8).argmax(1) for s in support]
    assert torch.equal(first[kept], torch.tensor([lefts, tops][kept]))               # the edge stays put
    assert not torch.equal(first[moved], torch.tensor([lefts, tops][moved]))         # the other axis moves
    extent = (last[kept] - first[kept] + 1).float()
    side = torch.tensor(sides, dtype=torch.float)
    assert float(extent.min()) <= 3 and float(extent.max()) >= 12                    # 4-8 px become 2-16 px
    assert abs(float(torch.corrcoef(torch.stack([extent, side]))[0, 1])) < 0.6       # the size is mostly gone


def test_joined_nuisances_apply_left_to_right_from_one_stream():
    x = _boxes(16)
    g = torch.Generator().manual_seed(4)
    by_hand = invariance_view(invariance_view(x, "shift", g), "brightness", g)
    assert torch.equal(_view("shift+brightness", x, 4), by_hand)
    assert not torch.equal(_view("brightness+shift", x, 4), by_hand)       # the draws come in the other order
    model = _model(code_invariance=("shift+brightness", "none"))               # a config takes them too
    assert model.code_invariance == ("shift+brightness", "none")


@pytest.mark.parametrize("name", sorted(INVARIANCES))
def test_views_are_seeded_and_differentiable(name):
    x = _boxes(8).requires_grad_(True)
    a, b, c = _view(name, x, 0), _view(name, x, 0), _view(name, x, 1)
    not_drawn = name in ("normalize_size", "deslant", "box", "width_bar", "slant_bar")
    assert torch.equal(a, b) and not_drawn == torch.equal(a, c)
    a.sum().backward()
    assert float(x.grad.abs().sum()) > 0


def _model(**kw):
    cfg = make_config("infogan", dataset="basicprop-rectangles", **{"cat": (10, 10), "cont": 0, **kw})
    torch.manual_seed(0)
    return build_model(cfg.to_dict(), CodeSpec(cfg.noise_dim, cfg.cat, cfg.cont, 0))


def test_q_reads_each_code_through_its_own_view():
    """Code 0 ("shift_y") is read from vertically shifted fakes, code 1 ("none") from the fakes as drawn; the
    information term's gradient reaches G through the shifts."""
    model = _model(code_invariance=("shift_y", "none"))
    gen = torch.Generator().manual_seed(0)
    lat = sample_latent(model.spec, 16, gen)
    fake = model.generate(lat)
    warped = model._warp(fake, 0.0, torch.Generator().manual_seed(5))
    assert len(warped) == 1 and torch.equal(warped[0], _view("shift_y", fake, 5))
    q = model.D.q(model.D(fake)[1])
    logits = model._cat_logits(warped, q)
    assert torch.equal(logits[1], q.cat_logits[1])
    assert torch.allclose(logits[0], model.D.q(model.D.trunk(warped[0])).cat_logits[0])
    assert not torch.allclose(logits[0], q.cat_logits[0])
    loss = losses.categorical_nll(logits[0], lat.cat[:, 0])
    loss.backward()
    assert float(model.G.fc[0].weight.grad.abs().sum()) > 0
    # no nuisance anywhere: the fakes as drawn, as without the option
    assert _model(code_invariance=("none", "none"))._warp(fake, 0.0, gen) is None


def test_one_step_trains_and_the_views_are_drawn_in_the_step():
    """A step with code_invariance differs from one without (the views enter the losses)."""
    x = torch.rand(16, 1, 28, 28, generator=torch.Generator().manual_seed(3))
    out = []
    for inv in (("shift_y", "shift_x"), ("none", "none")):
        model = _model(code_invariance=inv)
        optims = model.make_optimizers(2e-4, 1e-3, (0.5, 0.999))
        stats = model.train_step(Batch(x), optims, generator=torch.Generator().manual_seed(0), noise_std=0.1)
        assert all(torch.isfinite(v) for v in stats.values())
        out.append(model.G.fc[0].weight.detach().clone())
    assert not torch.equal(*out)


def test_real_mi_reads_each_code_through_its_own_view_of_the_real_images():
    """With lambda_real_mi, code 0 ("shift_y") of the real-image MI term is read from vertically shifted real
    images and code 1 ("none") from the real images as given; those views are drawn after every other view, so
    the rest of D's step draws as without the term."""
    model = _model(code_invariance=("shift_y", "none"), lambda_real_mi=1.0)
    plain = _model(code_invariance=("shift_y", "none"))
    x, fake = torch.rand(2, 16, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    on, off = (m.d_inputs(x, fake, 0.1, torch.Generator().manual_seed(0)) for m in (model, plain))
    assert torch.equal(on.real, off.real) and torch.equal(on.fake, off.fake)
    assert torch.equal(on.warped[0], off.warped[0])
    assert off.real_views is None and len(on.real_views) == 1
    assert not torch.allclose(on.real_views[0], on.real, atol=0.2)
    lat = sample_latent(model.spec, 16, torch.Generator().manual_seed(2))
    _, stats = model.d_loss(on, None, lat)
    D = model.D
    through_views = (losses.real_data_mi(D.q(D.trunk(on.real_views[0])).cat_logits[0])
                     + losses.real_data_mi(D.q(D.trunk(on.real)).cat_logits[1]))
    as_given = sum(losses.real_data_mi(lg) for lg in D.q(D.trunk(on.real)).cat_logits)
    assert torch.allclose(stats["mi/real"], through_views)
    assert not torch.allclose(stats["mi/real"], as_given)
    # without code_invariance the term reads the real images as given
    assert _model(lambda_real_mi=1.0).d_inputs(x, fake, 0.1, torch.Generator().manual_seed(0)).real_views is None


@pytest.mark.parametrize("kw, message", [
    (dict(code_invariance=("shift_y",)), "one nuisance per categorical code"),
    (dict(code_invariance=("shift_y", "twist")), "unknown code_invariance"),
    (dict(code_invariance=("shift_y", "shift+twist")), "unknown code_invariance"),
    (dict(code_invariance=("shift_y", "shift+")), "unknown code_invariance"),
    (dict(code_invariance=("shift_y", "none+shift")), "unknown code_invariance"),
    (dict(code_invariance=("shift_y", "none"), cat_augment=0.5), "use one of them"),
])
def test_bad_settings_are_refused(kw, message):
    with pytest.raises(ValueError, match=message):
        _model(**kw)


def test_cli_option_and_set_give_the_same_config_and_bad_input_is_one_line(tmp_path):
    from gan_models.cli import parse_value
    assert parse_value("code_invariance", "shift_y,none") == ("shift_y", "none")
    assert parse_value("cat", "10,4") == (10, 4)
    result = CliRunner().invoke(cli.cli, ["train", "--dataset", "basicprop-rectangles", "--cat", "10", "--cat", "10",
                                          "--code-invariance", "shift_y", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "one nuisance per categorical code" in lines[0]
    assert not (tmp_path / "r").exists()
    result = CliRunner().invoke(cli.cli, ["train", "--dataset", "basicprop-rectangles", "--cat", "10", "--cat", "10",
                                          "--code-invariance", "shift_y", "--code-invariance", "shift+twist",
                                          "--out", str(tmp_path / "r")])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1 and "unknown code_invariance ['shift+twist']" in lines[0]
    assert not (tmp_path / "r").exists()


# ---- continuous codes: cont_invariance

def test_shear_keeps_the_deslanted_width_and_moves_the_slant_image_by_image():
    """eval.measure's slant (-mu11 / mu02) moves by the shear, its width (sqrt(mu20 - mu11^2 / mu02)) stays."""
    from gan_models.augment import SHEAR_RANGE
    from eval.measure import slant_width
    x = _boxes()
    before = slant_width(x[:, 0].numpy() * 255)
    after = slant_width(_view("shear_x", x)[:, 0].detach().numpy() * 255)
    assert abs(before[:, 0]).max() < 1e-6                                       # upright boxes
    # the width stays, up to the blur of bilinear resampling (at most 1/4 px^2 of variance across a pixel)
    assert float(abs(after[:, 1] ** 2 - before[:, 1] ** 2).max()) < 0.25
    moved = after[:, 0] - before[:, 0]
    assert moved.min() < -SHEAR_RANGE / 2 and moved.max() > SHEAR_RANGE / 2      # each image its own shear
    assert abs(moved).max() <= SHEAR_RANGE + 0.05


def _cmodel(**kw):
    cfg = make_config("cinfogan", dataset="mnist", **kw)
    torch.manual_seed(0)
    return build_model(cfg.to_dict(), CodeSpec(cfg.noise_dim, cfg.cat, cfg.cont, 10))


def test_q_reads_each_continuous_code_through_its_own_view():
    """Code 1 ("shear_x") is read from sheared fakes, code 0 ("none") from the fakes as drawn; the continuous
    term's gradient reaches G through the shear; the information term uses those readings."""
    model = _cmodel(cont_invariance=("none", "shear_x"))
    gen = torch.Generator().manual_seed(0)
    lat = sample_latent(model.spec, 16, gen, y=torch.arange(16) % 10)
    fake = model.generate(lat)
    views = model._cont_warp(fake, 0.0, torch.Generator().manual_seed(5))
    assert len(views) == 1 and torch.equal(views[0], _view("shear_x", fake, 5))
    q = model.D.q(model.D(fake, lat.y)[1])
    read = model._cont_read(views, q)
    assert torch.equal(read.cont_mean[:, 0], q.cont_mean[:, 0])
    assert torch.allclose(read.cont_mean[:, 1], model.D.q(model.D.trunk(views[0])).cont_mean[:, 1])
    assert not torch.allclose(read.cont_mean[:, 1], q.cont_mean[:, 1])
    total, _ = model.info_loss(q, lat, None, read)
    assert torch.allclose(total, model.lambda_cont * losses.gaussian_nll(lat.cont, read.cont_mean, None))
    total.backward()
    assert float(model.G.fc[0].weight.grad.abs().sum()) > 0
    assert _cmodel(cont_invariance=("none", "none"))._cont_warp(fake, 0.0, gen) is None
    assert _cmodel()._cont_read(None, q) is None


def test_continuous_views_are_drawn_after_every_other_view():
    """Switching cont_invariance on leaves the other views of both updates as drawn without it."""
    model = _model(code_invariance=("shift_y", "none"), cont=2, cont_invariance=("scale_x", "shear_x"))
    plain = _model(code_invariance=("shift_y", "none"), cont=2)
    x, fake = torch.rand(2, 8, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    on, off = (m.d_inputs(x, fake, 0.1, torch.Generator().manual_seed(0)) for m in (model, plain))
    assert torch.equal(on.real, off.real) and torch.equal(on.fake, off.fake)
    assert torch.equal(on.warped[0], off.warped[0])
    assert off.cont_views is None and len(on.cont_views) == 2
    on, off = (m.g_inputs(fake, 0.1, torch.Generator().manual_seed(0)) for m in (model, plain))
    assert torch.equal(on.fake, off.fake) and torch.equal(on.warped[0], off.warped[0]) and len(on.cont_views) == 2
    stats = model.train_step(Batch(x), model.make_optimizers(2e-4, 1e-3, (0.5, 0.999)),
                             generator=torch.Generator().manual_seed(0), noise_std=0.1)
    assert all(torch.isfinite(v) for v in stats.values())


@pytest.mark.parametrize("kw, message", [
    (dict(cont_invariance=("shear_x",)), "one nuisance per continuous code: 2 code"),
    (dict(cont_invariance=("shear_x", "twist")), "unknown cont_invariance"),
])
def test_bad_continuous_settings_are_refused(kw, message):
    with pytest.raises(ValueError, match=message):
        _cmodel(**kw)


def test_cont_invariance_option_and_bad_input(tmp_path):
    from gan_models.cli import parse_value
    assert parse_value("cont_invariance", "scale_x,shear_x") == ("scale_x", "shear_x")
    assert make_config("cinfogan", cont_invariance=["scale_x", "none"]).to_dict()["cont_invariance"] == ["scale_x",
                                                                                                         "none"]
    result = CliRunner().invoke(cli.cli, ["train", "--preset", "cinfogan", "--dataset", "basicprop-line",
                                          "--cont-invariance", "shear_x", "--out", str(tmp_path / "r")])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error:"), result.output
    assert "one nuisance per continuous code" in lines[0] and not (tmp_path / "r").exists()

"""Click commands ``train``, ``sample``, ``plot`` and ``export``; mounted into the top-level ``cli.py`` group.

Defaults come from ``TrainConfig`` and the chosen ``--preset``: an option given on the command line overrides
them, an option left out keeps them. ``--set KEY=VALUE`` reaches every other config field.

gan_models does not import eval: the top-level command line passes the scorer of Q's categories as
``ctx.obj["score_codes"]`` (see ``train``'s ``score_codes``). ``train`` sets torch's thread count (``--threads``)
and handles SIGINT / SIGTERM: the first one after training has started stops at the next step boundary, saves
there, prints one line and exits 130 / 143; one during start-up, or a second one, stops at once.
"""
from __future__ import annotations

import json
from pathlib import Path

import click

from basicprop.clitools import StopOnSignal

from .config import (CODE_INVARIANCES, LR_SCALES, MODELS, PRECISIONS, PRESETS, TrainConfig, field_types, make_config,
                     optional_fields, tuple_item_type)

_D = TrainConfig()


def parse_value(key: str, text: str):
    types = field_types()
    if key not in types:
        raise ValueError(f"unknown config key {key!r} in --set; choose from {sorted(types)}")
    t = types[key]
    if text.lower() in ("none", "null") and key in optional_fields():
        return None
    if t is bool:
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"--set {key}={text}: expected true or false")
    if t is dict:
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            example = '{"bg_noise": [0, 60]}'
            raise ValueError(f"--set {key}=...: expected a JSON object, e.g. {key}='{example}'") from None
        if value is not None and not isinstance(value, dict):
            raise ValueError(f"--set {key}: expected a JSON object")
        return value
    try:
        if t is not tuple:
            return t(text)
        items = text.replace(",", " ").split()
        return tuple(map(tuple_item_type(key), items))
    except ValueError:
        raise ValueError(f"--set {key}={text}: expected {t.__name__}") from None


def _opt(*decls, key: str, help: str, **kw):
    """An option whose default is None ('not given') and whose type is the field's; the help shows the TrainConfig
    default."""
    kw.setdefault("type", field_types()[key])
    return click.option(*decls, key, default=None, help=f"{help} [default: {getattr(_D, key)}]", **kw)


class Progress:
    """``train``'s log callback: a progress bar over the log records (with ``show``), Q's accuracy at each eval."""

    def __init__(self, show: bool, desc: str):
        self.show, self.desc, self.bar = show, desc, None

    def __call__(self, record: dict) -> None:
        from tqdm.auto import tqdm
        if record.get("event") == "start" and self.show:
            self.bar = tqdm(total=record["total"], initial=record["step"], dynamic_ncols=True, desc=self.desc)
        elif "loss/d" in record and self.bar is not None:
            self.bar.update(record["step"] - self.bar.n)
            self.bar.set_postfix({"D": f"{record['loss/d']:.3f}", "G": f"{record['loss/g']:.3f}",
                                  "info": f"{record['loss/info']:.3f}"}, refresh=False)
        elif record.get("event") == "eval":
            accs = {k: v for k, v in record.items() if k.startswith("acc/") and k.count("/") == 1}
            if accs:
                tqdm.write(f"step {record['step']}: " + ", ".join(f"{k}={v:.3f}" for k, v in accs.items()))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@click.command("train", context_settings={"allow_extra_args": True})     # --seeds 0 1 2 3
@click.option("--preset", type=click.Choice(sorted(PRESETS)), default=None,
              help="Start from a named setting (the study's table and tuned BasicProp settings).")
@_opt("--dataset", key="dataset", help="Dataset name (basicprop-line, basicprop-rectangles, mnist, ...) or file.")
@_opt("--data-dir", key="data_dir", help="MNIST directory (else $BASICPROP_MNIST_DIR).")
@_opt("--data-seed", key="data_seed", help="Seed of a generated BasicProp dataset.")
@_opt("--model", key="model", type=click.Choice(MODELS), help="Model.")
@_opt("--condition", key="condition", help="C-InfoGAN: dataset factor given as the label y (default: first factor).")
@_opt("--noise-dim", key="noise_dim", help="Size of the noise z (0: no z).")
@_opt("--noise-scale", key="noise_scale", help="z ~ U(-s, s): the scale s of the noise.")
@click.option("--cat", "cat", type=int, multiple=True,
              help=f"Size of a categorical code; repeat for several (--cat 10 --cat 10); --cat 0 for none. "
                   f"[default: {' '.join(map(str, _D.cat))}]")
@_opt("--cont", key="cont", help="Number of continuous codes U(-1, 1).")
@_opt("--lambda-cat", key="lambda_cat", help="Weight of the categorical information term.")
@_opt("--lambda-cont", key="lambda_cont", help="Weight of the continuous information term.")
@_opt("--lambda-real-mi", key="lambda_real_mi",
      help="Weight of I(c_hat; x) on real images (with --code-invariance each code read through its own view).")
@_opt("--real-mi-start", key="real_mi_start",
      help="The real-image MI term trains D and Q from this fraction of the steps on; before, it is only logged "
           "(0: from the first step).")
@_opt("--lambda-interaction", key="lambda_interaction",
      help="Weight of the code-interaction penalty on G (mixed second difference over code pairs).")
@_opt("--cat-augment", key="cat_augment",
      help="Q reads the categorical codes from G's images randomly warped at this strength (1: rotation +-30 deg, "
           "scale 1 +- 0.25, shift +-3 px; 0: off).")
@_opt("--lambda-real-consistency", key="lambda_real_consistency",
      help="Weight of KL(Q(c|x) || Q(c|warp(x))) on real images, warped at the --cat-augment strength (IMSAT's "
           "self-augmented training; 0: off).")
@click.option("--code-invariance", "code_invariance", multiple=True,
              help="Per categorical code, in order: the nuisance Q reads it through (its factor must survive it), "
                   "e.g. --code-invariance shift_y for a code meant for horizontal position; one of "
                   f"{', '.join(CODE_INVARIANCES)}, or several joined by '+' (shift+brightness: applied left to "
                   "right). [default: none]")
@click.option("--cont-invariance", "cont_invariance", multiple=True,
              help="Per continuous code, in order: the nuisance Q reads it through, as --code-invariance (e.g. "
                   "--cont-invariance scale_x --cont-invariance shear_x: slant through horizontal stretches, width "
                   "through shears). [default: none]")
@_opt("--instance-noise", key="instance_noise", help="Std of Gaussian noise on D's inputs.")
@_opt("--instance-noise-steps", key="instance_noise_steps", help="Steps over which it decays to 0.")
@_opt("--bn-recalibrate", key="bn_recalibrate",
      help="Before every evaluation and checkpoint, re-estimate D's BatchNorm statistics from this many real "
           "training images (no labels), the statistics Q then reads real images under; 0: the running averages "
           "of training. Weights are unchanged.")
@_opt("--real-label", key="real_label", help="D's target for real images (0.9: label smoothing).")
@_opt("--lr-d", key="lr_d", help="Adam learning rate of D and Q.")
@_opt("--lr-g", key="lr_g", help="Adam learning rate of G.")
@_opt("--batch-size", key="batch_size", help="Batch size.")
@_opt("--lr-scale", key="lr_scale", type=click.Choice(LR_SCALES),
      help="Large batches: sqrt / linear take --lr-d and --lr-g as the rates at batch 64 and multiply them by "
           "(batch/64)^0.5 / batch/64, at most x4; none: as given.")
@_opt("--lr-decay-start", key="lr_decay_start",
      help="From this fraction of the steps both learning rates fall linearly towards 0 at the last step "
           "(1: constant).")
@_opt("--epochs", key="epochs", help="Epochs (len(dataset) // batch_size steps each).")
@_opt("--steps", key="steps", help="Total steps (overrides --epochs when > 0).")
@_opt("--seed", key="seed", help="Seed of weights, batches, latents and noise.")
@_opt("--device", key="device", help="auto, cpu, cuda, cuda:N or mps.")
@_opt("--precision", key="precision", type=click.Choice(PRECISIONS),
      help="bf16: the networks' forward passes under bf16 autocast, losses in float32 (CUDA only).")
@click.option("--compile/--no-compile", "compile", default=None,
              help="torch.compile the networks (the first steps compile; CUDA: max-autotune-no-cudagraphs). "
                   f"[default: {'on' if _D.compile else 'off'}]")
@_opt("--out", key="out", help="Run directory.")
@_opt("--log-every", key="log_every", help="Steps between log records.")
@_opt("--ckpt-every", key="ckpt_every", help="Steps between checkpoints.")
@_opt("--threads", key="threads", help="torch.set_num_threads (0: torch's choice).")
@_opt("--keep", key="keep", type=click.IntRange(min=1),
      help="Checkpoints kept: ckpt.pt and the N-1 before it as ckpt_<step>.pt.")
@click.option("--tensorboard/--no-tensorboard", default=None,
              help="Also write TensorBoard event files under <out>/tb/ (pip install 'basicprop[tensorboard]'). "
                   f"[default: {'on' if _D.tensorboard else 'off'}]")
@click.option("--progress/--no-progress", default=None,
              help=f"Show a progress bar. [default: {'on' if _D.progress else 'off'}]")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Any other config field, e.g. --set d_spectral_norm=true (see gan_models/config.py).")
@click.option("--resume", is_flag=True, help="Continue <out>/ckpt.pt exactly; options given may only extend it.")
@click.option("--seeds", default=None, metavar="S [S ...]",
              help="Train these seeds together as one stacked model, in <out>/seed<S> each (e.g. --seeds 0 1 2 3); "
                   "with --resume, continue them all.")
def train_command(preset, cat, sets, resume, seeds, **options):
    """Train InfoGAN / C-InfoGAN; writes checkpoints, a JSONL log and sample/traversal grids to --out."""
    import torch

    from .trainer import train

    ctx = click.get_current_context()
    seeds = _seeds(seeds, ctx.args)
    if seeds:
        _train_seeds(ctx, preset, cat, sets, resume, seeds, options)
        return
    cfg = _config(preset, cat, sets, resume, options)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    progress = Progress(cfg.progress, Path(cfg.out).name)
    path = _under_signals(ctx, progress, lambda stop: train(
        cfg, resume=resume, score_codes=(ctx.obj or {}).get("score_codes"), log=progress, should_stop=stop))
    _print_result(path)


def _under_signals(ctx: click.Context, progress, run):
    """``run(should_stop)`` with Ctrl-C / SIGTERM turned into a saved stop: its one line and exit 128 + signal;
    a diverged run or a locked directory is one error line."""
    from basicprop.files import FolderLocked

    from .trainer import TrainingDiverged, TrainingInterrupted

    try:
        with StopOnSignal() as stop:
            return run(stop)
    except TrainingInterrupted as exc:
        progress.close()
        click.echo(str(exc), err=True)
        ctx.exit(128 + stop.signum)
    except (TrainingDiverged, FolderLocked) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        progress.close()


def _print_result(path: Path) -> None:
    click.echo(f"checkpoint: {path}")
    metrics = json.loads((path.parent / "metrics.json").read_text())
    accs = {k: v for k, v in metrics.items() if k.startswith("acc/") and k.count("/") == 1}
    if accs:
        click.echo("Q accuracy on real images: " + ", ".join(f"{k[4:]}={v:.3f}" for k, v in accs.items()))


def _seeds(seeds: str | None, extra: list[str]) -> list[int]:
    """--seeds 0 1 2 3 (click gives the first value to the option and leaves the others as extra arguments; commas
    work too); [] without --seeds, where any extra argument is a mistake."""
    if seeds is None:
        if extra:
            raise click.UsageError(f"Got unexpected extra argument(s) ({' '.join(extra)})")
        return []
    values = " ".join([seeds, *extra]).replace(",", " ").split()
    try:
        out = [int(v) for v in values]
    except ValueError:
        raise ValueError(f"--seeds takes integers, got {' '.join(values)!r}") from None
    if not out or len(set(out)) != len(out):
        raise ValueError(f"--seeds takes distinct integers, got {' '.join(values)!r}")
    return out


class StackedProgress(Progress):
    """``train --seeds``'s log callback ``(member, record)``: one bar (the members step together) and every member's
    accuracies at each evaluation."""

    def __init__(self, show: bool, desc: str, names: list[str]):
        super().__init__(show, desc)
        self.names = names

    def __call__(self, k: int, record: dict) -> None:
        from tqdm.auto import tqdm
        if record.get("event") == "eval":
            accs = {key: v for key, v in record.items() if key.startswith("acc/") and key.count("/") == 1}
            if accs:
                tqdm.write(f"{self.names[k]} step {record['step']}: " +
                           ", ".join(f"{key}={v:.3f}" for key, v in accs.items()))
        elif k == 0:
            super().__call__(record)


def _train_seeds(ctx, preset, cat, sets, resume, seeds, options) -> None:
    """``train --seeds``: one config per seed, out = <out>/seed<S>, trained as one stacked model."""
    import torch

    from .stacked import train_stacked

    if options.get("seed") is not None:
        raise ValueError("give --seed or --seeds, not both")
    out = Path(options.get("out") or _D.out)
    cfgs = [_config(preset, cat, sets, resume, {**options, "seed": s, "out": str(out / f"seed{s}")}) for s in seeds]
    if cfgs[0].threads > 0:
        torch.set_num_threads(cfgs[0].threads)
    progress = StackedProgress(cfgs[0].progress, out.name, [f"seed{s}" for s in seeds])
    paths = _under_signals(ctx, progress, lambda stop: train_stacked(
        cfgs, resume=resume, score_codes=(ctx.obj or {}).get("score_codes"), log=progress, should_stop=stop))
    for path in paths:
        _print_result(path)


def _config(preset, cat, sets, resume, options) -> TrainConfig:
    """The run's config from the command line: preset and options, or (--resume) the saved config and options."""
    from .checkpoint import resume_config

    given = {k: v for k, v in options.items() if v is not None and v != ()}   # () : a multiple option not given
    if cat:
        given["cat"] = () if tuple(cat) == (0,) else tuple(cat)
    for item in sets:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        given[key.strip()] = parse_value(key.strip(), value.strip())
    if not resume:
        return make_config(preset, **given)
    if preset is not None:
        raise ValueError("--preset cannot be combined with --resume: the run keeps its saved config")
    return resume_config(given.pop("out", _D.out), **given)


@click.command("sample")
@click.option("--ckpt", required=True, type=click.Path(dir_okay=False), help="A checkpoint (ckpt.pt).")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="PNG to write.")
@click.option("--n", default=100, show_default=True, type=click.IntRange(min=1),
              help="Number of samples (a grid of --cols columns).")
@click.option("--cols", default=10, show_default=True, type=click.IntRange(min=1), help="Columns of the grid.")
@click.option("--traverse", type=int, default=None,
              help="Draw a traversal of continuous code J instead (rows: first categorical code or label).")
@click.option("--traverse-cat", type=int, default=None,
              help="Draw the table of categorical code 0 (rows) against categorical code I (columns) instead.")
@click.option("--seed", default=0, show_default=True, help="Seed of the latent draws.")
@click.option("--scale", default=2, show_default=True, type=click.IntRange(min=1), help="Pixel upscaling of the PNG.")
@click.option("--labels/--no-labels", default=None,
              help="Frame the grid with the code values of its rows and columns and a title. "
                   "[default: on at --scale 2 and above; --scale 1 is the bare grid, pixel for pixel]")
@click.option("--device", default="cpu", show_default=True, help="auto, cpu, cuda, cuda:N or mps.")
def sample_command(ckpt, out, n, cols, traverse, traverse_cat, seed, scale, labels, device):
    """Draw a sample grid (or a latent traversal) from a checkpoint.

    Rows hold the values of the first categorical code (C-InfoGAN: the label y), row r the value r mod its size;
    a traversal's columns hold the swept values."""
    import torch

    from basicprop.images import GRID_PAD, write_png

    from .checkpoint import load_checkpoint
    from .device import ensure_fits
    from .grids import draw, samples_grid, traversal_grid

    if traverse is not None and traverse_cat is not None:
        raise ValueError("give --traverse or --traverse-cat, not both")
    m = load_checkpoint(ckpt, device=device)
    gen = torch.Generator(m.device).manual_seed(seed)
    if traverse_cat is not None:
        if not 1 <= traverse_cat < len(m.spec.cat):
            raise ValueError(f"--traverse-cat {traverse_cat}: needs 1 <= I < {len(m.spec.cat)} "
                             f"(the model has {len(m.spec.cat)} categorical code(s))")
        grid = traversal_grid(m.spec, gen, cat_cols=traverse_cat)
    elif traverse is not None:
        if not 0 <= traverse < m.spec.cont:
            raise ValueError(f"--traverse {traverse}: the model has {m.spec.cont} continuous code(s)")
        grid = traversal_grid(m.spec, gen, cont_index=traverse, n_cols=cols)
    else:
        rows = -(-n // cols)
        ensure_fits(rows * cols * 4 * (m.spec.input_dim + 28 * 28), gen.device, f"{rows * cols} samples")
        grid = samples_grid(m.spec, gen, rows, cols)
    rows, cols = grid.n_rows, grid.n_cols
    ensure_fits(2 * rows * cols * (28 + GRID_PAD) ** 2 * scale ** 2, torch.device("cpu"),
                f"a grid of {rows}x{cols} samples at --scale {scale}")
    labels = scale >= 2 if labels is None else labels
    path = write_png(draw(m.generate, grid, title=f"{grid.title}, step {m.step}", scale=scale, labels=labels), out)
    click.echo(f"wrote {path} ({rows}x{cols})")


@click.command("plot")
@click.argument("runs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("--out", default="curves.png", show_default=True, type=click.Path(dir_okay=False),
              help="PNG to write.")
def plot_command(runs, out):
    """Training curves of one or more run directories in one PNG (each run labelled by its directory's name)."""
    from .curves import plot_curves, read_runs, save_figure

    path = save_figure(plot_curves(read_runs(runs)), out)
    click.echo(f"wrote {path} ({len(runs)} run{'s' if len(runs) > 1 else ''})")


@click.command("export")
@click.argument("ckpt", type=click.Path(dir_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Weights-only file to write.")
def export_command(ckpt, out):
    """Write a checkpoint's weights without the optimiser state: samples and scores like it, cannot resume."""
    from basicprop.resources import human_bytes

    from .checkpoint import export_weights

    path = export_weights(ckpt, out)
    click.echo(f"wrote {path} ({human_bytes(path.stat().st_size)}; {ckpt}: {human_bytes(Path(ckpt).stat().st_size)})")


commands = [train_command, sample_command, plot_command, export_command]

"""Click commands ``train`` and ``sample``; mounted into the top-level ``cli.py`` group.

Defaults come from ``TrainConfig`` and the chosen ``--preset``: an option given on the command line overrides
them, an option left out keeps them. ``--set KEY=VALUE`` reaches every other config field.
"""
from __future__ import annotations

import json
from pathlib import Path

import click

from .config import PRESETS, TrainConfig, field_types, make_config

_D = TrainConfig()


def _parse_value(key: str, text: str):
    types = field_types()
    if key not in types:
        raise ValueError(f"unknown config key {key!r} in --set; choose from {sorted(types)}")
    t = types[key]
    if text.lower() in ("none", "null") and key in ("data_dir", "condition", "preset"):
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
            raise ValueError(f"--set {key}=...: expected a JSON object, e.g. {key}='{{\"bg_noise\": [0, 60]}}'") from None
        if value is not None and not isinstance(value, dict):
            raise ValueError(f"--set {key}: expected a JSON object")
        return value
    if t is tuple:
        return tuple(int(v) for v in text.replace(",", " ").split())
    try:
        return t(text)
    except ValueError:
        raise ValueError(f"--set {key}={text}: expected {t.__name__}") from None


def _opt(*decls, key: str, help: str, **kw):
    """An option whose default is None ('not given'); the help shows the TrainConfig default."""
    default = getattr(_D, key)
    return click.option(*decls, key, default=None, help=f"{help} [default: {default}]", **kw)


@click.command("train")
@click.option("--preset", type=click.Choice(sorted(PRESETS)), default=None,
              help="Start from a named setting (the study's table and tuned BasicProp settings).")
@_opt("--dataset", key="dataset", help="Dataset name (basicprop-line, basicprop-rectangles, mnist, ...) or file.")
@_opt("--data-dir", key="data_dir", help="MNIST directory (else $BASICPROP_MNIST_DIR).")
@_opt("--data-seed", key="data_seed", type=int, help="Seed of a generated BasicProp dataset.")
@_opt("--model", key="model", type=click.Choice(["infogan", "cinfogan"]), help="Model.")
@_opt("--condition", key="condition", help="C-InfoGAN: dataset factor given as the label y (default: first factor).")
@_opt("--noise-dim", key="noise_dim", type=int, help="Size of the noise z (0: no z).")
@_opt("--noise-scale", key="noise_scale", type=float, help="z ~ U(-s, s): the scale s of the noise.")
@click.option("--cat", "cat", type=int, multiple=True,
              help=f"Size of a categorical code; repeat for several (--cat 10 --cat 10); --cat 0 for none. "
                   f"[default: {' '.join(map(str, _D.cat))}]")
@_opt("--cont", key="cont", type=int, help="Number of continuous codes U(-1, 1).")
@_opt("--lambda-cat", key="lambda_cat", type=float, help="Weight of the categorical information term.")
@_opt("--lambda-cont", key="lambda_cont", type=float, help="Weight of the continuous information term.")
@_opt("--lambda-real-mi", key="lambda_real_mi", type=float, help="Weight of I(c_hat; x) on real images.")
@_opt("--lambda-interaction", key="lambda_interaction", type=float,
      help="Weight of the code-interaction penalty on G (mixed second difference over code pairs).")
@_opt("--cat-augment", key="cat_augment", type=float,
      help="Q reads the categorical codes from G's images randomly warped at this strength (1: rotation +-30 deg, "
           "scale 1 +- 0.25, shift +-3 px; 0: off).")
@_opt("--instance-noise", key="instance_noise", type=float, help="Std of Gaussian noise on D's inputs.")
@_opt("--instance-noise-steps", key="instance_noise_steps", type=int, help="Steps over which it decays to 0.")
@_opt("--real-label", key="real_label", type=float, help="D's target for real images (0.9: label smoothing).")
@_opt("--lr-d", key="lr_d", type=float, help="Adam learning rate of D and Q.")
@_opt("--lr-g", key="lr_g", type=float, help="Adam learning rate of G.")
@_opt("--batch-size", key="batch_size", type=int, help="Batch size.")
@_opt("--epochs", key="epochs", type=int, help="Epochs (len(dataset) // batch_size steps each).")
@_opt("--steps", key="steps", type=int, help="Total steps (overrides --epochs when > 0).")
@_opt("--seed", key="seed", type=int, help="Seed of weights, batches, latents and noise.")
@_opt("--device", key="device", help="auto, cpu, cuda, cuda:N or mps.")
@_opt("--out", key="out", help="Run directory.")
@_opt("--log-every", key="log_every", type=int, help="Steps between log records.")
@_opt("--ckpt-every", key="ckpt_every", type=int, help="Steps between checkpoints.")
@_opt("--threads", key="threads", type=int, help="torch.set_num_threads (0: torch's choice).")
@click.option("--progress/--no-progress", default=None, help="Show a progress bar. [default: on]")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Any other config field, e.g. --set d_spectral_norm=true (see gan_models/config.py).")
@click.option("--resume", is_flag=True, help="Continue <out>/ckpt.pt exactly; options given may only extend it.")
def train_command(preset, cat, sets, resume, **options):
    """Train InfoGAN / C-InfoGAN; writes checkpoints, a JSONL log and sample/traversal grids to --out."""
    from .checkpoint import read_checkpoint
    from .trainer import CKPT_NAME, TrainingDiverged, train

    given = {k: v for k, v in options.items() if v is not None}
    if cat:
        given["cat"] = () if tuple(cat) == (0,) else tuple(cat)
    for item in sets:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        given[key.strip()] = _parse_value(key.strip(), value.strip())
    if resume:
        if preset is not None:
            raise ValueError("--preset cannot be combined with --resume: the run keeps its saved config")
        out = Path(given.get("out", _D.out))
        saved = read_checkpoint(out / CKPT_NAME)["config"] if (out / CKPT_NAME).is_file() else None
        if saved is None:
            raise ValueError(f"--resume: no checkpoint at {out / CKPT_NAME}")
        cfg = TrainConfig.from_dict({**saved, **given})
    else:
        cfg = make_config(preset, **given)
    try:
        path = train(cfg, resume=resume)
    except TrainingDiverged as exc:
        raise click.ClickException(str(exc)) from None
    metrics = json.loads((path.parent / "metrics.json").read_text())
    click.echo(f"checkpoint: {path}")
    accs = {k: round(v, 4) for k, v in metrics.items() if k.startswith("acc/") and k.count("/") == 1}
    if accs:
        click.echo("Q accuracy on real images: " + ", ".join(f"{k[4:]}={v:.3f}" for k, v in accs.items()))


@click.command("sample")
@click.option("--ckpt", required=True, type=click.Path(dir_okay=False), help="A checkpoint (ckpt.pt).")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="PNG to write.")
@click.option("--n", default=100, show_default=True, help="Number of samples (a grid of --cols columns).")
@click.option("--cols", default=10, show_default=True, help="Columns of the grid.")
@click.option("--traverse", type=int, default=None,
              help="Draw a traversal of continuous code J instead (rows: first categorical code or label).")
@click.option("--traverse-cat", type=int, default=None,
              help="Draw the table of categorical code 0 (rows) against categorical code I (columns) instead.")
@click.option("--seed", default=0, show_default=True, help="Seed of the latent draws.")
@click.option("--scale", default=2, show_default=True, help="Pixel upscaling of the PNG.")
@click.option("--device", default="cpu", show_default=True, help="auto, cpu, cuda or mps.")
def sample_command(ckpt, out, n, cols, traverse, traverse_cat, seed, scale, device):
    """Draw a sample grid (or a latent traversal) from a checkpoint."""
    import torch

    from .checkpoint import load_checkpoint
    from .latent import traversal_latent
    from .monitor import image_grid, save_png

    if n < 1 or cols < 1:
        raise ValueError("--n and --cols must be >= 1")
    m = load_checkpoint(ckpt, device=device)
    gen = torch.Generator(m.device).manual_seed(seed)
    if traverse is not None and traverse_cat is not None:
        raise ValueError("give --traverse or --traverse-cat, not both")
    if traverse_cat is not None:
        if not 1 <= traverse_cat < len(m.spec.cat):
            raise ValueError(f"--traverse-cat {traverse_cat}: needs 1 <= I < {len(m.spec.cat)} "
                             f"(the model has {len(m.spec.cat)} categorical code(s))")
        lat, rows, cols = traversal_latent(m.spec, gen, cat_cols=traverse_cat)
    elif traverse is not None:
        if not 0 <= traverse < m.spec.cont:
            raise ValueError(f"--traverse {traverse}: the model has {m.spec.cont} continuous code(s)")
        lat, rows, cols = traversal_latent(m.spec, gen, cont_index=traverse, n_cols=cols,
                                           rows="y" if m.spec.cond else "cat0")
    else:
        rows = -(-n // cols)
        lat = m.sample_latent(rows * cols, gen)
    images = m.generate(lat).cpu().numpy()
    path = save_png(image_grid(images, rows, cols, scale=scale), out)
    click.echo(f"wrote {path} ({rows}x{cols})")


commands = [train_command, sample_command]

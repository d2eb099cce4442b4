"""``python -m eval ...`` / ``python cli.py eval ...``: the ``score``, ``disentangle`` and ``augment`` commands.

Each command parses its options, calls one library function, prints the result and writes the files; the options'
names, defaults and types come from the config dataclasses (:class:`eval.score.ScoreConfig`,
:class:`eval.disentangle.DisentangleConfig`) and their type hints. User errors (missing file, shape mismatch, bad
option, a damaged checkpoint, a size that cannot fit in memory) print one ``error:`` line and exit with status 2.
``disentangle`` holds its output folder's lock while it runs; Ctrl-C or SIGTERM leaves no temp file behind.
"""
from __future__ import annotations

import contextlib
import typing
from dataclasses import asdict, fields
from pathlib import Path

import click
import numpy as np

from basicprop import files
from basicprop.clitools import Group
from eval.arrays import load_array
from eval.config import DEVICE_CHOICES, MEASURE_CHOICES, DisentangleConfig, validate
from eval.score import ScoreConfig

def config_option(config_cls, name: str, help: str | None = None, **extra):
    """A click option for field ``name`` of a config dataclass: ``--name-with-dashes`` (``--x/--no-x`` for a bool),
    the field's default and, unless given, the type of its hint (``int | None`` -> int, default None allowed)."""
    field = next(f for f in fields(config_cls) if f.name == name)
    hint = typing.get_type_hints(config_cls)[name]
    types = [t for t in typing.get_args(hint) if t is not type(None)] or [hint]
    flag = "--" + name.replace("_", "-")
    decls = [f"{flag}/--no-{flag[2:]}"] if hint is bool else [flag]
    if hint is not bool and "type" not in extra:
        extra["type"] = types[0]
    return click.option(*decls, name, default=field.default, show_default=field.default is not None, help=help,
                        **extra)


def parse_discrete(text: str, n_codes: int):
    """``auto`` -> None (detect), ``none`` / ``all`` -> all False / True, ``0,2`` -> those columns discrete."""
    text = text.strip().lower()
    if text == "auto":
        return None
    if text in ("none", "all"):
        return [text == "all"] * n_codes
    try:
        idx = {int(t) for t in text.split(",") if t.strip()}
    except ValueError:
        raise ValueError(f"--discrete takes auto, none, all or comma-separated column indices, got {text!r}") from None
    bad = sorted(i for i in idx if not 0 <= i < n_codes)
    if bad:
        raise ValueError(f"--discrete column(s) {bad} out of range for {n_codes} codes")
    return [i in idx for i in range(n_codes)]


@contextlib.contextmanager
def output_folder(folder: Path):
    """Hold ``folder``'s lock (a second process is refused with one line naming the holder) and remove temp files
    a killed run left there."""
    try:
        with files.folder_lock(folder, "output folder"):
            files.remove_temps(folder)
            yield folder
    except files.FolderLocked as exc:
        raise click.ClickException(str(exc)) from None


def _names(text: str | None):
    return None if text is None else [t.strip() for t in text.split(",")]


def _to_stderr(message: str) -> None:
    click.echo(message, err=True)


@click.group(cls=Group, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def group(ctx: click.Context) -> None:
    """Disentanglement scores: of a checkpoint (disentangle) or of any codes/factors arrays (score); MNIST
    classifiers with generated digits labelled through Q's code (augment)."""
    if ctx.invoked_subcommand is None:  # bare `python -m eval`: the help, not a usage error
        click.echo(ctx.get_help())


@group.command("score")
@click.option("--codes", "codes_path", required=True, help="N×C codes (.npy, .npz with one array, .csv, .txt).")
@click.option("--factors", "factors_path", required=True, help="N×K integer factors, same formats.")
@click.option("--json", "json_path", default=None, help="Write every number to this JSON file.")
@click.option("--heatmap", default=None, help="Write the code × factor MI heatmap to this PNG.")
@click.option("--seed", default=0, show_default=True, help="Seed of the train/test splits and classifiers.")
@click.option("--discrete", default="auto", show_default=True,
              help="Which code columns are categorical: auto (integer-valued ones), none, all, or indices 0,2.")
@config_option(ScoreConfig, "num_bins", "Bins for continuous codes.")
@click.option("--code-names", default=None, help="Comma-separated code names.")
@click.option("--factor-names", default=None, help="Comma-separated factor names.")
@config_option(ScoreConfig, "sap")
@config_option(ScoreConfig, "dci", "Gradient-boosted trees: the slow one.")
@config_option(ScoreConfig, "dci_max_train", "Cap DCI's training split.")
@config_option(ScoreConfig, "probes")
@config_option(ScoreConfig, "mlp", "The MLP probe.")
def score_command(codes_path, factors_path, json_path, heatmap, seed, discrete, code_names, factor_names,
                  **settings) -> None:
    """Score codes (N×C) against known factors (N×K integers): MI, MIG, SAP, DCI, accuracy, probes."""
    from eval import report
    from eval.mutual_info import MI_NORMALIZED
    from eval.score import CODE_NAMES, FACTOR_NAMES, score

    codes = load_array(codes_path, "codes")
    factors = load_array(factors_path, "factors")
    n_codes = codes.shape[1] if codes.ndim == 2 else 1
    config = ScoreConfig(**settings)
    result = score(codes, factors, rng=np.random.default_rng(seed), discrete=parse_discrete(discrete, n_codes),
                   config=config, code_names=_names(code_names), factor_names=_names(factor_names))
    click.echo(report.format_table(result))
    if json_path:
        settings = {"codes": codes_path, "factors": factors_path, "seed": seed, "discrete": discrete, **asdict(config)}
        out = {**report.flatten("setting.", settings), **report.flatten("version.", report.versions()), **result}
        click.echo(f"wrote {report.write_json(json_path, out)}")
    if heatmap:
        path = report.plot_mi_heatmap(result[MI_NORMALIZED], result[CODE_NAMES], result[FACTOR_NAMES], heatmap)
        click.echo(f"wrote {path}")


def _disentangle_options(command):
    D = DisentangleConfig
    options = [
        click.option("--ckpt", required=True, help="Checkpoint written by `python cli.py train`."),
        config_option(D, "dataset", "Encoder direction: real images of this dataset (name or file) instead of the "
                      "checkpoint's (test split)."),
        config_option(D, "data_dir", "MNIST directory (default $BASICPROP_MNIST_DIR)."),
        config_option(D, "n_samples", "Real and generated images scored."),
        config_option(D, "seed"),
        config_option(D, "q_draws", "Encoder direction: read each categorical code that Q was trained to read through "
                      "a nuisance or a warp (train --code-invariance, --cat-augment) through this many random draws "
                      "of it, Q's probabilities averaged (0: the images as drawn)."),
        config_option(D, "device", f"{', '.join(DEVICE_CHOICES)} (auto: CUDA, MPS, CPU), or cuda:N."),
        click.option("--out", "out_dir", default=None,
                     help="Folder for PNGs and report.json [default: <ckpt dir>/eval]."),
        click.option("--json", "json_path", default=None,
                     help="Write the JSON report here [default: <out>/report.json]."),
        click.option("--plots/--no-plots", default=True, show_default=True, help="MI heatmaps and the traversal grid."),
        config_option(D, "measure", "Measure generated images with trained factor classifiers, or (line/rectangles) "
                      "from pixels.", type=click.Choice(MEASURE_CHOICES)),
        config_option(D, "num_bins", "Histogram bins for continuous codes."),
        config_option(D, "sap"),
        config_option(D, "dci", "DCI with gradient-boosted trees (encoder)."),
        config_option(D, "dci_max_train", "Cap on DCI's training split."),
        config_option(D, "probes", "Logistic / MLP probes (encoder)."),
        config_option(D, "mlp"),
        config_option(D, "traversal_bases", "Base latents per code sweep."),
        config_option(D, "traversal_steps", "Sweep values of a continuous code."),
        config_option(D, "baseline", "Score the untrained network too (same architecture, seed and samples)."),
        config_option(D, "quality", "Sample quality (Fréchet distance, precision / recall / density / coverage) in "
                      "the factor classifiers' features."),
        config_option(D, "quality_samples", "Real and generated images for sample quality (at most --n-samples)."),
        config_option(D, "allow_other_factors", "Score on a --dataset whose factors differ from the checkpoint's "
                      "training data."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@group.command("disentangle")
@_disentangle_options
def disentangle_command(out_dir: str | None, json_path: str | None, plots: bool, **options) -> None:
    """Score a checkpoint: Q on real images, G's codes on measured factors, traversals, C-InfoGAN fidelity."""
    from eval.disentangle import check_data, check_memory, disentangle
    from eval.report import format_report, write_report
    from gan_models import load_checkpoint

    config = DisentangleConfig(**options)
    validate(config)
    model = load_checkpoint(config.ckpt, device=config.device)   # a damaged file: ValueError
    check_memory(config, model.spec, model.dataset_meta.get("kind"))   # before the output folder is made
    check_data(config, model)
    out = Path(out_dir) if out_dir else Path(config.ckpt).parent / "eval"
    with output_folder(out):
        rep = disentangle(config, model=model, log=_to_stderr)
        written = write_report(rep, out, json_path=json_path, plots=plots)
    click.echo(format_report(rep))
    click.echo(f"wrote {written[-1]}" + (f" and PNGs in {out}" if plots else "") + f"  ({rep['timing.total']:.1f} s)")


@group.command("augment")
@click.option("--ckpt", required=True, help="MNIST InfoGAN checkpoint with a 10-valued categorical code.")
@click.option("--out", "out_dir", default=None,
              help="Folder for augment.json and augment.png [default: <ckpt dir>/augment].")
@click.option("--n-labelled", default="10,100,1000", show_default=True,
              help="Comma-separated numbers of labelled images.")
@click.option("--seeds", default=5, show_default=True, help="Seeds 0..S-1: which images are drawn, classifier init.")
@click.option("--n-generated", default=10_000, show_default=True, help="Generated images added in the second arm.")
@click.option("--steps", default=1000, show_default=True, help="Adam steps of every classifier (both arms).")
@click.option("--batch-size", default=64, show_default=True)
@click.option("--lr", default=2e-3, show_default=True, help="Peak of the one-cycle learning rate.")
@click.option("--n-test", default=None, type=int, help="Score on the first N test images [default: all 10,000].")
@click.option("--data-dir", default=None, help="MNIST directory (default $BASICPROP_MNIST_DIR).")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:N or mps.")
@click.option("--threads", default=0, show_default=True, help="torch.set_num_threads (0: torch's choice).")
def augment_command(ckpt, out_dir, n_labelled, threads, **options) -> None:
    """Digit classifiers on n labelled MNIST images, alone and with generated images labelled through Q's code."""
    import time

    import torch

    from eval.semisupervised import augmentation_experiment, format_table, plot_augmentation

    try:
        ns = [int(t) for t in n_labelled.split(",") if t.strip()]
    except ValueError:
        raise ValueError(f"--n-labelled takes comma-separated numbers, got {n_labelled!r}") from None
    if threads > 0:
        torch.set_num_threads(threads)
    start = time.perf_counter()
    result = augmentation_experiment(ckpt, n_labelled=ns, log=_to_stderr, **options)
    out = Path(out_dir) if out_dir else Path(ckpt).parent / "augment"
    with output_folder(out):
        files.write_json(out / "augment.json", files.jsonable(result))
        plot_augmentation(result, out / "augment.png")
    click.echo(format_table(result))
    click.echo(f"wrote {out / 'augment.json'} and {out / 'augment.png'}  ({time.perf_counter() - start:.0f} s)")

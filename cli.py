"""basicprop's command line: one click group over the library functions.

    python cli.py make --kind rectangles --out data.h5
    python cli.py train --dataset basicprop-line --out runs/line
    python cli.py eval disentangle --ckpt runs/line/ckpt.pt

Each command parses its options, calls one library function and prints the result. This layer is the one that
imports both eval and gan_models: it hands eval's Hungarian accuracy to ``train`` (``ctx.obj["score_codes"]``).
"""
from __future__ import annotations

from pathlib import Path

import click

from basicprop.cli import commands as basicprop_commands
from basicprop.clitools import Group
from eval.cli import group as eval_group
from eval.clustering import code_factor_accuracy
from gan_models.cli import commands as gan_commands
from study.cli import group as study_group


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"], "obj": {"score_codes": code_factor_accuracy}})
def cli() -> None:
    """Synthetic data with known factors, InfoGAN training, and disentanglement scores."""


for command in [*basicprop_commands, *gan_commands]:
    cli.add_command(command)
cli.add_command(eval_group, "eval")
cli.add_command(study_group, "study")


@cli.command()
@click.option("--out", default="runs/demo", show_default=True, type=click.Path(file_okay=False),
              help="Directory for the data, the run and the report (overwritten).")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--steps", default=None, type=click.IntRange(min=1),
              help="Training steps (default: the demo-line preset).")
@click.option("--n-samples", default=2_000, show_default=True, type=click.IntRange(min=100),
              help="Samples scored in each direction.")
def demo(out: str, seed: int, steps: int | None, n_samples: int) -> None:
    """The main job end to end on a small default: data -> short InfoGAN -> disentangle report."""
    import shutil

    from basicprop import make_dataset, summarize, write_preview
    from eval.disentangle import DisentangleConfig, disentangle
    from eval.report import format_report, write_report
    from gan_models import make_config, train
    from gan_models.cli import Progress

    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    click.echo(f"== 1/3 BasicProp data in {root}")
    for kind in ("line", "rectangles"):
        path = make_dataset(kind, root / f"{kind}.h5", seed=seed, force=True)
        click.echo(summarize(path))
        click.echo(f"preview: {write_preview(path, root / f'{kind}_preview.png', force=True)}\n")

    click.echo("== 2/3 a short InfoGAN on the line data (Cat(10) + 2 continuous codes + 62 noise)")
    overrides = {"steps": steps} if steps else {}
    config = make_config("demo-line", dataset=str(root / "line.h5"), out=str(root / "infogan"), seed=seed,
                         **overrides)
    shutil.rmtree(config.out, ignore_errors=True)           # the demo starts afresh each time
    progress = Progress(True, "infogan")
    try:
        ckpt = train(config, score_codes=code_factor_accuracy, log=progress)
    finally:
        progress.close()
    click.echo(f"checkpoint: {ckpt}\n")

    click.echo(f"== 3/3 python -m eval disentangle --measure analytic --no-quality --ckpt {ckpt}")
    # Pixel measurements of the generated lines, and no sample quality, keep the demo short: both the default
    # measurement and sample quality read images with factor classifiers, trained once (minutes) and cached.
    report = disentangle(DisentangleConfig(ckpt=str(ckpt), n_samples=n_samples, seed=seed, device="cpu",
                                           measure="analytic", quality=False))
    write_report(report, root / "eval")
    click.echo(format_report(report))
    click.echo(f"\nreport, heatmap and traversal grid in {root / 'eval'}")


def main() -> None:
    """The installed ``basicprop`` command (``pip install``): every command above, without this repository."""
    cli(prog_name="basicprop")


if __name__ == "__main__":
    cli(prog_name="cli.py")

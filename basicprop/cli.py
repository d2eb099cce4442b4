"""The ``basicprop`` commands: make, preview, info. Each parses its options and calls one library function.

    basicprop make --kind rectangles --out rect.h5 [--bg-noise on] [--n-train 60000 --n-test 10000 --seed 0]
    basicprop preview rectangles --out rect.png
    basicprop info rect.h5

User errors (ValueError, OSError, click errors) print one ``error: ...`` line and exit with status 2.
"""
from __future__ import annotations

import json
import time

import click

from basicprop.clitools import Group
from basicprop.generate import N_TEST, N_TRAIN
from basicprop.io import FORMATS
from basicprop.kinds import KIND_NAMES
from basicprop.noise import DEFAULT_BG_NOISE, DEFAULT_FG_NOISE, parse_range

CONTEXT = {"help_option_names": ["-h", "--help"]}


def kind_params(fg_noise: str | None, bg_noise: str | None, params: tuple[str, ...]) -> dict:
    """``--fg-noise``, ``--bg-noise`` and ``-p KEY=VALUE`` (VALUE as JSON, else a string) -> get_kind parameters."""
    out = {}
    if fg_noise is not None:
        out["fg_noise"] = parse_range(fg_noise, "--fg-noise", DEFAULT_FG_NOISE)
    if bg_noise is not None:
        out["bg_noise"] = parse_range(bg_noise, "--bg-noise", DEFAULT_BG_NOISE)
    for item in params:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="'--param'")
        try:
            out[key.strip()] = json.loads(text)
        except json.JSONDecodeError:
            out[key.strip()] = text
    return out


def noise_options(fn):
    fn = click.option("--param", "-p", "params", multiple=True, metavar="KEY=VALUE",
                      help="Kind-specific parameter, VALUE as JSON (e.g. -p 'levels=[0.5,1.0]' for colorings).")(fn)
    fn = click.option("--bg-noise", default=None, metavar="LOW,HIGH|on|off",
                      help="Background noise: each background pixel uniform in LOW..HIGH-1; 'on' = 0,60. "
                           "Default off.")(fn)
    fn = click.option("--fg-noise", default=None, metavar="LOW,HIGH|off",
                      help="Foreground noise: each shape pixel uniform in LOW..HIGH-1. Default 150,240 (as in the "
                           "study); 'off' draws shapes at 255.")(fn)
    return fn


@click.command("make", context_settings=CONTEXT)
@click.option("--kind", "-k", required=True, type=click.Choice(KIND_NAMES), help="Shape kind.")
@click.option("--out", "-o", required=True, type=click.Path(), help="Output: FILE.h5, FILE.npz or an IDX FOLDER.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="Output format (default: from the extension; none = IDX folder).")
@click.option("--n-train", type=int, default=N_TRAIN, show_default=True, help="Training images.")
@click.option("--n-test", type=int, default=N_TEST, show_default=True, help="Test images.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed (same seed -> identical bytes).")
@noise_options
@click.option("--force", is_flag=True, help="Overwrite an existing output.")
def make(kind, out, fmt, n_train, n_test, seed, fg_noise, bg_noise, params, force):
    """Generate a dataset of one kind, balanced over factor combinations."""
    from basicprop.generate import make_dataset
    from basicprop.kinds import get_kind

    start = time.perf_counter()
    k = get_kind(kind, **kind_params(fg_noise, bg_noise, params))
    path = make_dataset(k, out, n_train=n_train, n_test=n_test, seed=seed, fmt=fmt, force=force)
    factors = ", ".join(f"{n} ({s})" for n, s in zip(k.factor_names, k.factor_sizes))
    click.echo(f"wrote {path}: {k.name}, {n_train} train + {n_test} test images, factors {factors}, seed {seed} "
               f"({time.perf_counter() - start:.2f} s)")


@click.command("preview", context_settings=CONTEXT)
@click.argument("source")
@click.option("--out", "-o", required=True, type=click.Path(), help="Output PNG.")
@click.option("--split", type=click.Choice(["train", "test"]), default="train", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Noise seed (kinds, basicprop-* names).")
@click.option("--samples", type=int, default=None,
              help="Rows of examples per combination (default 1; 4 or 8 for one-factor data).")
@click.option("--scale", type=int, default=2, show_default=True, help="Pixels per image pixel.")
@click.option("--labels/--no-labels", default=None,
              help="Frame the grid with the factor values of its rows and columns. "
                   "[default: on at --scale 2 and above; --scale 1 is the bare grid, pixel for pixel]")
@noise_options
@click.option("--data-dir", type=click.Path(), default=None, help="MNIST directory (else $BASICPROP_MNIST_DIR).")
@click.option("--force", is_flag=True, help="Overwrite an existing PNG.")
def preview(source, out, split, seed, samples, scale, labels, fg_noise, bg_noise, params, data_dir, force):
    """Write a PNG grid of SOURCE ordered by factor values, each row and column labelled with them.

    SOURCE: a kind (line, rectangles, ...; one cell per factor combination), a dataset name (basicprop-<kind>,
    mnist) or a file/IDX folder written by 'basicprop make'.
    """
    from basicprop.preview import write_preview

    path = write_preview(source, out, split=split, seed=seed, samples=samples, scale=scale, force=force,
                         data_dir=data_dir, kind_params=kind_params(fg_noise, bg_noise, params), labels=labels)
    click.echo(f"wrote {path}")


@click.command("info", context_settings=CONTEXT)
@click.argument("source")
@click.option("--data-dir", type=click.Path(), default=None, help="MNIST directory (else $BASICPROP_MNIST_DIR).")
def info(source, data_dir):
    """Summarise SOURCE (a file/IDX folder from 'basicprop make', basicprop-<kind>, or mnist)."""
    from basicprop.summary import summarize

    click.echo(summarize(source, data_dir=data_dir))


commands = [make, preview, info]


@click.group(cls=Group, context_settings=CONTEXT)
@click.version_option(package_name="basicprop", message="%(prog)s %(version)s")
def main() -> None:
    """BasicProp: 28x28 synthetic images with known generating factors."""


for _command in commands:
    main.add_command(_command)

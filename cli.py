"""basicprop's command line: one click group over the library functions.

    python cli.py make --kind rectangles --out data.h5
    python cli.py train --dataset basicprop-line --out runs/line
    python cli.py eval disentangle --ckpt runs/line/ckpt.pt

Each command parses its options, calls one library function and prints the result.
"""
from __future__ import annotations

import click

from basicprop.cli import commands as basicprop_commands
from basicprop.clitools import Group
from eval.cli import group as eval_group
from gan_models.cli import commands as gan_commands


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Synthetic data with known factors, InfoGAN training, and disentanglement scores."""


for command in [*basicprop_commands, *gan_commands]:
    cli.add_command(command)
cli.add_command(eval_group, "eval")

main = cli

if __name__ == "__main__":
    cli(prog_name="cli.py")

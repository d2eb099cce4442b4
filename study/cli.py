"""``study run | status | report | list``: parse, call one function of :mod:`study.api`, print."""
from __future__ import annotations

import click

from basicprop.clitools import Group
from study import api
from study.executors import EXECUTORS
from study.spec import BUDGETS


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
def group() -> None:
    """Run whole studies (rows x seeds), resumably and in parallel, and build their tables."""


def _echo_err(message: str) -> None:
    click.echo(message, err=True)


@group.command("run")
@click.argument("study")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Study directory (resumed if it exists).")
@click.option("--budget", type=click.Choice(BUDGETS), default="cpu", show_default=True,
              help="Lengths of training and scoring, from the spec.")
@click.option("--seeds", type=str, default=None, help="Seeds instead of the spec's, e.g. '0 1 2' or '0,1,2'.")
@click.option("--rows", type=str, default=None, help="Only these rows (comma separated).")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Runs at a time (default: what fits the cores at --threads each).")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True, help="Torch threads per run.")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda (spread over every GPU), cuda:N, auto.")
@click.option("--executor", type=click.Choice(EXECUTORS), default="local", show_default=True)
@click.option("--address", default=None, help="Ray cluster address ('auto' after `ray start`); default: local Ray.")
@click.option("--gpus-per-run", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Ray: GPU share per run (0.25 packs four runs on one GPU).")
@click.option("--quiet", is_flag=True, help="No progress lines.")
def run_command(study, out, budget, seeds, rows, jobs, threads, device, executor, address, gpus_per_run, quiet):
    """Train and score every unfinished run of STUDY (a shipped name or a .toml file)."""
    seed_list = _ints(seeds, "--seeds") if seeds is not None else None
    row_list = [r for r in rows.split(",") if r] if rows is not None else None
    result = api.run_study(study, out, budget=budget, seeds=seed_list, rows=row_list, jobs=jobs, executor=executor,
                           address=address, gpus_per_run=gpus_per_run, threads=threads, device=device,
                           log=(lambda m: None) if quiet else _echo_err)
    click.echo(f"{len(result['done'])} runs finished, {len(result['skipped'])} skipped (already done), "
               f"{len(result['failed'])} failed; tables: python cli.py study report {out}")
    if result["failed"]:
        raise SystemExit(1)


def _ints(text: str, option: str) -> list[int]:
    try:
        values = [int(v) for v in text.replace(",", " ").split()]
    except ValueError:
        raise ValueError(f"{option}: expected integers, got {text!r}") from None
    if not values or min(values) < 0:
        raise ValueError(f"{option}: expected one or more non-negative integers, got {text!r}")
    return values


@group.command("status")
@click.argument("out", type=click.Path(file_okay=False))
def status_command(out):
    """Where each run of the study in OUT stands, and an ETA."""
    st = api.study_status(out)
    for r in st["runs"]:
        click.echo(f"{r['run']:<40} {r['state']}" + (f" at step {r['step']}" if "step" in r else ""))
    counts = {}
    for r in st["runs"]:
        counts[r["state"]] = counts.get(r["state"], 0) + 1
    eta = "unknown" if st["eta_s"] is None else f"{st['eta_s'] / 60:.1f} min"
    click.echo(f"{st['study']} ({st['budget']}): " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
               + (f"; ETA {eta}" if st["left"] else ""))


@group.command("report")
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--results", "results_md", default=None, type=click.Path(dir_okay=False),
              help="Also refresh this study's section in a Markdown file (docs/RESULTS.md).")
def report_command(out, results_md):
    """Rebuild tables (TABLE.md, summary.csv, summary.json) and figures from the finished runs in OUT."""
    from study import report
    built = api.study_report(out)
    paths = report.write(built, out, results_md)
    click.echo(built["table_md"].rstrip())
    click.echo("wrote " + ", ".join(str(p) for p in paths))


@group.command("list")
def list_command():
    """The shipped studies."""
    for name, description in api.list_studies().items():
        click.echo(f"{name:<18} {description}")

"""``python -m eval ...`` / ``python cli.py eval ...``: the ``score`` and ``disentangle`` commands.

Each command parses its options, calls one library function and prints the result; defaults come from the
config dataclasses (:class:`eval.score.ScoreConfig`, :class:`eval.disentangle.DisentangleConfig`).
User errors (missing file, shape mismatch, bad option) print one ``error:`` line and exit with status 2.
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click
import numpy as np

from basicprop.clitools import Group
from eval.score import ScoreConfig

_SCORE = ScoreConfig()


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


def load_array(path: str, what: str) -> np.ndarray:
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{what} file not found: {path}")
    try:
        if p.suffix == ".npz":
            with np.load(p, allow_pickle=False) as z:
                if len(z.files) != 1:
                    raise ValueError(f"{path} holds {len(z.files)} arrays ({', '.join(z.files)}); expected one")
                return z[z.files[0]]
        if p.suffix in (".csv", ".txt"):
            return np.loadtxt(p, delimiter="," if p.suffix == ".csv" else None, ndmin=2)
        return np.load(p, allow_pickle=False)
    except ValueError as exc:
        raise ValueError(f"cannot read {what} from {path}: {exc}") from None


def _names(text: str | None):
    return None if text is None else [t.strip() for t in text.split(",")]


@click.group(cls=Group, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def group(ctx: click.Context) -> None:
    """Disentanglement scores: of a checkpoint (disentangle) or of any codes/factors arrays (score)."""
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
@click.option("--num-bins", default=_SCORE.num_bins, show_default=True, help="Bins for continuous codes.")
@click.option("--code-names", default=None, help="Comma-separated code names.")
@click.option("--factor-names", default=None, help="Comma-separated factor names.")
@click.option("--sap/--no-sap", default=_SCORE.sap, show_default=True)
@click.option("--dci/--no-dci", default=_SCORE.dci, show_default=True, help="Gradient-boosted trees: the slow one.")
@click.option("--dci-max-train", default=_SCORE.dci_max_train, type=int, help="Cap DCI's training split.")
@click.option("--probes/--no-probes", default=_SCORE.probes, show_default=True)
@click.option("--mlp/--no-mlp", default=_SCORE.mlp, show_default=True, help="The MLP probe.")
def score_command(codes_path, factors_path, json_path, heatmap, seed, discrete, num_bins, code_names,
                  factor_names, sap, dci, dci_max_train, probes, mlp) -> None:
    """Score codes (N×C) against known factors (N×K integers): MI, MIG, SAP, DCI, accuracy, probes."""
    from eval import report
    from eval.score import score

    codes = load_array(codes_path, "codes")
    factors = load_array(factors_path, "factors")
    n_codes = codes.shape[1] if codes.ndim == 2 else 1
    config = ScoreConfig(num_bins=num_bins, sap=sap, dci=dci, dci_max_train=dci_max_train, probes=probes, mlp=mlp)
    result = score(codes, factors, rng=np.random.default_rng(seed), discrete=parse_discrete(discrete, n_codes),
                   config=config, code_names=_names(code_names), factor_names=_names(factor_names))
    click.echo(report.format_table(result))
    if json_path:
        settings = {"codes": codes_path, "factors": factors_path, "seed": seed, "discrete": discrete, **asdict(config)}
        out = {**report.flatten("setting.", settings), **report.flatten("version.", report.versions()), **result}
        click.echo(f"wrote {report.write_json(json_path, out)}")
    if heatmap:
        from eval.mutual_info import MI_NORMALIZED
        from eval.score import CODE_NAMES, FACTOR_NAMES
        path = report.plot_mi_heatmap(result[MI_NORMALIZED], result[CODE_NAMES], result[FACTOR_NAMES], heatmap)
        click.echo(f"wrote {path}")


@group.command("disentangle")
@click.option("--ckpt", required=True, help="Checkpoint written by `python cli.py train`.")
@click.option("--dataset", default=None, help="Encoder direction: real images of this dataset (name or file) "
              "instead of the checkpoint's (test split).")
@click.option("--data-dir", default=None, help="MNIST directory (default $BASICPROP_MNIST_DIR).")
@click.option("--n-samples", default=10_000, show_default=True, help="Real and generated images scored.")
@click.option("--seed", default=0, show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto (CUDA, MPS, CPU), cpu, cuda, mps.")
@click.option("--out", "out_dir", default=None, help="Folder for PNGs and report.json [default: <ckpt dir>/eval].")
@click.option("--json", "json_path", default=None, help="Write the JSON report here [default: <out>/report.json].")
@click.option("--plots/--no-plots", default=True, show_default=True, help="MI heatmaps and the traversal grid.")
@click.option("--measure", type=click.Choice(["classifier", "analytic"]), default="classifier", show_default=True,
              help="Measure generated images with trained factor classifiers, or (line/rectangles) from pixels.")
@click.option("--num-bins", default=20, show_default=True, help="Histogram bins for continuous codes.")
@click.option("--sap/--no-sap", default=True, show_default=True)
@click.option("--dci/--no-dci", default=True, show_default=True, help="DCI with gradient-boosted trees (encoder).")
@click.option("--dci-max-train", default=2000, show_default=True, type=int, help="Cap on DCI's training split.")
@click.option("--probes/--no-probes", default=True, show_default=True, help="Logistic / MLP probes (encoder).")
@click.option("--mlp/--no-mlp", default=True, show_default=True)
@click.option("--traversal-bases", default=32, show_default=True, help="Base latents per code sweep.")
@click.option("--traversal-steps", default=10, show_default=True, help="Sweep values of a continuous code.")
def disentangle_command(**options) -> None:
    """Score a checkpoint: Q on real images, G's codes on measured factors, traversals, C-InfoGAN fidelity."""
    from eval.disentangle import DisentangleConfig, disentangle, format_report

    config = DisentangleConfig(**options)
    rep = disentangle(config, log=lambda s: click.echo(s, err=True))
    click.echo(format_report(rep))
    click.echo(f"wrote {rep['json_path']}" + (f" and PNGs in {rep['out_dir']}" if config.plots else "")
               + f"  ({rep['timing.total']:.1f} s)")

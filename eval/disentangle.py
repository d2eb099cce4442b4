"""``python -m eval disentangle --ckpt ...``: how well do a checkpoint's codes recover the known factors?

Two directions, both scored with :func:`eval.score.score` (codes enter as: categorical code -> argmax / sampled
value, discrete; continuous code -> Q's mean / sampled value, continuous, 20 histogram bins for MI):

**Encoder direction** — Q reads real images with known factors (the test split of the checkpoint's dataset, or
``--dataset``): codes ``cat0..`` (argmax of Q's logits) and ``cont0..`` (Q's means) against the ground-truth
factors: MI matrix, MIG, SAP, DCI (trees on ``dci_max_train`` = 2,000 training samples), one-to-one accuracy /
purity / NMI / ARI of every categorical code, logistic and MLP probes. For MNIST the digit is the known factor and
slant and width, measured on the real images from moments, join as binned continuous factors (MI, MIG,
Spearman only). For C-InfoGAN the condition factor is an input of G, not a code, and is left out of this
direction (when the dataset has other factors).

**Generator direction** — sample latents, generate, and measure the factors of the generated images with the
factor classifiers of :mod:`eval.oracles` (cached; their test accuracy is reported) and the analytic
measurements (line position and rectangle heights as checks of the classifiers; MNIST slant and width as
factors). Codes ``y`` (C-InfoGAN label), ``cat0..``, ``cont0..`` as sampled, against the measured factors:
MI matrix, MIG, SAP, one-to-one accuracy / NMI / ARI, Spearman rank correlation of every continuous code with
every ordered factor (BasicProp factors with numeric values, MNIST slant and width; not the digit or a shape
name).

**Traversal test** — for ``traversal_bases`` base latents, sweep one code alone (every value of a categorical
code, ``traversal_steps`` values of a continuous one on [-1, 1], the label of C-InfoGAN) and measure every
image. ``TRAVERSAL_CHANGE[code][factor]`` is, for a discrete measured factor, the fraction of adjacent sweep
steps at which it changes (averaged over bases) and, for a continuous one (slant, width), the absolute mean
over bases of the Spearman correlation between sweep position and the measurement, times the sweep's mean range
relative to the measurement's 10th-90th percentile spread on real images (capped at 1): both 0 when the factor
does not move, 1 when it follows the code at every step. One code should move one factor:
``TRAVERSAL_GAP`` is, per code, the largest minus the second-largest entry of its row.

**C-InfoGAN** — label fidelity (the measured condition factor equals the requested label ``y``) and the Spearman
correlation of each continuous code (``cont0`` = c1, ``cont1`` = c2) with slant and width (MNIST) or with every
measured factor (BasicProp).
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from scipy.stats import spearmanr

from eval import report
from eval.discretize import histogram_discretize
from eval.mutual_info import MI_NORMALIZED
from eval.oracles import ClassifierConfig, Measurer, build_measurer, ordinal_factors, slant_width, to_uint8
from eval.score import CODE_NAMES, FACTOR_NAMES, ScoreConfig, score

SPEARMAN = "spearman"                        # (C_cont, K) rank correlation, continuous codes × factors
SPEARMAN_CODES = "spearman_codes"
SPEARMAN_FACTORS = "spearman_factors"        # the ordered factors and continuous measurements it covers
TRAVERSAL_CODES = "codes"
TRAVERSAL_FACTORS = "factors"
TRAVERSAL_CHANGE = "change"                  # (C, K) in [0, 1]
TRAVERSAL_GAP = "gap"                        # (C,)
TRAVERSAL_BEST_FACTOR = "best_factor"        # (C,) factor index
TRAVERSAL_MEAN_GAP = "mean_gap"              # float
LABEL_FIDELITY = "label_fidelity"
CHECK_AGREEMENT = "agreement"                # analytic check vs classifier, per factor

MEASURE_CHOICES = ("classifier", "analytic")


@dataclass(frozen=True)
class DisentangleConfig:
    """Every setting of :func:`disentangle` and of ``python -m eval disentangle`` (the CLI takes its defaults here)."""
    ckpt: str = ""
    dataset: str | None = None          # encoder direction: override the checkpoint's dataset (name or file)
    data_dir: str | None = None         # MNIST directory (else $BASICPROP_MNIST_DIR)
    n_samples: int = 10_000             # real images for the encoder, generated images for the generator direction
    seed: int = 0
    device: str = "auto"
    out_dir: str | None = None          # PNGs and report.json; default <ckpt dir>/eval
    json_path: str | None = None        # default <out_dir>/report.json
    plots: bool = True
    measure: str = "classifier"         # "analytic": line/rectangles only, no classifier training
    num_bins: int = 20
    sap: bool = True
    dci: bool = True                    # encoder direction only
    dci_max_train: int | None = 2_000   # cap on DCI's training split so that 10,000 samples fit ~30 s on 2 cores
    probes: bool = True                 # encoder direction only
    mlp: bool = True
    traversal_bases: int = 32
    traversal_steps: int = 10           # values of a continuous code in the sweep
    grid_bases: int = 2                 # rows per code in the traversal PNG
    grid_columns: int = 10              # at most this many sweep values per row in the PNG
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)


def validate(config: DisentangleConfig) -> None:
    """All cross-option checks in one place, with readable messages."""
    if config.n_samples < 100:
        raise ValueError(f"--n-samples must be at least 100, got {config.n_samples}")
    if config.measure not in MEASURE_CHOICES:
        raise ValueError(f"unknown --measure {config.measure!r}; choose from {list(MEASURE_CHOICES)}")
    if config.traversal_bases < 1 or config.traversal_steps < 2:
        raise ValueError("traversal needs at least 1 base and 2 steps")
    if config.num_bins < 2:
        raise ValueError(f"--num-bins must be at least 2, got {config.num_bins}")


# ------------------------------------------------------------------------------------------------ helpers
def code_layout(spec) -> list[tuple[str, str, int]]:
    """[(name, part, index)] for the codes of a spec: ('y', 'y', 0), ('cat0', 'cat', 0), ('cont0', 'cont', 0)..."""
    out = [("y", "y", 0)] if spec.cond else []
    out += [(f"cat{i}", "cat", i) for i in range(len(spec.cat))]
    out += [(f"cont{j}", "cont", j) for j in range(spec.cont)]
    return out


def latent_codes(latent, layout) -> tuple[np.ndarray, list[bool]]:
    """Latent -> (N, C) float codes in ``layout`` order, and which are discrete."""
    cols, disc = [], []
    for _, part, i in layout:
        if part == "y":
            cols.append(latent.y.cpu().numpy().astype(np.float64))
        elif part == "cat":
            cols.append(latent.cat[:, i].cpu().numpy().astype(np.float64))
        else:
            cols.append(latent.cont[:, i].cpu().numpy().astype(np.float64))
        disc.append(part != "cont")
    return np.stack(cols, axis=1), disc


def q_codes(q, spec) -> tuple[np.ndarray, list[str], list[bool]]:
    """Q's output -> (N, C) codes: argmax of each categorical head, then the continuous means."""
    cols = [logits.argmax(dim=1).cpu().numpy().astype(np.float64) for logits in q.cat_logits]
    names = [f"cat{i}" for i in range(len(q.cat_logits))]
    if spec.cont:
        mean = q.cont_mean.cpu().numpy().astype(np.float64)
        cols += [mean[:, j] for j in range(mean.shape[1])]
        names += [f"cont{j}" for j in range(mean.shape[1])]
    if not cols:
        raise ValueError("Q of this checkpoint predicts no codes (only the C-InfoGAN label): nothing to score")
    return np.stack(cols, axis=1), names, [True] * len(q.cat_logits) + [False] * spec.cont


def spearman_matrix(codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """(N, C), (N, K) -> (C, K) Spearman rank correlation (0 where either side is constant)."""
    out = np.zeros((codes.shape[1], factors.shape[1]))
    for i in range(codes.shape[1]):
        for j in range(factors.shape[1]):
            a, b = codes[:, i], factors[:, j]
            if np.ptp(a) > 0 and np.ptp(b) > 0:
                out[i, j] = spearmanr(a, b).statistic
    return out


def add_spearman(result: dict, codes: np.ndarray, discrete: Sequence[bool], raw: np.ndarray,
                 ordinal: Sequence[bool]) -> None:
    """Spearman of every continuous code with every ordered factor / continuous measurement, into ``result``."""
    cont = [i for i, d in enumerate(discrete) if not d]
    cols = [j for j, o in enumerate(ordinal) if o]
    result[SPEARMAN_CODES] = [result[CODE_NAMES][i] for i in cont]
    result[SPEARMAN_FACTORS] = [result[FACTOR_NAMES][j] for j in cols]
    result[SPEARMAN] = spearman_matrix(codes[:, cont], raw[:, cols]).tolist()


def factor_matrix(values: dict[str, np.ndarray], measurer: Measurer, num_bins: int):
    """Measured values -> (N, K) int factors (continuous ones binned), names, binned mask, raw (N, K) float."""
    names = measurer.names
    raw = np.stack([np.asarray(values[n], dtype=np.float64) for n in names], axis=1)
    binned = [m.continuous for m in measurer.factors]
    ints = np.stack([histogram_discretize(raw[:, j], num_bins) if binned[j] else raw[:, j].astype(np.int64)
                     for j in range(len(names))], axis=1)
    return ints, names, binned, raw


def _with(latent, **changes):
    """A copy of a Latent (NamedTuple z, cat, cont, y) with some fields replaced."""
    values = {name: getattr(latent, name) for name in latent._fields}
    values.update(changes)
    return type(latent)(**values)


def sweep_values(spec, part: str, index: int, steps: int) -> torch.Tensor:
    if part == "y":
        return torch.arange(spec.cond)
    if part == "cat":
        return torch.arange(spec.cat[index])
    return torch.linspace(-1.0, 1.0, steps)


def sweep_latent(base, part: str, index: int, values: torch.Tensor):
    """Each of the B base latents repeated for every sweep value (base-major), the swept code set."""
    s = len(values)
    rep = lambda t: None if t is None else t.repeat_interleave(s, dim=0)  # noqa: E731
    lat = _with(base, z=rep(base.z), cat=rep(base.cat), cont=rep(base.cont), y=rep(base.y))
    tiled = values.to(base.z.device).repeat(len(base.z))
    if part == "y":
        return _with(lat, y=tiled.long())
    if part == "cat":
        cat = lat.cat.clone()
        cat[:, index] = tiled.long()
        return _with(lat, cat=cat)
    cont = lat.cont.clone()
    cont[:, index] = tiled.to(cont.dtype)
    return _with(lat, cont=cont)


def change_rate(values: np.ndarray, continuous: bool, scale: float | None = None) -> float:
    """values (B, S) measured along sweeps -> 0 (never moves) .. 1 (moves at every step / monotone and large).

    Discrete: fraction of adjacent steps at which the value changes. Continuous: |mean over bases of the
    Spearman correlation of value and step|, times min(1, mean range along the sweep / ``scale``) when a
    reference ``scale`` (spread of the measurement on real images) is given, so a consistent but invisible
    drift does not count as moving the factor.
    """
    if not continuous:
        return float(np.mean(values[:, 1:] != values[:, :-1]))
    steps = np.arange(values.shape[1])
    rhos = [spearmanr(steps, row).statistic if np.ptp(row) > 0 else 0.0 for row in values]
    effect = abs(float(np.mean(rhos)))
    if scale is not None and scale > 0:
        effect *= min(1.0, float(np.mean(np.ptp(values, axis=1))) / scale)
    return effect


def _short_names(names: Sequence[str]) -> list[str]:
    short = ["".join(w[0] for w in n.split("_") if w) or n for n in names]
    return short if len(set(short)) == len(short) else list(names)


def _annotation(values: dict[str, np.ndarray], measurer: Measurer, idx: int) -> str:
    names = measurer.names
    short = _short_names(names)
    parts = []
    for n, s, m in zip(names, short, measurer.factors):
        v = values[n][idx]
        parts.append(f"{s}={v:.2f}" if m.continuous else f"{s}={int(v)}")
    return " ".join(parts)


# ---------------------------------------------------------------------------------------------- pipeline
def traversal(model, measurer: Measurer, layout, config: DisentangleConfig, generator: torch.Generator,
              scales: dict[str, float] | None = None):
    """Sweep each code alone over ``traversal_bases`` base latents -> (result dict, grid images, labels, notes).

    ``scales``: reference spread of each continuous measurement (see :func:`change_rate`)."""
    scales = scales or {}
    spec = model.spec
    base = model.sample_latent(config.traversal_bases, generator)
    cont_flags = [m.continuous for m in measurer.factors]
    change = np.zeros((len(layout), len(measurer.names)))
    grid_rows, row_labels, notes = [], [], []
    n_grid = min(config.grid_bases, config.traversal_bases)
    for c, (name, part, index) in enumerate(layout):
        values = sweep_values(spec, part, index, config.traversal_steps)
        s = len(values)
        images = to_uint8(model.generate(sweep_latent(base, part, index, values)))
        measured = measurer.measure(images, which="factors")
        for f, fname in enumerate(measurer.names):
            change[c, f] = change_rate(np.asarray(measured[fname]).reshape(config.traversal_bases, s), cont_flags[f],
                                       scales.get(fname))
        cols = np.unique(np.linspace(0, s - 1, min(s, config.grid_columns)).round().astype(int))
        for b in range(n_grid):
            idx = b * s + cols
            grid_rows.append(images[idx].astype(np.float32) / 255.0)
            label = ", ".join(f"{float(values[i]):.2g}" for i in (cols[0], cols[-1]))
            row_labels.append(f"{name} {label}" if part == "cont" else f"{name}")
            notes.append([_annotation(measured, measurer, i) for i in idx])
    ordered = np.sort(change, axis=1)[:, ::-1]
    gap = ordered[:, 0] - (ordered[:, 1] if change.shape[1] > 1 else 0.0)
    result = {TRAVERSAL_CODES: [n for n, _, _ in layout], TRAVERSAL_FACTORS: measurer.names,
              TRAVERSAL_CHANGE: change.tolist(), TRAVERSAL_GAP: gap.tolist(),
              TRAVERSAL_BEST_FACTOR: np.argmax(change, axis=1).astype(int).tolist(),
              TRAVERSAL_MEAN_GAP: float(gap.mean()) if gap.size else float("nan")}
    width = max(len(r) for r in grid_rows) if grid_rows else 0
    grid = np.zeros((len(grid_rows), width, 28, 28), np.float32)
    for r, row in enumerate(grid_rows):
        grid[r, :len(row)] = row
        notes[r] = notes[r] + [""] * (width - len(row))
    return result, grid, row_labels, notes


def load_real(model, config: DisentangleConfig, rng: np.random.Generator):
    """The encoder direction's real images: the test split of the checkpoint's dataset (or --dataset)."""
    from basicprop.datasets import load_dataset
    meta = model.dataset_meta
    name = config.dataset or meta.get("dataset")
    if not name:
        raise ValueError("the checkpoint names no dataset; pass --dataset")
    kwargs = {}
    if config.dataset is None and str(name).startswith("basicprop-") and meta.get("kind_params") is not None:
        kwargs = {"kind_params": meta["kind_params"], "seed": int(meta.get("seed") or 0)}
    ds = load_dataset(name, split="test", data_dir=config.data_dir, **kwargs)
    n = min(config.n_samples, len(ds))
    idx = np.sort(rng.permutation(len(ds))[:n])
    return ds, ds.images[idx], ds.factors[idx]


def disentangle(config: DisentangleConfig, *, model=None, log: Callable[[str], None] = print) -> dict:
    """Run both directions, the traversal test and (C-InfoGAN) label fidelity; write JSON and PNGs.

    ``model``: an already loaded checkpoint (anything with ``spec``, ``dataset_meta``, ``sample_latent``,
    ``generate``, ``encode``, ``device``); else ``load_checkpoint(config.ckpt, config.device)``.
    Returns the flat report dict that is also written to JSON.
    """
    validate(config)
    timing: dict[str, float] = {}
    t0 = t = time.perf_counter()

    def lap(name):
        nonlocal t
        now = time.perf_counter()
        timing[name] = round(now - t, 3)
        t = now

    if model is None:
        if not config.ckpt:
            raise ValueError("--ckpt is required")
        from gan_models import load_checkpoint
        model = load_checkpoint(config.ckpt, device=config.device)
    spec, meta = model.spec, model.dataset_meta
    trained_on = (getattr(model, "config", None) or {}).get("data_dir")
    if config.data_dir is None and not os.environ.get("BASICPROP_MNIST_DIR") and trained_on \
            and Path(trained_on).is_dir():
        config = replace(config, data_dir=trained_on)      # the MNIST directory the checkpoint was trained from
    rng = np.random.default_rng(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    out_dir = Path(config.out_dir) if config.out_dir else (Path(config.ckpt).parent / "eval" if config.ckpt
                                                           else Path("eval-report"))
    layout = code_layout(spec)
    if not layout:
        raise ValueError("this checkpoint has no latent codes (a vanilla GAN): nothing to score")
    lap("load")

    measurer = build_measurer(meta, use_classifiers=config.measure == "classifier", config=config.classifier,
                              data_dir=config.data_dir, device=str(model.device) if hasattr(model, "device") else "cpu",
                              log=log)
    lap("classifiers")
    rep: dict = {}
    settings = asdict(config)
    settings["classifier"] = asdict(config.classifier)
    rep.update(report.flatten("setting.", {k: v for k, v in settings.items() if k != "classifier"}))
    rep.update(report.flatten("setting.classifier.", settings["classifier"]))
    rep.update(report.flatten("version.", report.versions()))
    rep["checkpoint.spec"] = spec.to_dict()
    rep["checkpoint.dataset_meta"] = meta
    for m in measurer.factors:
        if m.source == "classifier":
            rep[f"classifier.{m.name}.test_accuracy"] = m.test_accuracy
    base_cfg = ScoreConfig(num_bins=config.num_bins, sap=config.sap, dci=config.dci,
                           dci_max_train=config.dci_max_train, probes=config.probes, mlp=config.mlp)

    # ---------------------------------------------------------------- encoder direction: Q on real images
    ds, real_images, real_factors = load_real(model, config, rng)
    q = model.encode(real_images)
    enc_codes, enc_names, enc_disc = q_codes(q, spec)
    enc_fnames = list(ds.factor_names)
    cond = meta.get("condition_factor") if spec.cond else None
    if cond in enc_fnames and len(enc_fnames) > 1:  # C-InfoGAN: y is given to G, not coded; score the rest
        keep = [j for j, n in enumerate(enc_fnames) if n != cond]
        real_factors, enc_fnames = real_factors[:, keep], [enc_fnames[j] for j in keep]
        rep["enc.excluded_factor"] = cond
    enc_factors, enc_binned = real_factors, [False] * real_factors.shape[1]
    enc_raw = real_factors.astype(np.float64)
    ds_ordinal = ordinal_factors(ds.meta) if ds.meta.get("kind") else {}
    enc_ordinal = [ds_ordinal.get(n, False) for n in enc_fnames]
    if ds.meta.get("kind") == "mnist":
        sw = slant_width(real_images)
        enc_raw = np.concatenate([enc_raw, sw], axis=1)
        enc_factors = np.concatenate([enc_factors, np.stack([histogram_discretize(sw[:, j], config.num_bins)
                                                             for j in range(2)], axis=1)], axis=1)
        enc_fnames += ["slant", "width"]
        enc_binned += [True, True]
        enc_ordinal += [True, True]
    lap("encode")
    enc = score(enc_codes, enc_factors, rng=rng, discrete=enc_disc, config=base_cfg, code_names=enc_names,
                factor_names=enc_fnames, binned=enc_binned)
    add_spearman(enc, enc_codes, enc_disc, enc_raw, enc_ordinal)
    rep["enc.dataset"] = ds.name
    rep.update(report.flatten("enc.", enc))
    lap("encoder_metrics")

    # ------------------------------------------------------- generator direction: codes -> images -> factors
    latent = model.sample_latent(config.n_samples, gen)
    images = to_uint8(model.generate(latent))
    lap("generate")
    measured = measurer.measure(images)
    lap("measure")
    gen_codes, gen_disc = latent_codes(latent, layout)
    gen_names = [n for n, _, _ in layout]
    gen_factors, gen_fnames, gen_binned, gen_raw = factor_matrix(measured, measurer, config.num_bins)
    gen_cfg = replace(base_cfg, dci=False, probes=False)
    gen_res = score(gen_codes, gen_factors, rng=rng, discrete=gen_disc, config=gen_cfg, code_names=gen_names,
                    factor_names=gen_fnames, binned=gen_binned)
    add_spearman(gen_res, gen_codes, gen_disc, gen_raw, [m.ordinal for m in measurer.factors])
    rep.update(report.flatten("gen.", gen_res))
    for chk in measurer.checks:
        rep[f"gen.check.{chk.twin_of}.{CHECK_AGREEMENT}"] = float(np.mean(measured[chk.name] == measured[chk.twin_of]))
    if spec.cond:
        cond = meta.get("condition_factor")
        if cond in measured:
            y = latent.y.cpu().numpy()
            rep[f"cinfogan.{LABEL_FIDELITY}"] = float(np.mean(np.asarray(measured[cond]) == y))
        else:
            rep[f"cinfogan.{LABEL_FIDELITY}"] = None
            log(f"warning: condition factor {cond!r} is not measured; label fidelity not computed")
        for r, code in enumerate(gen_res[SPEARMAN_CODES]):
            for f, fname in enumerate(gen_res[SPEARMAN_FACTORS]):
                if fname != cond:
                    rep[f"cinfogan.rho.{code}.{fname}"] = gen_res[SPEARMAN][r][f]
    lap("generator_metrics")

    # ------------------------------------------------------------------------------------ traversal test
    # reference spread (10th to 90th percentile on the real images) of continuous measurements such as slant
    scales = {name: float(np.subtract(*np.percentile(enc_raw[:, j], [90, 10])))
              for j, name in enumerate(enc_fnames) if enc_binned[j]}
    trav, grid, row_labels, notes = traversal(model, measurer, layout, config, gen, scales)
    rep.update(report.flatten("trav.", trav))
    lap("traversal")

    rep.update(report.flatten("timing.", timing))
    rep["timing.total"] = round(time.perf_counter() - t0, 3)
    rep["out_dir"] = str(out_dir)
    json_path = Path(config.json_path) if config.json_path else out_dir / "report.json"
    if config.plots:
        report.plot_mi_heatmap(enc[MI_NORMALIZED], enc[CODE_NAMES], enc[FACTOR_NAMES], out_dir / "mi_encoder.png",
                               f"encoder direction: Q on real {ds.name} images")
        report.plot_mi_heatmap(gen_res[MI_NORMALIZED], gen_res[CODE_NAMES], gen_res[FACTOR_NAMES],
                               out_dir / "mi_generator.png", "generator direction: sampled codes vs measured factors")
        report.plot_traversal(grid, row_labels, notes, out_dir / "traversal.png",
                              "one code swept per row; captions: measured factors")
    rep["json_path"] = str(json_path)
    report.write_json(json_path, rep)
    return rep


def unflatten(rep: dict, prefix: str) -> dict:
    return {k[len(prefix):]: v for k, v in rep.items() if k.startswith(prefix)}


def format_report(rep: dict) -> str:
    """The human-readable text of a :func:`disentangle` report (printed by the CLI)."""
    enc, gen, trav = unflatten(rep, "enc."), unflatten(rep, "gen."), unflatten(rep, "trav.")
    out = [report.format_table(enc, f"== encoder direction: Q on real images ({rep.get('enc.dataset')})")]
    if enc.get(SPEARMAN_CODES) and enc.get(SPEARMAN_FACTORS):
        out.append(_spearman_text(enc))
    out.append("")
    out.append(report.format_table(gen, "== generator direction: sampled codes vs factors measured on generated images"))
    if gen.get(SPEARMAN_CODES) and gen.get(SPEARMAN_FACTORS):
        out.append(_spearman_text(gen))
    checks = {k: v for k, v in rep.items() if k.startswith("gen.check.")}
    for k, v in checks.items():
        out.append(f"classifier vs pixel measurement of {k.split('.')[2]}: agreement {v:.3f}")
    clf = {k.split(".")[1]: v for k, v in rep.items() if k.startswith("classifier.")}
    if clf:
        out.append("factor classifiers (test accuracy on real data): "
                   + ", ".join(f"{k} {v:.4f}" for k, v in clf.items()))
    out.append("")
    out.append("== traversal: fraction of sweep steps at which each measured factor moves")
    rows = [["code", *trav[TRAVERSAL_FACTORS], "moves most", "gap"]]
    for c, code in enumerate(trav[TRAVERSAL_CODES]):
        rows.append([code, *[f"{v:.2f}" for v in trav[TRAVERSAL_CHANGE][c]],
                     trav[TRAVERSAL_FACTORS][trav[TRAVERSAL_BEST_FACTOR][c]], f"{trav[TRAVERSAL_GAP][c]:.2f}"])
    out.append(report.grid_text(rows))
    out.append(f"mean gap {trav[TRAVERSAL_MEAN_GAP]:.3f}")
    if f"cinfogan.{LABEL_FIDELITY}" in rep:
        fid = rep[f"cinfogan.{LABEL_FIDELITY}"]
        out.append("")
        out.append(f"== C-InfoGAN: label fidelity {'-' if fid is None else f'{fid:.4f}'}")
        for k, v in rep.items():
            if k.startswith("cinfogan.rho."):
                _, _, code, fname = k.split(".", 3)
                out.append(f"   Spearman({code}, {fname}) = {v:+.3f}")
    return "\n".join(out)


def _spearman_text(res: dict) -> str:
    names = res[SPEARMAN_FACTORS]
    rows = [["Spearman", *names]]
    for code, row in zip(res[SPEARMAN_CODES], res[SPEARMAN]):
        rows.append([code, *[f"{v:+.2f}" for v in row]])
    return report.grid_text(rows)

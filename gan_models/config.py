"""Every training default in one dataclass, the study's presets, and one validation function.

Precedence: TrainConfig defaults < preset < explicit overrides (CLI options or keyword arguments).

    cfg = make_config("infogan-rectangles", dataset="basicprop-rectangles", seed=3, out="runs/rect3")
"""
from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass, fields

MODELS = ("infogan", "cinfogan")
INITS = ("dcgan", "default")
DEVICE_NAMES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("fp32", "bf16")
LR_SCALES = ("none", "sqrt", "linear")
# what a code may be read through (gan_models.augment.INVARIANCES; "none": the fakes as drawn)
CODE_INVARIANCES = ("none", "shift", "shift_x", "shift_y", "scale", "scale_x", "scale_y", "shear_x", "brightness",
                    "blur", "soften", "stroke", "normalize_size", "deslant", "box", "width_bar", "slant_bar",
                    "left_edge", "top_edge")
LR_REFERENCE_BATCH = 64     # the paper's batch: with lr_scale, lr_d and lr_g are the learning rates at this batch
LR_MAX_FACTOR = 4.0         # lr_scale never multiplies them by more (sqrt reaches it at batch 1024)
_CUDA_N = re.compile(r"cuda:(\d+)")


def is_code_invariance(name: str) -> bool:
    """True for "none", a nuisance of CODE_INVARIANCES, or nuisances joined by "+" (applied left to right)."""
    return name == "none" or all(part in CODE_INVARIANCES[1:] for part in name.split("+"))


@dataclass
class TrainConfig:
    # ---- data
    dataset: str = "basicprop-line"     # a basicprop dataset name ("basicprop-line", "mnist", ...) or a file path
    data_dir: str | None = None         # MNIST directory (default: $BASICPROP_MNIST_DIR)
    data_seed: int = 0                  # seed that renders a generated BasicProp dataset
    kind_params: dict | None = None     # BasicProp kind parameters, e.g. {"bg_noise": [0, 60]} (basicprop-* only)
    # ---- model
    model: str = "infogan"              # "infogan" or "cinfogan" (label y given to G and D)
    noise_dim: int = 62                 # z ~ U(-s, s)^noise_dim; 0 = no incompressible noise
    noise_scale: float = 1.0            # s above (paper: 1); small s leaves the coarse structure to the codes
    cat: tuple[int, ...] = (10,)        # sizes of the categorical codes, e.g. (10, 10) for rectangles
    cont: int = 2                       # number of continuous codes ~ U(-1, 1)
    condition: str | None = None        # C-InfoGAN: the dataset factor given as label y (default: the first)
    learn_cont_std: bool = False        # Q predicts a std per continuous code; False = fixed std 1 (as the paper code)
    init: str = "dcgan"                 # "dcgan" (N(0, 0.02)) or "default" (PyTorch)
    d_spectral_norm: bool = False       # spectral norm on D's conv/linear layers (not on Q's head)
    d_batchnorm: bool = True            # batch norm in D's trunk (paper: yes)
    # ---- losses
    lambda_cat: float = 1.0             # weight of the categorical information term (paper: 1)
    lambda_cont: float = 1.0            # weight of the continuous term, Gaussian NLL (paper code: 1 with std 1)
    info_to_generator: bool = True      # False: G ignores the information term (the "GAN + codes, lambda = 0" row)
    lambda_real_mi: float = 0.0         # weight of I(c_hat; x) on *real* images (the "thought on I" row); with
                                        # code_invariance each code read through its own view
    real_mi_start: float = 0.0          # that term trains D and Q from this fraction of the steps on (real_mi_on);
                                        # before, it is only logged. 0: from the first step
    lambda_interaction: float = 0.0     # weight of the code-interaction penalty on G (discrete Hessian Penalty)
    cat_augment: float = 0.0            # Q reads categorical codes from fakes warped at this strength (augment.py)
    lambda_real_consistency: float = 0.0  # weight of KL(Q(c|x) || Q(c|warp(x))) on real images, warps at the
                                        # cat_augment strength (IMSAT's self-augmented training)
    code_invariance: tuple[str, ...] = ()  # per categorical code, the nuisance Q reads it through ("shift_y", ...,
                                        # "none"; augment.INVARIANCES), or () for none
    cont_invariance: tuple[str, ...] = ()  # the same per continuous code ("shear_x": C-InfoGAN's width code)
    real_label: float = 1.0             # D's target for real images (0.9 = one-sided label smoothing)
    instance_noise: float = 0.0         # std of Gaussian noise added to every D input (images are in [0, 1])
    instance_noise_steps: int = 0       # the std decays linearly to 0 over this many steps (0: constant)
    bn_recalibrate: int = 0             # before every evaluation and checkpoint, D's BatchNorm statistics are
                                        # re-estimated from this many real training images (nets.
                                        # recalibrate_batchnorm); 0: the running averages of training
    # ---- optimisation
    batch_size: int = 128
    lr_d: float = 2e-4                  # Adam lr of D and Q (they share the trunk and one optimizer)
    lr_g: float = 1e-3                  # Adam lr of G
    lr_scale: str = "none"              # large batches: "sqrt" / "linear" scale lr_d and lr_g (see scaled_lrs)
    lr_decay_start: float = 1.0         # from this fraction of the steps both rates fall linearly towards 0 at the
                                        # end (learning_rates); 1: constant, as the paper
    beta1: float = 0.5
    beta2: float = 0.999
    epochs: int = 1                     # one epoch = len(dataset) // batch_size steps (batches drawn with replacement)
    steps: int = 0                      # total steps; 0 = epochs * steps per epoch
    # ---- run
    seed: int = 0                       # seeds weights, latents, batches, noise: same seed on CPU -> same weights
    device: str = "auto"                # "auto" (CUDA, then MPS, then CPU), "cpu", "cuda", "cuda:1", "mps"
    precision: str = "fp32"             # "bf16": the networks' forward passes under bf16 autocast (CUDA only)
    compile: bool = False               # torch.compile the networks (gan_models.device.fast_path)
    out: str = "runs/infogan"           # run directory: ckpt.pt, log.jsonl, config.json, grids, metrics.json
    log_every: int = 50                 # steps between JSONL records (and host syncs)
    ckpt_every: int = 1000              # steps between checkpoints (plus one at the end)
    eval_every: int = 0                 # steps between Q-accuracy checks and grids; 0 = once per epoch
    eval_size: int = 5000               # real images used for the Q-accuracy check
    threads: int = 0                    # the command line's torch.set_num_threads when > 0 (CPU); 0: torch's choice
    progress: bool = True               # the command line's progress bar
    keep: int = 1                       # checkpoints kept: ckpt.pt and the N-1 before it as ckpt_<step>.pt
    tensorboard: bool = False           # also write every log record as TensorBoard scalars under <out>/tb/
    preset: str | None = None           # name of the preset this config came from (informational)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["cat"] = list(self.cat)
        d["code_invariance"] = list(self.code_invariance)
        d["cont_invariance"] = list(self.cont_invariance)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown config key(s) {unknown}; choose from {sorted(names)}")
        d = dict(d)
        if "cat" in d:
            d["cat"] = tuple(int(k) for k in d["cat"])
        for key in ("code_invariance", "cont_invariance"):
            if key in d:
                d[key] = tuple(str(k) for k in d[key])
        return cls(**d)


# Fields that may differ between a checkpoint and the config that resumes it.
RESUMABLE_CHANGES = ("epochs", "steps", "device", "out", "log_every", "ckpt_every", "eval_every", "eval_size",
                     "threads", "progress", "data_dir", "keep", "tensorboard", "precision", "compile",
                     "bn_recalibrate")

# The study's experiment table (Evtimova & Drozdov) and this project's tuned settings.
PRESETS: dict[str, dict] = {
    # -- the study's table
    "vanilla-gan": dict(cat=(), cont=0),                                   # no codes, no Q
    "gan-codes": dict(info_to_generator=False),                            # codes fed to G, lambda = 0 for G;
                                                                           # Q still fitted so the MI is logged
    "infogan": dict(),                                                     # the paper: Cat(10) + 2 cont + 62 z
    "infogan-no-z": dict(noise_dim=0),                                     # only latent codes
    "infogan-cat-only": dict(noise_dim=0, cont=0),                         # a single Cat(10), no z
    "infogan-real-mi": dict(lambda_real_mi=1.0),                           # "thought on I": + I(c_hat; x) on real x
    # -- tuned for BasicProp
    "infogan-line": dict(batch_size=64, steps=400),                       # 5/5 seeds 100 % by step 300
    # one Cat(10) per bar and *no* continuous codes: rectangles have no factor besides the two heights, so
    # continuous codes could only be expressed as height jitter, which blurred the categories. Without more,
    # 2/5 seeds reach 90 %: the others settle in optima where one value of a code takes over the other bar,
    # which are perfect for both the GAN and the MI term. Constant instance noise (hides the foreground pixel
    # noise that D otherwise wins on) and the code-interaction penalty (the two bars must add up) fix it. With both
    # fixes the study's two continuous codes can be kept as well: they take the bars' pixel texture (4/5 seeds at
    # 1.00, study rectangles-fixes, row continuous-with-fixes). Weighting the information term 2 (lambda_cat) ends
    # the last stuck optimum, where several values of one code drew the same bar: 10/10 seeds at 1.00 with
    # foreground noise (9/10 at weight 1), study noise, rows rectangles-fg-cat2 and rectangles-fg-bg-cat2.
    "infogan-rectangles": dict(cat=(10, 10), cont=0, batch_size=64, steps=1000, instance_noise=0.2,
                               lambda_interaction=10.0, lambda_cat=2.0),
    # MNIST: no continuous codes (they morphed one digit into another, 4 -> 9, so two categories shared a digit
    # pair) and the categorical code read from randomly warped fakes (rotation +-20 deg, scale 1 +- 0.17, shift
    # +-2 px), so G cannot split a digit on slant or width. 6 epochs: 0.953 +- 0.028 over 5 seeds (README, MNIST).
    "infogan-mnist": dict(cont=0, cat_augment=0.67, epochs=6),
    # ... at the paper's batch in 3 epochs, Q also trained on real images from half way (I(c_hat; x), weight 1) and
    # the learning rates falling to 0 over the last third: study mnist, row infogan-mnist-b64-real-mi-1-from-0.5-decay
    "infogan-mnist-real-mi": dict(cont=0, cat_augment=0.67, epochs=3, batch_size=64, lambda_real_mi=1.0,
                                  real_mi_start=0.5, lr_decay_start=0.67),
    "demo-line": dict(batch_size=64, steps=400, eval_every=100),          # ~2 min on 2 CPU cores
    # -- C-InfoGAN (the conditional report): label y to G and D, codes catch what the label does not say
    "cinfogan": dict(model="cinfogan", cat=(), cont=2),
    # rectangles with the left height as the label: one Cat(10) code is left to catch the right height (3/3 seeds)
    "cinfogan-rectangles": dict(model="cinfogan", condition="left_height", cat=(10,), cont=0, batch_size=64,
                                steps=1000, instance_noise=0.2),
}


def make_config(preset: str | None = None, **overrides) -> TrainConfig:
    """Defaults, then the preset, then ``overrides``; validated."""
    d = TrainConfig().to_dict()
    if preset is not None:
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; choose from {sorted(PRESETS)}")
        d.update(PRESETS[preset])
        d["preset"] = preset
    unknown = sorted(set(overrides) - set(d))
    if unknown:
        raise ValueError(f"unknown config key(s) {unknown}; choose from {sorted(d)}")
    d.update(overrides)
    cfg = TrainConfig.from_dict(d)
    validate(cfg)
    return cfg


def validate(cfg: TrainConfig) -> None:
    """All cross-option checks in one place; raises ValueError with a readable message."""
    def need(ok: bool, msg: str) -> None:
        if not ok:
            raise ValueError(msg)

    need(cfg.model in MODELS, f"unknown model {cfg.model!r}; choose from {list(MODELS)}")
    need(cfg.init in INITS, f"unknown init {cfg.init!r}; choose from {list(INITS)}")
    check_device_name(cfg.device)
    need(cfg.noise_dim >= 0, f"noise_dim must be >= 0, got {cfg.noise_dim}")
    need(cfg.noise_scale > 0, f"noise_scale must be > 0, got {cfg.noise_scale}")
    need(all(k >= 2 for k in cfg.cat), f"every categorical code needs at least 2 values, got {list(cfg.cat)}")
    need(cfg.cont >= 0, f"cont (number of continuous codes) must be >= 0, got {cfg.cont}")
    need(cfg.noise_dim + sum(cfg.cat) + cfg.cont > 0 or cfg.model == "cinfogan",
         "the generator has no input: give noise_dim > 0 or at least one code")
    for name in ("lambda_cat", "lambda_cont", "lambda_real_mi", "lambda_interaction", "instance_noise", "cat_augment",
                 "lambda_real_consistency"):
        need(getattr(cfg, name) >= 0, f"{name} must be >= 0, got {getattr(cfg, name)}")
    need(cfg.lambda_real_mi == 0 or cfg.cat, "lambda_real_mi > 0 needs a categorical code (--cat K)")
    need(0 <= cfg.real_mi_start < 1, f"real_mi_start must be in [0, 1), got {cfg.real_mi_start}")
    need(cfg.real_mi_start == 0 or cfg.lambda_real_mi > 0,
         "real_mi_start delays the real-image MI term: needs lambda_real_mi > 0")
    need(cfg.lambda_real_consistency == 0 or (cfg.cat and cfg.cat_augment > 0),
         "lambda_real_consistency > 0 warps real images at the cat_augment strength: needs a categorical code "
         "(--cat K) and --cat-augment > 0")
    per_code = {"code_invariance": (len(cfg.cat), f"categorical code: {len(cfg.cat)} code(s) {list(cfg.cat)}"),
                "cont_invariance": (cfg.cont, f"continuous code: {cfg.cont} code(s)")}
    for key, (n_codes, codes) in per_code.items():
        names = getattr(cfg, key)
        if names:
            need(len(names) == n_codes, f"{key} names one nuisance per {codes}, got {len(names)} {list(names)}")
            bad = [n for n in names if not is_code_invariance(n)]
            need(not bad, f"unknown {key} {bad}; choose from {list(CODE_INVARIANCES)}, or join nuisances with '+' "
                          f"(shift+brightness)")
    need(not (cfg.code_invariance and cfg.cat_augment), "code_invariance and cat_augment both choose what Q reads "
                                                         "the categorical codes from; use one of them")
    need(0 < cfg.real_label <= 1, f"real_label must be in (0, 1], got {cfg.real_label}")
    need(cfg.instance_noise_steps >= 0, "instance_noise_steps must be >= 0")
    need(cfg.bn_recalibrate == 0 or cfg.bn_recalibrate >= cfg.batch_size,
         f"bn_recalibrate is 0 (off) or at least one batch ({cfg.batch_size} images), got {cfg.bn_recalibrate}")
    need(cfg.batch_size >= 2, f"batch_size must be >= 2 (batch norm), got {cfg.batch_size}")
    need(cfg.lr_scale in LR_SCALES, f"unknown lr_scale {cfg.lr_scale!r}; choose from {list(LR_SCALES)}")
    need(cfg.precision in PRECISIONS, f"unknown precision {cfg.precision!r}; choose from {list(PRECISIONS)}")
    need(cfg.precision == "fp32" or cfg.device not in ("cpu", "mps"),
         f"precision {cfg.precision} runs on CUDA only, not with device {cfg.device!r}; use precision fp32 there")
    need(cfg.lr_d > 0 and cfg.lr_g > 0, "learning rates must be > 0")
    need(0 <= cfg.lr_decay_start <= 1, f"lr_decay_start must be in [0, 1], got {cfg.lr_decay_start}")
    need(0 <= cfg.beta1 < 1 and 0 <= cfg.beta2 < 1, "Adam betas must be in [0, 1)")
    need(cfg.epochs >= 1 or cfg.steps >= 1, "train for at least one step: epochs >= 1 or steps >= 1")
    need(cfg.steps >= 0 and cfg.epochs >= 0, "epochs and steps must be >= 0")
    for name in ("log_every", "ckpt_every"):
        need(getattr(cfg, name) >= 1, f"{name} must be >= 1, got {getattr(cfg, name)}")
    need(cfg.eval_every >= 0 and cfg.eval_size >= 0, "eval_every and eval_size must be >= 0")
    need(cfg.threads >= 0, f"threads must be >= 0 (0: torch's choice), got {cfg.threads}")
    need(cfg.keep >= 1, f"keep (checkpoints kept) must be >= 1, got {cfg.keep}")
    need(cfg.condition is None or cfg.model == "cinfogan", "condition is only used by --model cinfogan")
    need(bool(cfg.out), "out (the run directory) must be set")
    need(cfg.kind_params is None or (isinstance(cfg.kind_params, dict) and cfg.dataset.startswith("basicprop-")),
         "kind_params is a dict of BasicProp kind parameters and only applies to basicprop-* datasets")


def scaled_lrs(cfg: TrainConfig) -> tuple[float, float]:
    """(lr_d, lr_g) the optimisers use: the learning rate rule for large batches.

    lr_scale "none" (default): lr_d and lr_g as given, at any batch size. "sqrt" (square-root scaling, the rule
    for Adam) and "linear": lr_d and lr_g are the rates at batch LR_REFERENCE_BATCH = 64 (the paper's 2e-4 for D
    and Q, 1e-3 for G), multiplied by (batch_size / 64) ** 0.5, resp. batch_size / 64, the factor capped at
    LR_MAX_FACTOR = 4. With the defaults and sqrt: batch 256 -> 4e-4 / 2e-3, batch 1024 and 4096 -> 8e-4 / 4e-3.
    """
    if cfg.lr_scale == "none":
        return cfg.lr_d, cfg.lr_g
    ratio = cfg.batch_size / LR_REFERENCE_BATCH
    factor = min(ratio ** 0.5 if cfg.lr_scale == "sqrt" else ratio, LR_MAX_FACTOR)
    return cfg.lr_d * factor, cfg.lr_g * factor


def learning_rates(cfg: TrainConfig, step: int, total: int) -> tuple[float, float]:
    """(lr_d, lr_g) for the step after ``step`` of ``total``: ``scaled_lrs`` up to the step
    ``start = round(lr_decay_start * total)``, then a linear fall, the last step taking 1 / (total - start) of them.
    A function of the step alone, so a resumed run takes the rates an uninterrupted one would."""
    lr_d, lr_g = scaled_lrs(cfg)
    start = round(cfg.lr_decay_start * total)
    if step < start:
        return lr_d, lr_g
    factor = (total - step) / (total - start)
    return lr_d * factor, lr_g * factor


def real_mi_on(cfg: TrainConfig, step: int, total: int) -> bool:
    """Whether the real-image MI term trains D and Q in the step after ``step`` of ``total``: from the step
    ``round(real_mi_start * total)`` on. A function of the step alone, as :func:`learning_rates`."""
    return step >= round(cfg.real_mi_start * total)


def check_device_name(name: str) -> None:
    """Raise ValueError unless ``name`` is one of DEVICE_NAMES or ``cuda:N``."""
    if name not in DEVICE_NAMES and not _CUDA_N.fullmatch(str(name)):
        raise ValueError(f"unknown device {name!r}; choose from {list(DEVICE_NAMES)} or cuda:N (N = 0, 1, ...)")


def check_resumable(saved: dict, cfg: TrainConfig) -> None:
    """ValueError naming every field that differs from the saved config and may not change on resume."""
    saved = TrainConfig.from_dict(saved).to_dict()   # read as loading reads it: newer options take their default
    now = cfg.to_dict()
    changed = sorted(k for k in now if k not in RESUMABLE_CHANGES and saved.get(k) != now[k])
    if changed:
        detail = ", ".join(f"{k}: {saved.get(k)!r} -> {now[k]!r}" for k in changed)
        raise ValueError(f"cannot resume under a changed config ({detail}); "
                         f"only {list(RESUMABLE_CHANGES)} may change")


def _hints() -> dict:
    return typing.get_type_hints(TrainConfig)


def optional_fields() -> tuple[str, ...]:
    """Fields whose type admits None (read from the type hints)."""
    return tuple(name for name, hint in _hints().items() if type(None) in typing.get_args(hint))


def field_types() -> dict[str, type]:
    """Field name -> the python type a string override is parsed into (for the CLI's --set), from the type hints:
    ``str | None`` -> str, ``tuple[int, ...]`` -> tuple."""
    out = {}
    for name, hint in _hints().items():
        if typing.get_origin(hint) in (typing.Union, types.UnionType):
            hint = next(a for a in typing.get_args(hint) if a is not type(None))
        out[name] = typing.get_origin(hint) or hint
    return out


def tuple_item_type(name: str) -> type:
    """The item type of a tuple field: ``cat`` -> int, ``code_invariance`` -> str."""
    return typing.get_args(_hints()[name])[0]

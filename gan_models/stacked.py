"""Many seeds of one config trained as one stacked model: one process, one step for all of them.

    from gan_models import make_config, train_stacked
    cfgs = [make_config("infogan-line", seed=s, out=f"runs/line/seed{s}") for s in range(4)]
    ckpts = train_stacked(cfgs)            # [runs/line/seed0/ckpt.pt, ..., runs/line/seed3/ckpt.pt]

The net of this project is small: on a GPU a single run spends its time launching kernels, not computing. K runs
that differ only by seed share every shape, so their tensors are stacked along a new leading dimension
(``torch.func.stack_module_state``): BatchNorm keeps each member's statistics in its slice, and one Adam over the
stacked tensors is K Adams (it works element-wise). What is random is drawn member by member, each from its own
``torch.Generator`` in exactly the order a single run draws it (``InfoGAN.d_inputs``, ``g_inputs``,
``interaction_input``), so member k sees the batches, latents, instance noise and warps of ``train(cfgs[k])``.
The deterministic pieces of the update (G's forward, D's loss, G's loss) run through ``functional_call`` either

- batched (the default on CUDA): once for all K, ``torch.func.vmap``-ed. The numbers equal a single run's up to
  rounding: vmapped convolutions and batch norms reduce in another order than the plain kernels (about 1e-7
  relative), and Adam turns the rounding noise of gradients that are zero in exact arithmetic (a bias in front of
  a batch norm) into steps of the learning rate's size, so runs drift apart as GAN runs from two machines do;
- member by member (the default elsewhere: a CPU gains nothing from batching): each member is its own model
  with its own optimizers and takes its own ``InfoGAN.train_step``, bit for bit a single run's numbers at a
  single run's speed; what the stack shares is the process, the data on the device and the loop.

Each member's run directory is a single run's: ``config.json``, ``log.jsonl``, grids, ``curves.png``, ``best.pt``,
``ckpt.pt``, ``metrics.json`` (see ``gan_models.trainer``), so a member's checkpoint loads, scores and resumes alone
(``train(cfg, resume=True)``).
"""
from __future__ import annotations

import contextlib
import copy
import functools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap
from torch.nn.utils import parametrize

from basicprop.files import folder_lock, remove_temps, write_json

from .checkpoint import CKPT_NAME
from .config import TrainConfig, learning_rates, real_mi_on, validate
from .device import resolve_device
from .infogan import Batch, InfoGAN, Views, step_stats
from .latent import Latent, sample_latent
from .trainer import (Meter, Run, RunLog, ScoreCodes, TrainingInterrupted, check_finite, check_tensorboard, evaluate,
                      instance_noise_std, open_run_log, schedule, set_learning_rates, start_run, train_record)

MEMBER_KEYS = ("seed", "out")     # the only config fields in which the members of a stack may differ


def check_stackable(configs: list[TrainConfig]) -> None:
    """ValueError unless ``configs`` are at least one config, all valid, differing only by seed and out, with
    distinct outs."""
    if not configs:
        raise ValueError("train_stacked needs at least one config")
    for cfg in configs:
        validate(cfg)
    first = configs[0].to_dict()
    differ = sorted({k for cfg in configs[1:] for k, v in cfg.to_dict().items()
                     if k not in MEMBER_KEYS and v != first[k]})
    if differ:
        raise ValueError(f"stacked configs may differ only by {list(MEMBER_KEYS)}; they differ by {differ}")
    if configs[0].precision != "fp32" or configs[0].compile:
        raise ValueError("stacked training runs in fp32 without torch.compile; drop --precision / --compile, or "
                         "train the seeds one by one")
    outs = [str(Path(cfg.out).resolve()) for cfg in configs]
    twice = sorted({o for o in outs if outs.count(o) > 1})
    if twice:
        raise ValueError(f"each stacked run needs its own out directory; {twice} is given more than once")


class _Pieces(nn.Module):
    """The deterministic pieces of one update, as methods called through ``functional_call`` (one member's tensors)."""

    def __init__(self, model: InfoGAN):
        super().__init__()
        self.model = model

    def forward(self, piece: str, *args):
        return getattr(self, piece)(*args)

    def generate(self, g_input: torch.Tensor) -> torch.Tensor:
        return self.model.G(g_input)

    def d_loss(self, views: Views, y: torch.Tensor | None, latent: Latent):
        return self.model.d_loss(views, y, latent)

    def g_loss(self, views: Views, latent: Latent, mix: torch.Tensor | None):
        model = self.model
        interaction = model.interaction_penalty(mix) if model.lambda_interaction > 0 else None
        return model.g_loss(views, latent, interaction)


def _stack(items: list):
    """K results (tensors, or None, tuples, named tuples, dicts of them) -> one with (K, ...) tensors."""
    first = items[0]
    if first is None or isinstance(first, torch.Tensor):
        return None if first is None else torch.stack(items)
    if isinstance(first, dict):
        return {key: _stack([item[key] for item in items]) for key in first}
    return _rebuild(first, [_stack(list(p)) for p in zip(*items)])


def _rebuild(x, parts):
    """A tuple or named tuple like ``x`` holding ``parts``."""
    return type(x)(*parts) if hasattr(x, "_fields") else tuple(parts)


def _in_dims(x):
    """vmap's in_dims for a tensor / (named) tuple of tensors / None: the members along dim 0, None for None."""
    if x is None or isinstance(x, torch.Tensor):
        return None if x is None else 0
    return _rebuild(x, [_in_dims(part) for part in x])


class Stack:
    """K models of one architecture trained as one.

    ``batched``: ``module`` holds every parameter and buffer of the members stacked along dim 0 (member k's tensor
    is ``t[k]``), ``optims`` one Adam for D + Q and one for G over the stacked tensors (one Adam over stacked
    tensors is K Adams: it works element-wise), loaded with the states of the members' optimizers ``optims``
    (resume); each piece of the update runs once, vmapped over the members (fast where kernel launches cost, equal
    to single runs up to rounding). Else member by member: ``models[k]`` with ``optims[k]`` takes its own
    ``InfoGAN.train_step`` (bit-identical to single runs, and as fast: on a CPU, which gains nothing from batching,
    this is the default of ``train_stacked``)."""

    def __init__(self, models: list[InfoGAN], optims: list[dict], *, batched: bool = True):
        self.k, self.batched = len(models), batched
        self.models, self.member_optims = models, optims
        if not batched:
            return
        if any(parametrize.is_parametrized(m) for m in models[0].modules()):
            raise ValueError("spectral norm (d_spectral_norm) cannot be vmapped: its power iteration writes in place; "
                             "stack these seeds member by member (batched=False) or train them one by one")
        self.module = copy.deepcopy(models[0])
        params, buffers = stack_module_state(models)
        for name, t in {**params, **buffers}.items():
            owner, _, attr = name.rpartition(".")
            setattr(self.module.get_submodule(owner), attr, nn.Parameter(t.detach()) if name in params else t)
        self.optims = {}
        for key, opt in optims[0].items():       # "D": D and Q, "G": G, as InfoGAN.make_optimizers
            hyper = {k: v for k, v in opt.param_groups[0].items() if k != "params"}
            tensors = [p for name, p in self.module.named_parameters() if name.startswith(f"{key}.")]
            self.optims[key] = type(opt)(tensors, **hyper)
        self._load_optimizers(optims)
        self.pieces = _Pieces(self.module)

    def set_learning_rates(self, lr_d: float, lr_g: float) -> None:
        """The rates of the next step, on every member's optimizers and (batched) the stacked ones."""
        for optims in (*self.member_optims, *([self.optims] if self.batched else [])):
            set_learning_rates(optims, lr_d, lr_g)

    def set_real_mi_on(self, on: bool) -> None:
        """Whether the next step trains on the real-image MI term (InfoGAN.real_mi_on), on every member."""
        for model in (*self.models, *([self.module] if self.batched else [])):
            model.real_mi_on = on

    def _load_optimizers(self, optims: list[dict]) -> None:
        """Stack the members' Adam states (resume); ValueError when they are not at the same step."""
        for key, opt in self.optims.items():
            members = [o[key] for o in optims]
            for i, p in enumerate(opt.param_groups[0]["params"]):
                states = [m.state.get(m.param_groups[0]["params"][i]) or {} for m in members]
                if not any(states):
                    continue
                if not all(s.keys() == states[0].keys() for s in states) or \
                        any(not torch.equal(s["step"], states[0]["step"]) for s in states):
                    raise ValueError("the stacked runs' optimizers are not at the same step; resume them one by one")
                opt.state[p] = {name: v.clone() if v.dim() == 0 else torch.stack([s[name] for s in states])
                                for name, v in states[0].items()}
            for m in members:
                m.state.clear()

    def _call(self, piece: str, *args, frozen: str | None = None):
        """``piece`` for every member, vmapped; the parameters of net ``frozen`` ("D") get no gradient."""
        def one(params, buffers, *member_args):
            tensors = {f"model.{name}": p.detach() if frozen and name.startswith(f"{frozen}.") else p
                       for name, p in params.items()}
            tensors.update((f"model.{name}", b) for name, b in buffers.items())
            return functional_call(self.pieces, tensors, (piece, *member_args))
        buffers = dict(self.module.named_buffers())
        params = dict(self.module.named_parameters())
        return vmap(one, in_dims=(0, 0, *map(_in_dims, args)))(params, buffers, *args)

    def train_step(self, batches: list[Batch], generators: list[torch.Generator],
                   noise_std: float = 0.0) -> dict[str, torch.Tensor]:
        """One ``InfoGAN.train_step`` of every member: member k trains on ``batches[k]`` drawing from
        ``generators[k]``. Returns the step's stats as (K,) tensors."""
        if not self.batched:
            return _stack([m.train_step(b, o, generator=g, noise_std=noise_std)
                           for m, o, b, g in zip(self.models, self.member_optims, batches, generators)])
        model, spec = self.module, self.module.spec
        n = batches[0].x.shape[0]
        lats = [sample_latent(spec, n, g, y=b.y if spec.cond else None) for b, g in zip(batches, generators)]
        latent = _stack(lats)
        fake = self._call("generate", torch.stack([lat.to_input(spec) for lat in lats]))

        # 1. D and Q
        self.optims["D"].zero_grad(set_to_none=True)
        views = _stack([model.d_inputs(b.x, f, noise_std, g) for b, f, g in zip(batches, fake.detach(), generators)])
        y = _stack([b.y for b in batches])
        loss_d, d_stats = self._call("d_loss", views, y, latent)
        loss_d.sum().backward()
        self.optims["D"].step()

        # 2. G (D frozen)
        self.optims["G"].zero_grad(set_to_none=True)
        views = _stack([model.g_inputs(f, noise_std, g) for f, g in zip(fake.unbind(0), generators)])
        mix = _stack([model.interaction_input(max(n // 4, 1), g, b.y) for b, g in zip(batches, generators)]) \
            if model.lambda_interaction > 0 else None
        loss_g, g_stats = self._call("g_loss", views, latent, mix, frozen="D")
        loss_g.sum().backward()
        self.optims["G"].step()
        return step_stats(d_stats, g_stats)

    @torch.no_grad()
    def unstack(self, k: int, model: InfoGAN, optims: dict | None = None) -> None:
        """Copy member k's weights and buffers (and with ``optims`` its Adam states) into a single model. Batched
        only: member by member the members' own models and optimizers train in place, so there is nothing to copy."""
        if not self.batched:
            raise ValueError("member by member the models train in place: nothing to unstack")
        for name, t in self.module.named_parameters():
            model.get_parameter(name).copy_(t[k])
        for name, t in self.module.named_buffers():
            model.get_buffer(name).copy_(t[k])
        for key, member in (optims or {}).items():
            for p, q in zip(self.optims[key].param_groups[0]["params"], member.param_groups[0]["params"]):
                state = self.optims[key].state.get(p)
                if state:
                    member.state[q] = {name: v.clone() if v.dim() == 0 else v[k].clone() for name, v in state.items()}


@dataclass
class _Member:
    """One member's run and its bookkeeping: its directory, log and meter."""
    run: Run
    out: Path
    log: RunLog
    meter: Meter

    @property
    def ckpt(self) -> Path:
        return self.out / CKPT_NAME


def train_stacked(configs: list[TrainConfig], *, resume: bool = False, score_codes: ScoreCodes | None = None,
                  log: Callable[[int, dict], None] | None = None,
                  should_stop: Callable[[], bool] | None = None, batched: bool | None = None) -> list[Path]:
    """Train the K configs (differing only by ``seed`` and ``out``) as one stacked model; returns the K final
    checkpoints, ``<out_k>/ckpt.pt``. The command line's ``train --seeds 0 1 2 3 --out runs/line`` gives member k
    ``runs/line/seed<k>`` (``runs/line/seed0`` ... ``runs/line/seed3``).

    Each member's directory is what ``train(configs[k])`` writes: bit for bit member by member, up to rounding
    ``batched`` (vmapped; default: on CUDA, without spectral norm; see the module docstring). ``resume=True``
    continues every member (all at one step). ``score_codes`` as for ``train``; ``log(k, record)`` sees every log
    record of member k; ``should_stop`` is polled at every step boundary, and when it answers True every member is
    saved there and ``TrainingInterrupted`` raised. A member whose loss becomes non-finite stops them all
    (``TrainingDiverged``; nothing saved at that step, so they resume together).
    Raises ValueError for configs that differ by more than seed and out, for precision bf16 or compile, and for
    members at different steps on resume.
    """
    check_stackable(configs)
    cfg = configs[0]
    if cfg.tensorboard:
        check_tensorboard()
    device = resolve_device(cfg.device)
    outs = [Path(c.out) for c in configs]
    with contextlib.ExitStack() as closing:
        for out in outs:
            closing.enter_context(folder_lock(out, "run directory"))
            remove_temps(out)
        runs = []
        for c, out in zip(configs, outs):
            runs.append(start_run(c, device, out / CKPT_NAME, resume))
            runs[-1].data = runs[0].data                 # one copy of the data on the device
        steps = {run.step for run in runs}
        if len(steps) > 1:
            detail = ", ".join(f"{out}: {run.step}" for out, run in zip(outs, runs))
            raise ValueError(f"stacked runs must resume from one step; the checkpoints are at {detail}")
        step, data = runs[0].step, runs[0].data
        n_data = data.images.shape[0]
        steps_per_epoch, total, eval_every = schedule(cfg, n_data, step, outs[0] / CKPT_NAME)
        eval_idx = np.random.default_rng(0).permutation(n_data)[:cfg.eval_size]
        members = []
        for k, (run, out) in enumerate(zip(runs, outs)):
            runlog = open_run_log(run, out, total, resume, None if log is None else functools.partial(log, k),
                                  closing)
            members.append(_Member(run, out, runlog, Meter(device)))
        stack = Stack([r.model for r in runs], [r.optims for r in runs],
                      batched=device.type == "cuda" and not cfg.d_spectral_norm if batched is None else batched)
        t_last, step_last = time.time(), step
        while step < total:
            if should_stop is not None and should_stop():
                if stack.batched:
                    for k, m in enumerate(members):
                        stack.unstack(k, m.run.model, m.run.optims)
                for m in members:
                    check_finite(m.run, m.meter, True, total, m.ckpt, m.log)
                for m in members:
                    if m.run.saved_step != m.run.step:
                        m.run.save(m.ckpt)
                raise TrainingInterrupted(_common_parent(outs), step)
            batches = []
            for run in runs:
                idx = torch.randint(n_data, (cfg.batch_size,), generator=run.gen, device=device)
                batches.append(Batch(data.images[idx].float().div_(255.0),
                                     None if data.labels is None else data.labels[idx]))
            stack.set_learning_rates(*learning_rates(cfg, step, total))
            stack.set_real_mi_on(real_mi_on(cfg, step, total))
            stats = stack.train_step(batches, [run.gen for run in runs], noise_std=instance_noise_std(cfg, step))
            step += 1
            for k, m in enumerate(members):
                m.run.step = step
                m.meter.add({name: v[k] for name, v in stats.items()}, step)
            due_log, due_eval, due_ckpt = (step % k == 0 or step == total
                                           for k in (cfg.log_every, eval_every, cfg.ckpt_every))
            if not (due_log or due_eval or due_ckpt):
                continue
            if stack.batched and (due_eval or due_ckpt):
                for k, m in enumerate(members):
                    stack.unstack(k, m.run.model, m.run.optims if due_ckpt else None)
            for m in members:
                check_finite(m.run, m.meter, due_ckpt, total, m.ckpt, m.log)
            if due_log:
                now = time.time()
                for m in members:
                    m.log.write(train_record(cfg, step, steps_per_epoch, m.meter, step_last, t_last, now))
                t_last, step_last = now, step
            for m in members:
                if due_eval:
                    evaluate(m.run, m.out, eval_idx, steps_per_epoch, m.log, score_codes)
                if due_ckpt:
                    m.run.save(m.ckpt)
                    if stack.batched:                       # the stack holds them; saved copies only
                        for opt in m.run.optims.values():
                            opt.state.clear()
        for m in members:
            write_json(m.out / "metrics.json", m.run.metrics, indent=2)
    return [out / CKPT_NAME for out in outs]


def _common_parent(paths: list[Path]) -> Path:
    """The deepest folder holding every path (the ``--out`` of ``train --seeds``)."""
    parts = [p.resolve().parts for p in paths]
    common = []
    for level in zip(*parts):
        if len(set(level)) > 1:
            break
        common.append(level[0])
    return Path(*common) if common else Path(".")

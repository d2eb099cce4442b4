"""A study as a TOML file: rows (a training setting each) x seeds, a target per row, lengths per budget.

    name = "noise"
    description = "line and rectangles with and without foreground / background noise"
    seeds = [0, 1, 2, 3, 4]

    [budgets.smoke]                      # every row, for this budget: TrainConfig fields and eval settings
    train = { steps = 20, batch_size = 32 }
    eval = { n_samples = 300, measure = "analytic" }

    [[rows]]
    name = "line-fg"
    preset = "infogan-line"
    dataset = "basicprop-line"
    overrides = { kind_params = { fg_noise = [150, 240] } }      # TrainConfig fields
    eval = { measure = "analytic" }                              # DisentangleConfig fields, every budget
    target = { metric = "enc_acc", min = 0.95 }                  # every factor (or: factors = ["position"])
    budgets.cpu = { train = { steps = 800 } }                    # this row only

A run is one row at one seed: ``make_config(row.preset, dataset=row.dataset, **budget.train, **row.budget.train,
**row.overrides)``, scored with ``DisentangleConfig(**budget.eval, **row.budget.eval, **row.eval)``. Every key
is checked when the file is read: a typo names the file and the key, and nothing starts.
"""
from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

STUDIES_DIR = Path(__file__).resolve().parent.parent / "studies"
BUDGETS = ("smoke", "cpu", "gpu")
METRICS = ("enc_acc", "gen_acc", "enc_mig", "gen_mig", "label_fidelity", "gen_rho")
_STUDY_KEYS = {"name", "description", "seeds", "budgets", "rows", "question"}
_ROW_KEYS = {"name", "preset", "dataset", "overrides", "eval", "target", "budgets", "description", "score"}
_BUDGET_KEYS = {"train", "eval"}
_TARGET_KEYS = {"metric", "min", "factors"}
# fields a study sets for every run itself; a spec that sets them is refused
_RUN_FIELDS = {"out", "seed", "progress", "threads", "device", "preset"}


@dataclass(frozen=True)
class Target:
    """Judged per run: ``metric`` >= ``min`` on each of ``factors`` (empty: every scored factor)."""
    metric: str = "enc_acc"
    min: float = 0.95
    factors: tuple[str, ...] = ()


@dataclass(frozen=True)
class Row:
    name: str
    preset: str | None
    dataset: str
    overrides: Mapping[str, Any] = field(default_factory=dict)
    eval: Mapping[str, Any] = field(default_factory=dict)      # DisentangleConfig fields under every budget
    target: Target | None = None
    budgets: Mapping[str, Mapping[str, Mapping[str, Any]]] = field(default_factory=dict)
    description: str = ""
    score: bool = True          # False: train only (a vanilla GAN has no codes to score)


@dataclass(frozen=True)
class Study:
    name: str
    path: str
    seeds: tuple[int, ...]
    rows: tuple[Row, ...]
    budgets: Mapping[str, Mapping[str, Mapping[str, Any]]] = field(default_factory=dict)
    description: str = ""
    question: str = ""

    def row(self, name: str) -> Row:
        for r in self.rows:
            if r.name == name:
                return r
        raise ValueError(f"unknown row {name!r} in study {self.name!r}; choose from {[r.name for r in self.rows]}")

    def train_settings(self, row: Row, budget: str) -> dict:
        """TrainConfig overrides of ``row`` under ``budget`` (study budget < row budget < row overrides)."""
        return {**self.budgets.get(budget, {}).get("train", {}), **row.budgets.get(budget, {}).get("train", {}),
                **row.overrides}

    def eval_settings(self, row: Row, budget: str) -> dict:
        """DisentangleConfig fields of ``row`` under ``budget`` (study budget < row budget < row eval)."""
        return {**self.budgets.get(budget, {}).get("eval", {}), **row.budgets.get(budget, {}).get("eval", {}),
                **row.eval}


def list_studies() -> dict[str, str]:
    """{name: description} of the studies shipped in ``studies/``."""
    out = {}
    for path in sorted(STUDIES_DIR.glob("*.toml")):
        out[path.stem] = load_study(path).description
    return out


def resolve(name_or_path: str | Path) -> Path:
    """A shipped study's name or a path to a ``.toml`` file -> the file's path."""
    path = Path(name_or_path)
    if path.suffix == ".toml":
        if not path.is_file():
            raise ValueError(f"study file {str(path)!r} does not exist")
        return path
    shipped = STUDIES_DIR / f"{name_or_path}.toml"
    if not shipped.is_file():
        names = sorted(p.stem for p in STUDIES_DIR.glob("*.toml"))
        raise ValueError(f"unknown study {str(name_or_path)!r}; choose from {names} or give a .toml file")
    return shipped


def _check_keys(where: str, got: Mapping, allowed: set[str]) -> None:
    if not isinstance(got, Mapping):
        raise ValueError(f"{where}: expected a table, got {type(got).__name__}")
    unknown = sorted(set(got) - allowed)
    if unknown:
        raise ValueError(f"{where}: unknown key {unknown[0]!r}; allowed: {sorted(allowed)}")


def _field_names(cls) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def _check_budgets(where: str, budgets: Mapping, train_fields: set[str], eval_fields: set[str]) -> dict:
    _check_keys(where, budgets, set(BUDGETS))
    out = {}
    for budget, parts in budgets.items():
        _check_keys(f"{where}.{budget}", parts, _BUDGET_KEYS)
        _check_keys(f"{where}.{budget}.train", parts.get("train", {}), train_fields - _RUN_FIELDS)
        _check_keys(f"{where}.{budget}.eval", parts.get("eval", {}), eval_fields)
        out[budget] = {k: dict(v) for k, v in parts.items()}
    return out


def _target(where: str, raw) -> Target | None:
    if raw is None:
        return None
    _check_keys(where, raw, _TARGET_KEYS)
    metric = raw.get("metric", Target.metric)
    if metric not in METRICS:
        raise ValueError(f"{where}.metric: unknown metric {metric!r}; choose from {list(METRICS)}")
    factors = raw.get("factors", ())
    if isinstance(factors, str) or not all(isinstance(f, str) for f in factors):
        raise ValueError(f"{where}.factors: expected a list of factor names")
    return Target(metric=metric, min=float(raw.get("min", Target.min)), factors=tuple(factors))


def _row(where: str, raw: Mapping, train_fields: set[str], eval_fields: set[str]) -> Row:
    _check_keys(where, raw, _ROW_KEYS)
    for key in ("name", "dataset"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise ValueError(f"{where}: {key!r} is required (a string)")
    overrides = dict(raw.get("overrides", {}))
    _check_keys(f"{where}.overrides", overrides, train_fields - _RUN_FIELDS)
    evaluation = dict(raw.get("eval", {}))
    _check_keys(f"{where}.eval", evaluation, eval_fields)
    return Row(name=raw["name"], preset=raw.get("preset"), dataset=raw["dataset"], overrides=overrides, eval=evaluation,
               target=_target(f"{where}.target", raw.get("target")),
               budgets=_check_budgets(f"{where}.budgets", raw.get("budgets", {}), train_fields, eval_fields),
               description=str(raw.get("description", "")), score=bool(raw.get("score", True)))


def load_study(name_or_path: str | Path) -> Study:
    """Read and check a study; ValueError naming the file and the key for anything unknown or missing."""
    from eval.disentangle import DisentangleConfig
    from gan_models import PRESETS, TrainConfig

    path = resolve(name_or_path)
    try:
        raw = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not valid TOML ({exc})") from None
    train_fields, eval_fields = _field_names(TrainConfig), _field_names(DisentangleConfig) - {"ckpt"}
    _check_keys(str(path), raw, _STUDY_KEYS)
    seeds = raw.get("seeds", [])
    if not seeds or not all(isinstance(s, int) and s >= 0 for s in seeds):
        raise ValueError(f"{path}: 'seeds' must be a non-empty list of non-negative integers")
    budgets = _check_budgets(f"{path}: budgets", raw.get("budgets", {}), train_fields, eval_fields)
    rows = tuple(_row(f"{path}: rows[{i}]", r, train_fields, eval_fields) for i, r in enumerate(raw.get("rows", [])))
    if not rows:
        raise ValueError(f"{path}: no [[rows]]")
    names = [r.name for r in rows]
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: row names must be unique, got {names}")
    for r in rows:
        if r.preset is not None and r.preset not in PRESETS:
            raise ValueError(f"{path}: row {r.name!r}: unknown preset {r.preset!r}; choose from {sorted(PRESETS)}")
    return Study(name=str(raw.get("name", path.stem)), path=str(path), seeds=tuple(seeds), rows=rows,
                 budgets=budgets, description=str(raw.get("description", "")), question=str(raw.get("question", "")))

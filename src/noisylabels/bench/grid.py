"""Reading and checking a bench grid, and expanding it into cells.

A ``methods:`` entry may be the string ``all``: every method in the registry
(``noisylabels.methods.METHODS.names()``, in that order) with its default options and loss, placed
where ``all`` stands. An explicit entry whose label equals a registered method's name replaces that
method's ``all`` entry (e.g. ``[all, {name: dividemix, options: {augment: flip}}]`` runs dividemix
with flip views only); two explicit entries with one label are still an error, and so is ``all``
given twice.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import yaml

from .. import rundir
from ..config import Config
from ..errors import NoisyLabelsError

GRID_KEYS = ("name", "base", "datasets", "noise", "methods", "seeds", "clean_ce")
DATASET_KEYS = ("name", "label", "options", "path")
NOISE_KEYS = ("type", "label", "rates", "options")
METHOD_KEYS = ("name", "label", "options", "loss", "loss_options")
ALL_METHODS = "all"
# Config keys a grid sets per cell (or that skip/resume depends on), so ``base`` may not set them.
BASE_FORBIDDEN = {
    ("data", "name"): "the datasets list sets it",
    ("noise", None): "the noise list sets it",
    ("method", None): "the methods list sets it",
    ("run", "seed"): "the seeds list sets it",
    ("run", "out"): "each cell's folder is DIR/cells/<cell>; pick DIR with --out",
    ("run", "checkpoint"): "bench always checkpoints (resuming needs it)",
    ("run", "progress"): "bench prints one line per cell instead",
    ("run", "overwrite"): "bench decides per cell (skip, resume or start again)",
}


@dataclass(frozen=True)
class Cell:
    name: str  # also its folder name under DIR/cells
    dataset: str  # the dataset's label
    noise: str  # the noise type (or its label); "none" for clean labels
    rate: float
    method: str  # the method's label
    seed: int
    config: Config
    reference: bool  # plain ce: other cells' epoch times are divided by this cell's

    @property
    def setting(self) -> str:
        """The noise setting as a table column, e.g. 'symmetric 40%'."""
        return "clean" if self.noise == "none" else f"{self.noise} {100 * self.rate:g}%"

    @property
    def group(self) -> tuple:
        """Cells that share data and labels; epoch ratios compare within a group."""
        return self.dataset, self.noise, self.rate, self.seed


# ---------------------------------------------------------------------- reading and checking a grid
def _fail(where: str, message: str) -> NoisyLabelsError:
    return NoisyLabelsError(f"grid {where}: {message}")


def load_grid(grid: Union[str, Path, dict]) -> dict:
    """The grid as a dict, from a YAML file or a dict given directly."""
    if isinstance(grid, dict):
        return copy.deepcopy(grid)
    path = Path(grid)
    if not path.is_file():
        raise NoisyLabelsError(f"grid file {path} not found; check the path")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise NoisyLabelsError(f"grid file {path} is not valid YAML ({str(error).splitlines()[0]}); fix its syntax")
    if not isinstance(raw, dict):
        raise NoisyLabelsError(f"grid file {path} must be a mapping with keys {', '.join(GRID_KEYS)}")
    return raw


def _check_keys(where: str, entry: dict, allowed: tuple) -> None:
    unknown = sorted(set(entry) - set(allowed))
    if unknown:
        raise _fail(f"{where}.{unknown[0]}", f"unknown key; allowed keys: {', '.join(allowed)}")


def _nonempty_list(raw: dict, key: str) -> list:
    value = raw.get(key)
    if value is None:
        raise _fail(key, f"missing; give a non-empty list of {key}")
    if not isinstance(value, list) or not value:
        raise _fail(key, f"must be a non-empty list, got {value!r}")
    return value


def _mapping(where: str, value: Any) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _fail(where, f"must be a mapping of option names to values, got {value!r}")
    return value


def _name(where: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise _fail(where, f"must be a name (a string), got {value!r}")
    return value


def _entry(where: str, entry: Any, keys: tuple, first: str) -> dict:
    """A list entry given as a bare name or as a mapping with the allowed ``keys``."""
    if isinstance(entry, str):
        return {first: entry}
    if not isinstance(entry, dict):
        raise _fail(where, f"must be a name or a mapping with keys {', '.join(keys)}, got {entry!r}")
    _check_keys(where, entry, keys)
    if first not in entry:
        raise _fail(where, f"missing '{first}'")
    return entry


def check_base(raw: Any) -> dict:
    base = _mapping("base", raw)
    try:
        Config.from_dict(base)  # unknown sections, keys and bad values
    except NoisyLabelsError as error:
        raise _fail("base", str(error)) from None
    for (section, key), why in BASE_FORBIDDEN.items():
        values = base.get(section) or {}
        if (key is None and values) or (key is not None and key in values):
            raise _fail(f"base.{section}" + (f".{key}" if key else ""), f"remove it: {why}")
    return base


def check_dataset(where: str, entry: Any) -> dict:
    from ..data import DATASETS

    entry = _entry(where, entry, DATASET_KEYS, "name")
    name = _name(f"{where}.name", entry["name"])
    options = _mapping(f"{where}.options", entry.get("options"))
    try:
        DATASETS.check_options(name, options, given=("path",))
    except NoisyLabelsError as error:
        raise _fail(where, str(error)) from None
    return {"name": name, "label": _name(f"{where}.label", entry.get("label", name)),
            "options": options, "path": entry.get("path")}


def _check_rate(where: str, rate: Any) -> float:
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
        hint = f" (a percentage? use {rate / 100:g})" if isinstance(rate, (int, float)) and 1 < rate <= 100 else ""
        raise _fail(where, f"a noise rate must be a fraction in [0, 1], got {rate!r}{hint}")
    return float(rate)


def check_noise(where: str, entry: Any) -> dict:
    from ..noise import NOISE

    if not isinstance(entry, dict):
        raise _fail(where, f"must be a mapping like {{type: symmetric, rates: [0.2, 0.4]}}, got {entry!r}")
    _check_keys(where, entry, NOISE_KEYS)
    kind = _name(f"{where}.type", entry.get("type"))
    options = _mapping(f"{where}.options", entry.get("options"))
    try:
        NOISE.check_options(kind, options, given=("labels", "num_classes", "rate", "seed", "features"))
    except NoisyLabelsError as error:
        raise _fail(f"{where}.type" if kind not in NOISE else f"{where}.options", str(error)) from None
    rates = entry.get("rates", [0.0] if kind == "none" else None)
    if not isinstance(rates, list) or not rates:
        raise _fail(f"{where}.rates", f"must be a non-empty list of noise rates in [0, 1], got {rates!r}")
    rates = [_check_rate(f"{where}.rates[{i}]", r) for i, r in enumerate(rates)]
    if kind == "none" and any(rates):
        raise _fail(f"{where}.rates", "noise type none takes no rate; drop rates")
    if len(set(rates)) < len(rates):
        raise _fail(f"{where}.rates", f"lists a rate twice: {rates}")
    return {"type": kind, "label": _name(f"{where}.label", entry.get("label", kind)), "rates": rates,
            "options": options}


def _default_label(name: str, loss: str) -> str:
    if loss == "ce":
        return name
    return loss if name == "ce" else f"{name}/{loss}"


def check_method(where: str, entry: Any) -> dict:
    from ..losses import create_loss
    from ..methods import METHODS

    entry = _entry(where, entry, METHOD_KEYS, "name")
    name = _name(f"{where}.name", entry["name"])
    loss = _name(f"{where}.loss", entry.get("loss", "ce"))
    options = _mapping(f"{where}.options", entry.get("options"))
    loss_options = _mapping(f"{where}.loss_options", entry.get("loss_options"))
    try:  # constructing them checks names, option names and values; both are cheap
        METHODS.build(name, **options)
    except NoisyLabelsError as error:
        raise _fail(f"{where}.name" if name not in METHODS else f"{where}.options", str(error)) from None
    try:
        create_loss(loss, **loss_options)
    except NoisyLabelsError as error:
        raise _fail(f"{where}.loss", str(error)) from None
    return {"name": name, "label": _name(f"{where}.label", entry.get("label", _default_label(name, loss))),
            "options": options, "loss": loss, "loss_options": loss_options}


def check_methods(entries: list) -> list[dict]:
    """The methods list in full form, with ``all`` expanded (see the module docstring)."""
    from ..methods import METHODS

    if entries.count(ALL_METHODS) > 1:
        raise _fail("methods", f"lists '{ALL_METHODS}' twice; give it once")
    explicit = {i: check_method(f"methods[{i}]", m) for i, m in enumerate(entries) if m != ALL_METHODS}
    taken = {m["label"] for m in explicit.values()}
    methods = []
    for i, entry in enumerate(entries):
        if entry != ALL_METHODS:
            methods.append(explicit[i])
            continue
        methods += [check_method(f"methods[{i}] ({ALL_METHODS}: {name})", name)
                    for name in METHODS.names() if name not in taken]
    return methods


def check_seeds(seeds: list) -> list[int]:
    for i, seed in enumerate(seeds):
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise _fail(f"seeds[{i}]", f"a seed must be a whole number >= 0, got {seed!r}")
    if len(set(seeds)) < len(seeds):
        raise _fail("seeds", f"lists a seed twice: {seeds}")
    return list(seeds)


def check_grid(raw: dict) -> dict:
    """The grid with every entry in its full form; raises NoisyLabelsError naming the bad key."""
    if not isinstance(raw, dict):
        raise NoisyLabelsError(f"a grid must be a mapping with keys {', '.join(GRID_KEYS)}")
    unknown = sorted(set(raw) - set(GRID_KEYS))
    if unknown:
        raise _fail(unknown[0], f"unknown key; a grid has the keys {', '.join(GRID_KEYS)}")
    clean_ce = raw.get("clean_ce", False)
    if not isinstance(clean_ce, bool):
        raise _fail("clean_ce", f"must be true or false, got {clean_ce!r}")
    return {
        "name": str(raw.get("name", "grid")),
        "base": check_base(raw.get("base")),
        "datasets": [check_dataset(f"datasets[{i}]", d) for i, d in enumerate(_nonempty_list(raw, "datasets"))],
        "noise": [check_noise(f"noise[{i}]", n) for i, n in enumerate(_nonempty_list(raw, "noise"))],
        "methods": check_methods(_nonempty_list(raw, "methods")),
        "seeds": check_seeds(_nonempty_list(raw, "seeds")),
        "clean_ce": clean_ce,
    }


# ---------------------------------------------------------------------- expanding it into cells
def _cell_config(base: dict, dataset: dict, noise: dict, method: dict, seed: int, folder: Path) -> Config:
    raw = copy.deepcopy(base)
    data = raw.setdefault("data", {})
    data["name"] = dataset["name"]
    data["options"] = {**data.get("options", {}), **dataset["options"]}
    if dataset["path"] is not None:
        data["path"] = dataset["path"]
    raw["noise"] = {"type": noise["type"], "rate": noise["rate"], "options": noise["options"]}
    raw["method"] = {k: method[k] for k in ("name", "options", "loss", "loss_options")}
    raw.setdefault("run", {}).update(seed=seed, out=str(folder), checkpoint=True, progress=False, overwrite=True)
    return Config.from_dict(raw)


def _is_reference(method: dict) -> bool:
    return method["name"] == "ce" and method["loss"] == "ce" and not method["options"] and not method["loss_options"]


def expand_grid(grid: dict, out: Union[str, Path]) -> list[Cell]:
    """Every cell of a checked grid, in order: per dataset, noise setting, method, seed; then the
    clean-label ce cells of that dataset."""
    out = Path(out)
    ce = {"name": "ce", "label": "ce", "options": {}, "loss": "ce", "loss_options": {}}
    reference = next((m["label"] for m in grid["methods"] if _is_reference(m)), None)
    cells: dict[str, Cell] = {}

    def add(dataset, noise, method, seed, is_reference):
        setting = "clean" if noise["type"] == "none" else f"{noise['label']}{noise['rate']:g}"
        name = rundir.slug(f"{dataset['label']}-{setting}-{method['label']}-s{seed}")
        if name in cells:
            if method is ce:  # the noise list already has a clean-label ce cell
                return
            raise NoisyLabelsError(f"grid: two cells are both named {name}; give the datasets, noise entries "
                                   "or methods distinct labels")
        config = _cell_config(grid["base"], dataset, noise, method, seed, rundir.cell_dir(out, name))
        label = "none" if noise["type"] == "none" else noise["label"]
        cells[name] = Cell(name, dataset["label"], label, noise["rate"], method["label"], seed, config, is_reference)

    for dataset in grid["datasets"]:
        for noise in grid["noise"]:
            for rate in noise["rates"]:
                for method in grid["methods"]:
                    for seed in grid["seeds"]:
                        add(dataset, {**noise, "rate": rate}, method, seed, method["label"] == reference)
        if grid["clean_ce"]:
            for seed in grid["seeds"]:
                add(dataset, {"type": "none", "label": "none", "rate": 0.0, "options": {}}, ce, seed, True)
    return list(cells.values())

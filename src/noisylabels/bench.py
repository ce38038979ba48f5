"""``noisylabels bench``: train a grid of (dataset x noise x method x seed) cells and tabulate them.

Each cell is an ordinary run folder under ``DIR/cells/``. Re-running the same grid skips the
complete cells and resumes the interrupted ones from their checkpoints, so a long grid can be
stopped and restarted. ``results.csv`` and ``results.md`` are rewritten after every cell.
"""
from __future__ import annotations

import copy
import csv
import json
import multiprocessing
import os
import platform
import re
import statistics
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

import yaml

from .config import Config
from .errors import NoisyLabelsError
from .io import atomic_path, atomic_write_json, atomic_write_text

GRID_KEYS = ("name", "base", "datasets", "noise", "methods", "seeds", "clean_ce")
DATASET_KEYS = ("name", "label", "options", "path")
NOISE_KEYS = ("type", "label", "rates", "options")
METHOD_KEYS = ("name", "label", "options", "loss", "loss_options")
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
CSV_COLUMNS = ["cell", "dataset", "noise", "noise_rate", "method", "seed", "status", "best_acc", "last_acc",
               "precision", "recall", "f1", "epochs", "wall_time", "epoch_time", "epoch_ratio", "run_dir", "error"]


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
    from .data import DATASETS

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
    from .noise import NOISE

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
    from .losses import create_loss
    from .methods import METHODS

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
        "methods": [check_method(f"methods[{i}]", m) for i, m in enumerate(_nonempty_list(raw, "methods"))],
        "seeds": check_seeds(_nonempty_list(raw, "seeds")),
        "clean_ce": clean_ce,
    }


# ---------------------------------------------------------------------- expanding it into cells
def slug(text: str) -> str:
    """A filesystem-safe folder name: letters, digits and + - . _ only."""
    return re.sub(r"[^A-Za-z0-9+._-]", "_", text)


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
        name = slug(f"{dataset['label']}-{setting}-{method['label']}-s{seed}")
        if name in cells:
            if method is ce:  # the noise list already has a clean-label ce cell
                return
            raise NoisyLabelsError(f"grid: two cells are both named {name}; give the datasets, noise entries "
                                   "or methods distinct labels")
        config = _cell_config(grid["base"], dataset, noise, method, seed, out / "cells" / name)
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


# ---------------------------------------------------------------------- one cell
def _normalized(config_dict: dict) -> dict:
    """A config dict as YAML gives it back, without the folder (the folder is the cell's identity)."""
    raw = yaml.safe_load(yaml.safe_dump(config_dict, sort_keys=False))
    raw.get("run", {}).pop("out", None)
    return raw


def config_matches(folder: Path, config: Config) -> bool:
    """Whether the run in ``folder`` was trained with ``config`` (so it may be skipped or resumed)."""
    path = folder / "config.yaml"
    try:
        saved = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return False
    return isinstance(saved, dict) and _normalized(saved) == _normalized(config.to_dict())


def read_metrics(folder: Path) -> Optional[dict]:
    try:
        metrics = json.loads((folder / "metrics.json").read_text())
    except (OSError, ValueError):
        return None
    return metrics if isinstance(metrics, dict) else None


def _start_trainer(config: Config, folder: Path) -> tuple[Any, str, Optional[str]]:
    """(trainer, action, note): resume from the checkpoint when there is a usable one."""
    from .engine import Trainer

    if (folder / "checkpoint.pt").is_file() and config_matches(folder, config):
        try:
            return Trainer.resume(folder), "resumed", None
        except NoisyLabelsError as error:
            note = f"{error}; starting it again from scratch"
            return Trainer(config), "restarted", note
    return Trainer(config), "fresh", None


def train_cell(config_dict: dict, threads: Optional[int] = None) -> dict:
    """Train (or resume) one cell and return {action, status, error, note}. It also runs in worker
    processes, so it takes and returns plain data; a failure is recorded, not raised."""
    if threads:
        import torch

        torch.set_num_threads(threads)
    config = Config.from_dict(config_dict)
    folder = Path(config.run.out)
    action, note = "fresh", None
    try:
        trainer, action, note = _start_trainer(config, folder)
        trainer.fit()
    except Exception as error:
        _record_failure(folder, error)
        return {"action": action, "status": "failed", "error": f"{type(error).__name__}: {error}", "note": note}
    return {"action": action, "status": "complete", "error": None, "note": note}


def _record_failure(folder: Path, error: Exception) -> None:
    """fit() records its own failures; a cell that failed before training started needs this."""
    metrics = read_metrics(folder)
    if metrics is None or metrics.get("status") != "failed":
        atomic_write_json(folder / "metrics.json", {"status": "failed", "error": repr(error), "epochs": []})


# ---------------------------------------------------------------------- results
def _median_epoch_time(epochs: list) -> Optional[float]:
    times = [e["train_time"] for e in epochs if isinstance(e.get("train_time"), (int, float))]
    return statistics.median(times) if times else None


def _selection(epochs: list) -> tuple:
    """(precision, recall, f1) of the last epoch's sample selection, or Nones."""
    last = epochs[-1] if epochs else {}
    p, r = last.get("selection_precision"), last.get("selection_recall")
    if p is None or r is None:
        return None, None, None
    return p, r, (2 * p * r / (p + r) if p + r > 0 else 0.0)


def cell_row(cell: Cell, out: Path) -> dict:
    """The results row of one cell, from what its folder holds now."""
    folder = out / "cells" / cell.name
    metrics = read_metrics(folder) or {}
    status = metrics.get("status", "pending")
    if metrics and status != "failed" and not config_matches(folder, cell.config):
        status = "stale"  # trained with another config; the grid will train it again
    epochs = metrics.get("epochs") or []
    precision, recall, f1 = _selection(epochs)
    return {"cell": cell.name, "dataset": cell.dataset, "noise": cell.noise, "noise_rate": cell.rate,
            "method": cell.method, "seed": cell.seed, "status": status,
            "best_acc": metrics.get("best_test_acc"), "last_acc": metrics.get("last_test_acc"),
            "precision": precision, "recall": recall, "f1": f1, "epochs": len(epochs),
            "wall_time": metrics.get("total_time"), "epoch_time": _median_epoch_time(epochs), "epoch_ratio": None,
            "run_dir": str(Path("cells") / cell.name), "error": metrics.get("error") if status == "failed" else None}


def collect_rows(cells: list[Cell], out: Path) -> list[dict]:
    """One row per cell, with each epoch time as a ratio to its group's ce cell."""
    rows = [cell_row(cell, out) for cell in cells]
    reference = {cell.group: row["epoch_time"] for cell, row in zip(cells, rows) if cell.reference}
    for cell, row in zip(cells, rows):
        ref = reference.get(cell.group)
        if ref and row["epoch_time"] is not None:
            row["epoch_ratio"] = row["epoch_time"] / ref
    return rows


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def write_csv(path: Path, rows: list[dict]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_value(row[k]) for k in CSV_COLUMNS})


def _mean_std(values: list[float]) -> Optional[tuple[float, Optional[float]]]:
    if not values:
        return None
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else None)


def _format(stat, bold: bool = False) -> str:
    if stat is None:
        return "-"
    mean, std = stat
    text = f"{100 * mean:.2f}" + ("" if std is None else f" ± {100 * std:.2f}")
    return f"**{text}**" if bold else text


def _accuracy_table(cells: list[Cell], rows: list[dict], key: str) -> str:
    """Methods x noise settings of one dataset; the best mean per column in bold, the clean-label
    ce cells as a reference row at the bottom."""
    done = [(c, r) for c, r in zip(cells, rows) if r["status"] == "complete"]
    ceiling = {c.name for c in cells if c.noise == "none" and c.reference}
    compared = [c for c in cells if c.name not in ceiling]
    settings = list(dict.fromkeys(c.setting for c in compared))
    methods = list(dict.fromkeys(c.method for c in compared))
    stats = {(m, s): _mean_std([r[key] for c, r in done if c.method == m and c.setting == s])
             for m in methods for s in settings}
    best = {s: max((_rounded(stats[m, s]) for m in methods if stats[m, s]), default=None) for s in settings}
    lines = ["| method | " + " | ".join(settings) + " |", "|---|" + "---|" * len(settings)]
    for m in methods:
        entries = [_format(stats[m, s], bold=bool(stats[m, s]) and _rounded(stats[m, s]) == best[s])
                   for s in settings]
        lines.append(f"| {m} | " + " | ".join(entries) + " |")
    if ceiling:
        clean = _mean_std([r[key] for c, r in done if c.name in ceiling])
        lines.append("| ce (clean labels) | " + " | ".join([_format(clean)] * len(settings)) + " |")
    return "\n".join(lines)


def _rounded(stat: tuple) -> float:
    """The mean as printed, so that ties in the table are all bold."""
    return round(100 * stat[0], 2)


def format_markdown(grid: dict, cells: list[Cell], rows: list[dict], command: str, threads: int) -> str:
    seeds = grid["seeds"]
    over = f"seed {seeds[0]}" if len(seeds) == 1 else "mean ± std over seeds " + ", ".join(map(str, seeds))
    complete = sum(r["status"] == "complete" for r in rows)
    failed = [r["cell"] for r in rows if r["status"] == "failed"]
    parts = [f"# Benchmark grid: {grid['name']}",
             f"{complete} of {len(rows)} cells complete" + (f"; failed: {', '.join(failed)}" if failed else "") + "."]
    for dataset in dict.fromkeys(c.dataset for c in cells):
        pick = [i for i, c in enumerate(cells) if c.dataset == dataset]
        sub_cells, sub_rows = [cells[i] for i in pick], [rows[i] for i in pick]
        parts += [f"## {dataset}",
                  f"Best test accuracy (%), {over}; the best of each column in bold:",
                  _accuracy_table(sub_cells, sub_rows, "best_acc"),
                  f"Last-epoch test accuracy (%), {over}:",
                  _accuracy_table(sub_cells, sub_rows, "last_acc")]
    parts += [f"Command: `{command}`",
              f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, torch threads per cell: {threads}. "
              "Epoch times and ratios to ce (results.csv: epoch_time, epoch_ratio) are only meaningful with "
              "--jobs 1: parallel cells compete for the same cores."]
    return "\n\n".join(parts) + "\n"


# ---------------------------------------------------------------------- the grid
def _copy_grid(grid: Union[str, Path, dict], raw: dict, out: Path) -> None:
    """DIR/grid.yaml: the file as written (comments included), or the dict as YAML."""
    text = Path(grid).read_text() if not isinstance(grid, dict) else yaml.safe_dump(raw, sort_keys=False)
    atomic_write_text(out / "grid.yaml", text)


def _progress_line(index: int, total: int, row: dict, action: str) -> str:
    head = f"[{index}/{total}] {row['cell']}: "
    if row["status"] != "complete":
        return head + f"{row['status']} ({row['error'] or action})"
    wall = row["wall_time"] or 0.0
    return head + f"best {100 * row['best_acc']:.2f}%  last {100 * row['last_acc']:.2f}%  {wall:.1f}s ({action})"


def _run_cells(todo: list[Cell], jobs: int, on_done) -> None:
    """Train the cells in-process (jobs 1) or in ``jobs`` spawned workers; ``on_done(cell, result)``."""
    if jobs == 1 or not todo:
        for cell in todo:
            on_done(cell, train_cell(cell.config.to_dict()))
        return
    threads = max(1, (os.cpu_count() or 1) // jobs)
    pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"))
    try:
        futures = {pool.submit(train_cell, cell.config.to_dict(), threads): cell for cell in todo}
        for future in as_completed(futures):
            try:
                result = future.result()
            except Exception as error:  # the worker died (e.g. out of memory)
                result = {"action": "fresh", "status": "failed", "error": repr(error), "note": None}
                _record_failure(Path(futures[future].config.run.out), error)
            on_done(futures[future], result)
    finally:  # on Ctrl-C, start no further cells (the running ones were interrupted too)
        pool.shutdown(wait=True, cancel_futures=True)


def run_bench(grid: Union[str, Path, dict], out: Union[str, Path, None] = None, jobs: int = 1) -> list[dict]:
    """Train every cell of a grid (a YAML file or a dict) under ``out`` (default runs/bench/<name>)
    and write results.csv and results.md there. Returns the results rows, one per cell."""
    raw = load_grid(grid)
    checked = check_grid(raw)
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise NoisyLabelsError(f"--jobs must be a whole number >= 1, got {jobs!r}")
    default_name = Path(grid).stem if not isinstance(grid, dict) else "grid"
    out = Path(out) if out is not None else Path("runs") / "bench" / slug(raw.get("name", default_name))
    cells = expand_grid(checked, out)  # validates every cell's config: nothing is written before this
    _copy_grid(grid, raw, out)
    source = out / "grid.yaml" if isinstance(grid, dict) else grid
    command = f"noisylabels bench {source} --out {out} --jobs {jobs}"
    import torch

    threads = torch.get_num_threads() if jobs == 1 else max(1, (os.cpu_count() or 1) // jobs)

    def publish() -> list[dict]:
        rows = collect_rows(cells, out)
        write_csv(out / "results.csv", rows)
        atomic_write_text(out / "results.md", format_markdown(checked, cells, rows, command, threads))
        return rows

    finished = 0
    rows = publish()
    todo = []
    for cell, row in zip(cells, rows):
        if row["status"] == "complete":
            finished += 1
            print(_progress_line(finished, len(cells), row, "skipped: already complete"), flush=True)
        else:
            todo.append(cell)

    def on_done(cell: Cell, result: dict) -> None:
        nonlocal finished
        finished += 1
        if result.get("note"):
            print(f"note: {cell.name}: {result['note']}", flush=True)
        row = cell_row(cell, out)
        if result["status"] == "failed":
            row.update(status="failed", error=result["error"])
        publish()
        print(_progress_line(finished, len(cells), row, result["action"]), flush=True)

    start = time.perf_counter()
    try:
        _run_cells(todo, jobs, on_done)
    finally:
        rows = publish()  # an interrupted grid still leaves consistent results
    if todo:
        print(f"{len(todo)} cells trained in {time.perf_counter() - start:.0f}s; results in {out}/results.md")
    return rows

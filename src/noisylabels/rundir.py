"""The run-folder format: the one module that knows the names of the files in a run folder (written by
``noisylabels train``) and a bench folder (written by ``noisylabels bench``), and how to read them.

A run folder holds ``config.yaml``, ``noise.json``, ``metrics.json``, ``checkpoint.pt``, ``samples.csv``,
``stats.pt`` and optional plots / TensorBoard logs; a bench folder holds ``grid.yaml``,
``results.csv``, ``results.md`` and one run folder per cell under ``cells/``; a randomize folder
(``noisylabels randomize``) holds ``randomize.json``, ``randomize.png``, ``results.md`` and one run
folder per setting under ``runs/``.
"""
from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path
from typing import Optional

import numpy as np
import torch
import yaml

from .config import Config, load_config
from .errors import NoisyLabelsError

CONFIG = "config.yaml"
NOISE = "noise.json"
METRICS = "metrics.json"
CHECKPOINT = "checkpoint.pt"
SAMPLES = "samples.csv"
STATS = "stats.pt"
LOSS_HISTOGRAMS = "loss_histograms.png"
SELECTION = "selection.png"
TENSORBOARD = "tensorboard"
STATS_MEMMAP = "stats_memmap"
LABEL_ISSUES = "label_issues.csv"
LABEL_ISSUES_SHEET = "label_issues.png"
DETECTION = "detection.json"
REPORT = "report.html"
RANDOMIZE = "randomize.json"
RANDOMIZE_FIGURE = "randomize.png"
RUNS = "runs"  # a randomize folder's run folders, one per setting
# Files one training run writes: a fresh run deletes them first, so none from an earlier run survives.
RUN_FILES = (CONFIG, NOISE, METRICS, CHECKPOINT, SAMPLES, STATS, LOSS_HISTOGRAMS, SELECTION)

GRID = "grid.yaml"
RESULTS_CSV = "results.csv"
RESULTS_MD = "results.md"
CELLS = "cells"

STATS_HELP = "re-run the training to rewrite it"


def slug(text: str) -> str:
    """A file-name-safe form of ``text`` (bench cell folders, figure names): letters, digits and
    + - . _ stay, every other character becomes '_'."""
    return re.sub(r"[^A-Za-z0-9+._-]", "_", text)


def default_run_dir(config: Config) -> Path:
    """runs/<dataset>-<noise><rate>-<method>-s<seed>, where a run goes without --out."""
    noise = "clean" if config.noise.type == "none" else f"{config.noise.type}{config.noise.rate:g}"
    return Path("runs") / f"{config.data.name}-{noise}-{config.method.name}-s{config.run.seed}"


def default_bench_dir(name: str) -> Path:
    return Path("runs") / "bench" / slug(name)


def default_randomize_dir(config: Config) -> Path:
    """runs/randomize/<dataset>-<model>-s<seed>, where ``noisylabels randomize`` writes without --out."""
    return Path("runs") / "randomize" / slug(f"{config.data.name}-{config.model.name}-s{config.run.seed}")


def clear_run_files(folder: Path) -> None:
    """Delete what an earlier run left in ``folder`` (its files and TensorBoard logs)."""
    for name in RUN_FILES:
        (folder / name).unlink(missing_ok=True)
    shutil.rmtree(folder / TENSORBOARD, ignore_errors=True)


def stats_memmap_dir(folder: Path, rank: Optional[int] = None) -> Path:
    """Where run.stats_memmap keeps the float16 histories (one folder per rank under torchrun)."""
    return folder / (STATS_MEMMAP if not rank else f"{STATS_MEMMAP}_rank{rank}")


# ---------------------------------------------------------------------- what kind of folder
def is_run(folder: Path) -> bool:
    return (Path(folder) / METRICS).is_file()


def is_bench(folder: Path) -> bool:
    folder = Path(folder)
    return (folder / RESULTS_CSV).is_file() and (folder / CELLS).is_dir()


def cell_dir(bench: Path, cell: str) -> Path:
    return Path(bench) / CELLS / cell


# ---------------------------------------------------------------------- reading
def read_json(path: Path, default: Optional[dict] = None) -> Optional[dict]:
    """A JSON object from ``path``; ``default`` when the file is missing or not a JSON object."""
    try:
        value = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return default
    return value if isinstance(value, dict) else default


def read_metrics(folder: Path) -> Optional[dict]:
    """metrics.json of a run folder, or None when it is missing or unreadable."""
    return read_json(Path(folder) / METRICS)


def read_noise(folder: Path) -> dict:
    return read_json(Path(folder) / NOISE, default={})


def read_config(folder: Path) -> Config:
    return load_config(Path(folder) / CONFIG)


def read_method_info(folder: Path) -> dict:
    """What the run's training method declared about itself (``metrics.json`` -> ``method_info``)."""
    path = Path(folder) / METRICS
    if not path.is_file():
        raise NoisyLabelsError(f"{path} not found, so the run's training method is unknown; let the run finish "
                               "or pass method= explicitly")
    metrics = read_json(path)
    if metrics is None:
        raise NoisyLabelsError(f"could not read {path} (not a JSON object); re-run the training or pass method=")
    info = metrics.get("method_info")
    if not isinstance(info, dict):
        name = metrics.get("method", "unknown")
        raise NoisyLabelsError(f"{path} has no method_info for method {name!r} (a run from an older noisylabels or "
                               "a method that declares none); re-run the training, or pass method= explicitly")
    return info


def config_matches(folder: Path, config: Config) -> bool:
    """Whether the run in ``folder`` was trained with ``config`` (so bench may skip or resume it)."""
    try:
        saved = yaml.safe_load((Path(folder) / CONFIG).read_text())
    except (OSError, yaml.YAMLError):
        return False
    return isinstance(saved, dict) and _without_folder(saved) == _without_folder(config.to_dict())


def _without_folder(config_dict: dict) -> dict:
    """A config dict as YAML gives it back, without the output folder (the folder is a cell's identity)."""
    raw = yaml.safe_load(yaml.safe_dump(config_dict, sort_keys=False))
    raw.get("run", {}).pop("out", None)
    return raw


def read_labels(folder: Path) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """Observed (and, when known, true) training labels from a run folder's samples.csv."""
    path = Path(folder) / SAMPLES
    if not path.is_file():
        raise NoisyLabelsError(f"{path} not found; pass the folder of a finished `noisylabels train` run")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or "label" not in rows[0]:
        raise NoisyLabelsError(f"{path} has no 'label' column; it is not a noisylabels samples.csv")
    labels = np.array([int(r["label"]) for r in rows])
    truth = np.array([int(r["true_label"]) for r in rows]) if "true_label" in rows[0] else None
    return labels, truth


def read_stats(folder: Path) -> dict:
    """stats.pt of a run folder: loss and margin (epochs, N), prediction (N,), values {name: (N, ...)}."""
    folder = Path(folder)
    if not folder.is_dir():
        raise NoisyLabelsError(f"run folder {folder} does not exist; pass the --out folder of `noisylabels train`")
    path = folder / STATS
    if not path.is_file():
        raise NoisyLabelsError(f"{path} not found: `noisylabels train` writes it when training finishes; let the run "
                               "finish (or re-run it), or pass scores= or pred_probs= instead")
    try:
        stats = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a corrupt file raises pickle, zip or EOF errors alike; torch's text
        # for them is long and suggests weights_only=False, which would not help here: name the type only
        raise NoisyLabelsError(f"could not read {path} ({type(error).__name__}); the file is corrupt or "
                               f"not a noisylabels stats file: {STATS_HELP}") from None
    tensors = ("loss", "margin", "prediction")
    ok = (isinstance(stats, dict) and all(isinstance(stats.get(k), torch.Tensor) for k in tensors)
          and isinstance(stats.get("values", {}), dict) and stats["loss"].ndim == 2
          and stats["margin"].shape == stats["loss"].shape and stats["prediction"].shape == stats["loss"].shape[1:])
    if not ok:
        raise NoisyLabelsError(f"{path} is not a noisylabels stats file (expected a dict with loss and margin "
                               f"(epochs, N) and prediction (N,) tensors); {STATS_HELP}")
    return stats


def read_bench_rows(folder: Path) -> list[dict]:
    """results.csv of a bench folder as a list of rows (strings)."""
    path = Path(folder) / RESULTS_CSV
    try:
        with open(path, newline="") as f:
            return list(csv.DictReader(f))
    except OSError as error:
        raise NoisyLabelsError(f"could not read {path} ({error.strerror}); re-run `noisylabels bench`") from None


def read_json_strict(path: Path, default: Optional[dict] = None) -> dict:
    """A JSON object from ``path`` for readers that must not mistake a corrupt file for a missing one:
    a missing file gives ``default`` when one is given; an unreadable file or one not holding a JSON
    object is a NoisyLabelsError (``read_json`` returns the default for both)."""
    path = Path(path)
    if not path.is_file() and default is not None:
        return default
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise NoisyLabelsError(f"could not read {path} ({error}); re-run the training that writes it") from None
    if not isinstance(value, dict):
        raise NoisyLabelsError(f"{path} does not hold a JSON object; re-run the training that writes it")
    return value

"""``noisylabels randomize``: the randomization test of Zhang et al. (ICLR 2017, "Understanding deep
learning requires rethinking generalization"). One model is trained on labels corrupted at a sweep
of rates, and on randomised inputs with the true labels; its eval-mode accuracy on the training set,
against the labels it is fitted to, shows how fast it memorises them, whatever they are.

Settings:
  labels_<p>       each training label is, with probability p, replaced by a class drawn uniformly
                   from all C classes (the ``uniform`` noise type, so it may draw the true class and
                   the real flip rate is p (C - 1) / C); labels_1 are random labels
  shuffled_pixels  one fixed random permutation of the pixels, the same for every train and test image
  random_pixels    an independent random permutation of each image's pixels
  gaussian         every input replaced by Gaussian noise with the per-feature mean and standard
                   deviation of the training inputs

A pixel is a position (H, W) of an image, with all its channels; vector features are permuted one
by one. Each setting is an ordinary run folder ``OUT/runs/<setting>``; OUT gets randomize.json,
randomize.png and results.md. A rerun skips the settings that finished with the same config and
trains the others again from the start (``--overwrite``: all of them).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import torch

from . import rundir
from .callbacks import TrainingSetAccuracy
from .config import Config
from .data.dataset import LabeledData, Splits
from .engine import Trainer
from .errors import NoisyLabelsError
from .io import atomic_write_json, atomic_write_text

RATES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
INPUTS = ("shuffled_pixels", "random_pixels", "gaussian")
ORIGINAL = "original"  # the inputs of the label-corruption settings
# The paper's randomization experiments: no augmentation, no weight decay. No validation hold-out
# either: the test memorises every training label, and no epoch is selected.
DEFAULTS = {"data": {"augment": "none", "val_fraction": 0.0}, "optim": {"weight_decay": 0.0}}
ACC = TrainingSetAccuracy.key


@dataclass(frozen=True)
class Setting:
    name: str  # its run folder under OUT/runs
    rate: float  # label corruption rate; 0 (true labels) for the input settings
    inputs: str  # ORIGINAL or one of INPUTS


# ---------------------------------------------------------------------- checking the request
def split_list(text: str) -> list[str]:
    """'0, 0.5,1' -> ['0', '0.5', '1'] (the comma-separated lists of --rates and --inputs)."""
    return [part.strip() for part in text.split(",") if part.strip()]


def check_rates(rates: Sequence) -> list[float]:
    """Corruption rates as floats in [0, 1] (numbers or their text), each once."""
    checked = []
    for rate in rates:
        try:
            value = float(rate) if not isinstance(rate, bool) else math.nan
        except (TypeError, ValueError):
            value = math.nan
        if not 0.0 <= value <= 1.0:  # NaN fails too
            hint = f" (a percentage? use {value / 100:g})" if 1 < value <= 100 else ""
            raise NoisyLabelsError(f"--rates: {rate!r} is not a rate in [0, 1] (the fraction of labels replaced "
                                   f"by a random class){hint}; e.g. --rates 0,0.5,1")
        if value in checked:
            raise NoisyLabelsError(f"--rates: {value:g} is given twice; give each rate once")
        checked.append(value)
    return checked


def check_inputs(inputs: Sequence[str]) -> list[str]:
    """Input randomisations, each a known kind and given once; ['none'] means no input setting."""
    inputs = [] if list(inputs) == ["none"] else list(inputs)
    for kind in inputs:
        if kind not in INPUTS:
            raise NoisyLabelsError(f"--inputs: unknown input randomisation {kind!r}; choose from "
                                   f"{', '.join(INPUTS)} (comma-separated), or none")
        if inputs.count(kind) > 1:
            raise NoisyLabelsError(f"--inputs: {kind} is given twice; give each kind once")
    return inputs


def make_settings(rates: Sequence = RATES, inputs: Sequence[str] = INPUTS) -> list[Setting]:
    settings = [Setting(f"labels_{rate:g}", rate, ORIGINAL) for rate in check_rates(rates)]
    settings += [Setting(kind, 0.0, kind) for kind in check_inputs(inputs)]
    if not settings:
        raise NoisyLabelsError("nothing to train: give at least one --rates value or --inputs kind")
    return settings


def check_base(config: Config) -> None:
    """The config's parts randomize sets itself must be left alone."""
    if config.noise.type != "none" or config.noise.rate != 0:
        raise NoisyLabelsError("randomize sets the label noise of every setting itself (uniform, at each of "
                               "--rates); drop --noise and --noise-rate")
    if config.data.streaming:
        raise NoisyLabelsError("randomize permutes the inputs in memory; drop data.streaming")


def setting_config(base: Config, setting: Setting, out: Path) -> Config:
    """One setting's run: its label noise, its folder; no checkpoints, since a rerun starts an
    unfinished setting again (a checkpoint is written before the callback adds that epoch's
    training accuracy, so a resumed run would miss one)."""
    noise = ({"type": "uniform", "rate": setting.rate} if setting.inputs == ORIGINAL
             else {"type": "none", "rate": 0.0})
    run = {"out": str(out / rundir.RUNS / setting.name), "overwrite": True, "checkpoint": False}
    return base.replace(noise={**noise, "options": {}}, run=run)


# ---------------------------------------------------------------------- randomised inputs
def _pixels(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H*W) for images, so a permutation moves a pixel with all its channels; (N, 1, D) else."""
    return x.reshape(len(x), x.shape[1], -1) if x.ndim == 4 else x.reshape(len(x), 1, -1)


def shuffle_pixels(x: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """Every sample's pixels in the same ``order`` (a permutation of the pixel positions)."""
    return _pixels(x)[:, :, order].reshape(x.shape)


def permute_each(x: torch.Tensor, generator: torch.Generator, chunk: int = 4096) -> torch.Tensor:
    """Every sample's pixels in an order of its own (in chunks of samples, to bound the memory)."""
    pixels, parts = _pixels(x), []
    for start in range(0, len(x), chunk):
        block = pixels[start:start + chunk]
        order = torch.rand(len(block), block.shape[2], generator=generator).argsort(1)
        parts.append(block.gather(2, order[:, None, :].expand_as(block)))
    return torch.cat(parts).reshape(x.shape)


def gaussian_like(shape, mean: torch.Tensor, std: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Gaussian noise of ``shape`` (N, *features) with the given per-feature mean and std."""
    return mean + std * torch.randn(shape, generator=generator)


def randomize_inputs(splits: Splits, kind: str, seed: int) -> Splits:
    """The splits with randomised inputs (train and test alike), labels untouched."""
    check_inputs([kind])
    generator = torch.Generator().manual_seed(seed)
    train, test = splits.train, splits.test
    if kind == "shuffled_pixels":
        order = torch.randperm(_pixels(train.x).shape[2], generator=generator)

        def change(x):
            return shuffle_pixels(x, order)
    elif kind == "random_pixels":
        def change(x):
            return permute_each(x, generator)
    else:
        mean, std = train.x.mean(0), train.x.std(0)  # the training inputs' statistics, for the test inputs too

        def change(x):
            return gaussian_like(x.shape, mean, std, generator)
    return Splits(_with_inputs(train, change(train.x)), None if test is None else _with_inputs(test, change(test.x)))


def _with_inputs(split: LabeledData, x: torch.Tensor) -> LabeledData:
    return LabeledData(x, split.labels, split.num_classes, split.true_labels, split.name, split.class_names)


# ---------------------------------------------------------------------- the sweep
def run_randomize(config: Config, rates: Sequence = RATES, inputs: Sequence[str] = INPUTS,
                  splits: Optional[Splits] = None) -> dict:
    """Train one run per setting under ``config.run.out`` (default runs/randomize/<dataset>-<model>-s<seed>)
    and write randomize.json, randomize.png and results.md there; returns randomize.json's content
    and the ``folder``.
    ``config`` is used as given (the CLI adds ``DEFAULTS``); ``splits``: in-memory data instead of
    the config's data set (a rerun cannot tell other splits from the same ones: set run.overwrite).
    Everything is checked before the first file is written."""
    settings = make_settings(rates, inputs)
    check_base(config)
    out = Path(config.run.out) if config.run.out else rundir.default_randomize_dir(config)
    configs = [setting_config(config, setting, out) for setting in settings]
    if splits is None:
        from .data.loaders import load_dataset

        splits = load_dataset(config.data.name, config.data.path, **config.data.options)
    results = []
    for k, (setting, setting_cfg) in enumerate(zip(settings, configs)):
        head = f"[{k + 1}/{len(settings)}] {setting.name}"
        metrics = None if config.run.overwrite else finished_metrics(setting_cfg)
        if metrics is not None:
            print(f"{head}: skipped, already complete", flush=True)
        else:
            print(f"{head}: training", flush=True)
            data = splits if setting.inputs == ORIGINAL else randomize_inputs(splits, setting.inputs, config.run.seed)
            metrics = Trainer(setting_cfg, data, callbacks=[TrainingSetAccuracy()]).fit()
        results.append(setting_result(setting, metrics))
        summary = randomize_summary(config, splits.train.num_classes, results)
        publish(summary, out)  # after every setting: an interrupted sweep keeps what it finished
    return {**summary, "folder": str(out)}


def finished_metrics(config: Config) -> Optional[dict]:
    """The metrics of a complete run of ``config`` in its folder with the training accuracy of every
    epoch, else None. The console output (run.progress) does not count as a difference."""
    folder = Path(config.run.out)
    metrics = rundir.read_metrics(folder)
    if not metrics or metrics.get("status") != "complete":
        return None
    try:
        saved = rundir.read_config(folder)
    except NoisyLabelsError:
        return None
    if saved.replace(run={"progress": config.run.progress, "out": config.run.out}) != config:
        return None
    epochs = metrics.get("epochs") or []
    return metrics if epochs and all(ACC in row for row in epochs) else None


def setting_result(setting: Setting, metrics: dict) -> dict:
    """One setting's entry of randomize.json."""
    epochs = metrics["epochs"]
    train_acc = [row[ACC] for row in epochs]
    fitted = next((row["epoch"] for row in epochs if row[ACC] >= 1.0), None)
    return {"setting": setting.name, "corruption_rate": setting.rate, "inputs": setting.inputs,
            "actual_noise_rate": metrics.get("actual_noise_rate"),
            "train_acc": train_acc, "epochs_to_100": fitted, "final_train_acc": train_acc[-1],
            "test_acc": [row["test_acc"] for row in epochs], "last_test_acc": metrics["last_test_acc"],
            "num_train": metrics["num_train"], "num_test": metrics["num_test"],
            "wall_time": metrics["total_time"], "run_dir": str(Path(rundir.RUNS) / setting.name)}


def randomize_summary(config: Config, num_classes: int, results: list[dict]) -> dict:
    return {"dataset": config.data.name, "model": config.model.name, "method": config.method.name,
            "epochs": config.optim.epochs, "seed": config.run.seed, "num_classes": num_classes,
            "train_accuracy": "eval mode, whole training set, against the labels fitted (corrupted ones)",
            "test_accuracy": "last epoch, true test labels",
            "config": config.replace(run={"out": None}).to_dict(), "settings": results}


def publish(summary: dict, out: Path) -> None:
    from .figures import plot_randomization  # matplotlib: only when plotting

    atomic_write_json(out / rundir.RANDOMIZE, summary)
    atomic_write_text(out / rundir.RESULTS_MD, format_results(summary) + "\n")
    plot_randomization(summary["settings"], out / rundir.RANDOMIZE_FIGURE, num_classes=summary["num_classes"],
                       title=f"randomization test: {summary['dataset']}, {summary['model']}")


def format_results(summary: dict) -> str:
    """results.md: what was trained, then one row per setting."""
    cfg = summary["config"]
    optim, data = cfg["optim"], cfg["data"]
    first = summary["settings"][0]
    head = (f"Randomization test (Zhang et al. 2017): {summary['dataset']}, {first['num_train']} training and "
            f"{first['num_test']} test samples, model {summary['model']}, method {summary['method']}, "
            f"{summary['epochs']} epochs, {optim['name']} lr {optim['lr']:g} ({optim['schedule']}), batch "
            f"{optim['batch_size']}, weight decay {optim['weight_decay']:g}, augmentation {data['augment']}, "
            f"seed {summary['seed']}. Training accuracy: {summary['train_accuracy']}; "
            f"test accuracy: {summary['test_accuracy']}.\n\n"
            "| setting | labels | inputs | epochs to 100% train acc | final train acc | test acc | time (s) |\n"
            "|---|---|---|---|---|---|---|")
    lines = [head]
    for row in summary["settings"]:
        labels = "true" if row["corruption_rate"] == 0 else f"{row['corruption_rate']:.0%} random"
        reached = "never" if row["epochs_to_100"] is None else str(row["epochs_to_100"])
        lines.append(f"| {row['setting']} | {labels} | {row['inputs']} | {reached} | {row['final_train_acc']:.4f} "
                     f"| {row['last_test_acc']:.4f} | {row['wall_time']:.1f} |")
    return "\n".join(lines)


def format_summary_lines(summary: dict) -> list[str]:
    """One console line per setting."""
    lines = []
    for row in summary["settings"]:
        fit = (f"100% training accuracy at epoch {row['epochs_to_100']}" if row["epochs_to_100"] is not None
               else f"never 100% training accuracy (final {row['final_train_acc']:.4f})")
        lines.append(f"{row['setting']}: {fit}, test acc {row['last_test_acc']:.4f}")
    return lines

"""``noisylabels detect``: train with recording (or read a finished run) and write the ranked
label issues. A workflow on top of the engine and the label-issue API (``noisylabels.detection``).

Detectors:
  <method>    any registered training method, trained as its ``for_detection`` says (rsl: selection
              only, stage one = the whole budget; aum: two threshold-sample runs, no retraining) and
              scored with the label quality it declares (``MethodInfo.quality``); flagged by the
              method's own rule where it has one (AUM's threshold samples, DivideMix's division),
              else per class with a GMM-estimated noise rate
  small_loss  a ``ce`` run: the last epoch's loss, flagged per class likewise
  confident   K-fold cross-validated ``ce`` runs (K full trainings on (K-1)/K of the data): confident
              learning on the out-of-sample probabilities
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from . import rundir
from .config import Config
from .data.dataset import Splits
from .detection import detection_metrics, find_label_issues, label_quality_scores, load_run, write_label_issues_csv
from .detection.api import run_quality_spec
from .detection.run_quality import own_flags
from .detection.scores import rank_order
from .engine import Trainer
from .errors import NoisyLabelsError
from .io import atomic_write_json
from .methods import METHODS
from .quality import NAMED

RECIPES = ("small_loss", "confident")  # detectors that are not a training method of their own


def detectors() -> list[str]:
    return sorted(set(METHODS.names()) | set(RECIPES))


def check_detector(name: str) -> str:
    if name not in detectors():
        raise NoisyLabelsError(f"unknown detector '{name}'; choose one of: {', '.join(detectors())}")
    return name


def training_config(config: Config, detector: str) -> Config:
    """The config of the training run the detector reads (user method options are kept). It holds out
    no validation split: detection scores every training sample and selects no epoch."""
    data = {"val_fraction": 0.0}
    if detector in RECIPES:
        return config.replace(method={"name": "ce", "options": dict(config.method.options)}, data=data)
    options, epochs = METHODS.get(detector).for_detection(dict(config.method.options), config.optim.epochs)
    return config.replace(method={"name": detector, "options": options}, optim={"epochs": epochs}, data=data)


def cross_validated_probs(config: Config, folds: int, splits: Optional[Splits] = None
                          ) -> tuple[np.ndarray, object, float, list[dict]]:
    """Out-of-sample softmax probabilities from ``folds`` ``ce`` trainings, each on the other folds
    (of ``splits`` when given: e.g. labels you hold, with ``noise: none``)."""
    from .data.prepare import prepare_data

    config.validate()
    # The noisy labels, fixed once for every fold; every training sample is scored, none held out.
    data = prepare_data(config.replace(data={"val_fraction": 0.0}), splits)
    train, test = data.train, data.test
    labels = train.labels.numpy()
    probs = np.zeros((len(labels), train.num_classes))
    order = np.random.default_rng(config.run.seed).permutation(len(labels))
    start, runs = time.perf_counter(), []
    for k in range(folds):
        held = np.sort(order[k::folds])
        kept = np.setdiff1d(np.arange(len(labels)), held)
        fold = config.replace(noise={"type": "none"}, data={"subset": None, "test_subset": None, "val_fraction": 0.0},
                              run={"out": str(Path(config.run.out) / f"fold{k + 1}")})
        # Noise is already applied: the fold trains on the observed labels of the other folds.
        trainer = Trainer(fold, Splits(train.subset(kept), test))
        runs.append(trainer.fit())
        logits = trainer.logits_on(train.x[held], lambda x: trainer.method.predict(trainer, x))
        probs[held] = torch.softmax(logits.double(), 1).cpu().numpy()
    return probs, data, time.perf_counter() - start, runs


def detect(config: Config, detector: str, run: Optional[str] = None, folds: int = 2,
           contact_sheet: bool = False, splits: Optional[Splits] = None) -> dict:
    """Run the detector; write ``label_issues.csv`` and ``detection.json`` into the run folder.
    ``splits``: in-memory data to train on instead of the config's data set."""
    check_detector(detector)
    start = time.perf_counter()
    if detector == "confident":
        if run is not None:
            raise NoisyLabelsError("--run with the confident detector: it needs cross-validated probabilities, "
                                   "not one run; drop --run or pick aum, rsl, small_loss or dividemix")
        if folds < 2:
            raise NoisyLabelsError(f"--folds must be at least 2 for cross-validation, got {folds}")
        folder = Path(config.run.out or "runs/detect-confident")
        config = config.replace(run={"out": str(folder)}, method={"name": "ce", "options": {}})
        probs, data, _, _ = cross_validated_probs(config, folds, splits)
        labels, truth, images, trainings = _labels(data.train) + (data.train.x, folds)
        quality = label_quality_scores(labels, pred_probs=probs)
        mask = find_label_issues(labels, pred_probs=probs)
        suggested = probs.argmax(1)
    else:
        if run is None:  # train with recording first
            trainer = Trainer(training_config(config, detector), splits)
            trainer.fit()
            folder = trainer.out
            labels, truth, images, trainings = _labels(trainer.data.train) + (trainer.data.train.x, 1)
        else:
            folder = Path(run)
            labels, truth = rundir.read_labels(folder)
            images, trainings = None, 0
        stats = load_run(folder).stats
        score = "small_loss" if detector == "small_loss" else "auto"  # auto: what the method declares
        quality = label_quality_scores(labels, run=folder, method=score)
        mask = own_flags(stats, NAMED["small_loss"] if score == "small_loss" else run_quality_spec(folder))
        mask = find_label_issues(labels, run=folder, method=score) if mask is None else mask
        prediction = stats["prediction"].numpy()
        suggested = np.where(prediction >= 0, prediction, labels)  # never predicted: keep the label
    folder.mkdir(parents=True, exist_ok=True)
    write_label_issues_csv(folder / rundir.LABEL_ISSUES, labels, quality, mask, suggested, truth)
    result = {"detector": detector, "flagged": int(mask.sum()), "samples": len(labels),
              "trainings": trainings, "wall_time": time.perf_counter() - start}
    if truth is not None and (truth != labels).any():
        result.update(detection_metrics(mask, labels, truth))
    if contact_sheet:
        result["contact_sheet"] = str(write_contact_sheet(folder, images, labels, suggested, quality, mask))
    atomic_write_json(folder / rundir.DETECTION, result)
    result["folder"] = str(folder)
    return result


def _labels(split) -> tuple[np.ndarray, Optional[np.ndarray]]:
    truth = None if split.true_labels is None else split.true_labels.numpy()
    return split.labels.numpy(), truth


def write_contact_sheet(folder: Path, images, labels, suggested, quality, mask, limit: int = 48) -> Path:
    """The most suspicious flagged images in a grid, captioned "given -> suggested"."""
    from .figures import plot_image_grid

    if images is None or images.ndim != 4:
        raise NoisyLabelsError("--contact-sheet needs image data (N, C, H, W); this data set has none "
                               "(with --run, re-run detection without --run to have the images)")
    order = [i for i in rank_order(quality).tolist() if mask[i]][:limit]
    if not order:
        raise NoisyLabelsError("no sample was flagged, so there is no contact sheet to draw")
    titles = [f"#{i}: {labels[i]} -> {suggested[i]}" for i in order]
    return plot_image_grid(images[order], titles, folder / rundir.LABEL_ISSUES_SHEET,
                           title="most suspicious flagged samples: given -> suggested label")

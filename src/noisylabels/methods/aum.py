"""AUM, area under the margin (Pleiss, Zhang, Elenberg, Weinberger, NeurIPS 2020).

Detection: ``runs`` runs of ``detect_epochs`` epochs, each a fresh network with C+1 outputs trained
at a constant learning rate (the official recipe measures before the first lr drop) on the observed
labels, with N//(C+1) threshold samples relabelled to the fake class C (disjoint across runs). Each
sample's margin against its training label is summed from the training forward pass (as the
official code does; the run's first epoch is skipped, as there, unless the run has only one), so
AUM = mean margin. A real sample is flagged when its AUM is below the threshold samples' cut-off
(``aum_threshold``); it is removed when flagged in every run in which it was a real sample.
Retraining: a fresh C-output network on the kept samples with the run's optimiser and schedule.

With a budget of exactly runs*detect_epochs epochs the run ends after detection (``retrain``).
"""
from __future__ import annotations

import dataclasses
from typing import Optional

import torch
import torch.nn.functional as F

from ..errors import NoisyLabelsError
from ..functional import (aum_flags, aum_threshold, assign_threshold_samples, combine_runs, logit_margin,
                          threshold_labels)
from ..options import BOOL, POSITIVE_INT, Interval, Real
from ..quality import NAMED
from .base import METHODS, Method, MethodInfo, StepOutput
from .rates import estimate_rate

# The threshold draw gets its own random stream: a generator seeded with the bare run seed would
# repeat the loader's first shuffle, making the threshold set the first batches of epoch one.
THRESHOLD_SEED_OFFSET = 7919


def detection_scores(flagged: torch.Tensor, mislabeled: torch.Tensor, prefix: str) -> dict:
    """Precision (flagged samples that are mislabeled), recall (mislabeled samples flagged) and F1."""
    hits = int((flagged & mislabeled).sum())
    precision = hits / max(1, int(flagged.sum()))
    recall = hits / max(1, int(mislabeled.sum()))
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {f"{prefix}_precision": precision, f"{prefix}_recall": recall, f"{prefix}_f1": f1}


@METHODS.register("aum")
class AUM(Method):
    """Options: ``detect_epochs`` (per detection run; default epochs // (runs+1)), ``runs`` (2),
    ``percentile`` (99: flag below the threshold samples' 99th percentile AUM), ``retrain``
    (default: when the budget leaves epochs after detection; true/false make that a requirement)."""
    info = MethodInfo(quality=NAMED["aum"], selects=True)

    @classmethod
    def for_detection(cls, options: dict, epochs: int) -> tuple[dict, int]:
        """No retraining: the budget is split into the threshold-sample runs."""
        options = {"runs": 2, **options}
        options = {"detect_epochs": max(1, epochs // options["runs"]), "retrain": False, **options}
        return options, options["runs"] * options["detect_epochs"]

    summed = ("margin_sum", "margin_count")  # each rank adds the margins of its own batches
    # The paper: 2 runs, the 99th percentile. Whether the budget fits is checked in setup.
    option_constraints = {"detect_epochs": [POSITIVE_INT, None], "runs": POSITIVE_INT,
                          "percentile": Interval(Real, 0, 100, closed="right"), "retrain": [BOOL, None]}

    def __init__(self, detect_epochs: Optional[int] = None, runs: int = 2, percentile: float = 99.0,
                 retrain: Optional[bool] = None):
        self.detect_epochs, self.runs, self.percentile, self.retrain = detect_epochs, runs, float(percentile), retrain
        self.current_run: Optional[int] = None  # detection run of this epoch; None while retraining
        self.measuring = False
        self.labels: Optional[torch.Tensor] = None  # this run's training labels (N,)
        self.kept: Optional[torch.Tensor] = None  # (N,) bool, set when detection ends
        self.run_metrics: list[dict] = []
        self.removal: dict = {}

    # ----------------------------------------------------------------- setup
    def setup(self, trainer):
        epochs = trainer.config.optim.epochs
        self.detect_epochs = self.detect_epochs or max(1, epochs // (self.runs + 1))
        detection = self.runs * self.detect_epochs
        if detection > epochs:
            raise NoisyLabelsError(f"aum needs runs*detect_epochs = {self.runs}*{self.detect_epochs} = {detection} "
                                   f"epochs but optim.epochs is {epochs}; raise optim.epochs or lower detect_epochs "
                                   "or runs")
        left = epochs - detection
        if self.retrain is None:
            self.retrain = left > 0
        elif self.retrain and left == 0:
            raise NoisyLabelsError(f"aum retrain needs epochs after the {detection} detection epochs; set optim.epochs "
                                   f"> {detection} (runs*detect_epochs) or lower detect_epochs")
        elif not self.retrain and left > 0:
            raise NoisyLabelsError(f"aum retrain=false leaves {left} epochs unused; set optim.epochs to {detection} "
                                   "(runs*detect_epochs) or drop retrain=false")
        num_samples, classes, device = len(trainer.train_y), trainer.num_classes, trainer.device
        self.num_classes = classes
        self.skip = 1 if self.detect_epochs > 1 else 0  # unmeasured first epoch of each run
        generator = torch.Generator().manual_seed(trainer.config.run.seed + THRESHOLD_SEED_OFFSET)
        taken = torch.zeros(num_samples, dtype=torch.bool)
        sets = []
        for _ in range(self.runs):
            sets.append(assign_threshold_samples(num_samples, classes, generator, exclude=taken))
            taken |= sets[-1]
        self.is_threshold = trainer.broadcast(torch.stack(sets).to(device))  # (runs, N), the same on every rank
        self.margin_sum = torch.zeros(self.runs, num_samples, device=device)
        self.margin_count = torch.zeros(self.runs, num_samples, device=device)
        self.aum = torch.full((self.runs, num_samples), float("nan"), device=device)
        self.flags = torch.zeros(self.runs, num_samples, dtype=torch.bool, device=device)
        self.cutoffs: list[float] = []
        # Detection trains at the run's learning rate, without decay (the official detection runs
        # have no lr drop); retraining uses the run's own schedule.
        self.detect_optim = dataclasses.replace(trainer.config.optim, schedule="constant")

    def run_of(self, epoch: int) -> Optional[int]:
        """The detection run an epoch belongs to, or None for a retraining epoch."""
        return epoch // self.detect_epochs if epoch < self.runs * self.detect_epochs else None

    # ----------------------------------------------------------------- events
    def on_epoch_start(self, trainer, epoch):
        run = self.current_run = self.run_of(epoch)
        if run is None:
            if epoch == self.runs * self.detect_epochs:  # a fresh C-output network on the kept samples
                trainer.restart_network(0)
                trainer.loader.indices = self.kept.nonzero().flatten()
            return
        start = run * self.detect_epochs
        if epoch == start:
            trainer.restart_network(0, self.detect_optim, num_outputs=self.num_classes + 1)
        self.measuring = epoch - start >= self.skip
        self.labels = threshold_labels(trainer.train_y, self.is_threshold[run], self.num_classes)

    def training_step(self, trainer, batch):
        logits = trainer.forward(0, batch.x)
        if self.current_run is None:
            losses = trainer.loss_fn(logits, batch.y)
            return StepOutput(losses.mean(), losses, logits)
        labels = self.labels[batch.idx]  # observed labels, threshold samples on the fake class
        loss = trainer.loss_fn(logits, labels).mean()
        detached = logits.detach()
        if self.measuring:  # margins of the pre-step forward pass, as the official code records
            self.margin_sum[self.current_run].index_add_(0, batch.idx, logit_margin(detached, labels))
            self.margin_count[self.current_run].index_add_(0, batch.idx, torch.ones_like(detached[:, 0]))
        # For the engine's store and train accuracy: the C real-class logits against the observed
        # labels, with a plain cross-entropy (no gradient), so every epoch records every sample.
        observed = detached[:, :self.num_classes]
        return StepOutput(loss, F.cross_entropy(observed, batch.y, reduction="none"), observed)

    def on_epoch_end(self, trainer, epoch):
        run = self.run_of(epoch)
        if run is None:
            return {"stage": "retrain", **trainer.selection_metrics(self.kept)}
        row = {"stage": f"detect{run + 1}"}
        if epoch == (run + 1) * self.detect_epochs - 1:
            row.update(self._finish_run(trainer, run))
            if run == self.runs - 1:
                row.update(self._finish_detection(trainer))
        return row

    def predict(self, trainer, x):
        return trainer.forward(0, x)[:, :self.num_classes]  # the fake class is no answer

    # ----------------------------------------------------------------- detection results
    def _mislabeled(self, trainer) -> Optional[torch.Tensor]:
        return None if trainer.true_y is None else trainer.train_y != trainer.true_y

    def _finish_run(self, trainer, run: int) -> dict:
        aum = self.margin_sum[run] / self.margin_count[run]
        is_threshold = self.is_threshold[run]
        self.aum[run] = aum
        self.flags[run] = trainer.broadcast(aum_flags(aum, is_threshold, self.percentile))  # rank 0 decides
        self.cutoffs.append(aum_threshold(aum, is_threshold, self.percentile))
        idx = torch.arange(len(aum), device=aum.device)
        trainer.stats.set_value(f"aum_run{run + 1}", idx, aum)
        trainer.stats.set_value("aum", idx, self._real_aum(run + 1))
        metrics = {"threshold_aum": self.cutoffs[-1], "flagged": int(self.flags[run].sum())}
        mislabeled = self._mislabeled(trainer)
        if mislabeled is not None:  # recall among this run's real samples (threshold ones cannot be flagged)
            scores = detection_scores(self.flags[run], mislabeled & ~is_threshold, "flag")
            metrics.update(flag_precision=scores["flag_precision"], flag_recall=scores["flag_recall"])
        self.run_metrics.append(metrics)
        return metrics

    def _real_aum(self, done: int) -> torch.Tensor:
        """(N,) AUM averaged over the first ``done`` runs in which each sample was a real sample."""
        real = ~self.is_threshold[:done]
        total = torch.where(real, self.aum[:done], torch.zeros_like(self.aum[:done])).sum(0)
        return total / real.sum(0)  # NaN for a sample that was a threshold sample in every run

    def _rate_estimate(self, trainer) -> float:
        """AUM takes no rate; for the report, the shared estimator on each sample's mean loss over the
        detection runs in which it was a real sample (a threshold sample's observed label was not
        its training label)."""
        runs = [trainer.stats.mean_loss(list(range(r * self.detect_epochs, (r + 1) * self.detect_epochs)))
                for r in range(self.runs)]
        real = ~self.is_threshold
        losses = torch.where(real, torch.stack(runs), torch.zeros_like(self.aum)).sum(0)
        return estimate_rate(trainer, scores=losses / real.sum(0))

    def _finish_detection(self, trainer) -> dict:
        removed = combine_runs(list(self.flags), list(self.is_threshold))
        self.kept = ~removed
        idx = torch.arange(len(removed), device=removed.device)
        trainer.stats.set_value("flagged", idx, removed.float())
        run_number = torch.arange(1, self.runs + 1, device=removed.device)[:, None]
        trainer.stats.set_value("threshold_run", idx, (self.is_threshold * run_number).sum(0))
        self.removal = {"removed": int(removed.sum()), "kept": int(self.kept.sum()),
                        "noise_rate_estimate": self._rate_estimate(trainer)}
        mislabeled = self._mislabeled(trainer)
        if mislabeled is not None:
            self.removal.update(detection_scores(removed, mislabeled, "removed"))
        return {**self.removal, **trainer.selection_metrics(self.kept)}

    def report(self, trainer):
        report = {"runs": self.runs, "detect_epochs": self.detect_epochs,
                  "measured_epochs_per_run": self.detect_epochs - self.skip, "percentile": self.percentile,
                  "threshold_samples_per_run": int(self.is_threshold[0].sum()), "retrain": self.retrain,
                  "threshold_aum": list(self.cutoffs), "flagged": [m["flagged"] for m in self.run_metrics]}
        if self.run_metrics and "flag_precision" in self.run_metrics[0]:
            report["flag_precision"] = [m["flag_precision"] for m in self.run_metrics]
            report["flag_recall"] = [m["flag_recall"] for m in self.run_metrics]
        return {**report, **self.removal}


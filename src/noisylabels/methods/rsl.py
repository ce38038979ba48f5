"""RSL, the reformalized small-loss criterion (Gui, Wang, Tian, IJCAI 2021).

Stage one trains with the plain loss and records every sample's loss every epoch (the engine's
statistics store). The selection scores each sample by its loss averaged over a window of epochs,
ranks *within each observed class*, keeps n_i * max(1-(1+b)eta_i, (1-b)(1-eta_i)) per class, and
weights the kept samples by exp(-kappa t) of their class-normalised score. Stage two trains a fresh
network on the kept, weighted samples. With ``stage1_epochs`` equal to the epoch budget the run
stops after selecting (stage one and the selection alone).

Schedules, as the official pipeline's: stage one is a complete CE run, its learning-rate schedule
compressed into [0, stage1_epochs) so that it ends annealed (the averaged losses then include those
of a converged network, whatever the budget); stage two's network gets its own complete schedule
over the remaining epochs, fresh (``restart``, the official) or continuing stage one's weights
(``restart=false``, the equal-compute variant).
"""
from __future__ import annotations

import time
from typing import Optional, Union

import torch

from ..diagnostics import small_loss_premise
from ..errors import NoisyLabelsError
from ..functional import (RSL_KAPPA, class_weighted_rate, classwise_select, estimate_noise_rates, rsl_keep_counts,
                          rsl_weights)
from ..functional.noise_rates import ESTIMATORS
from ..options import BOOL, NON_NEGATIVE, POSITIVE_INT, Choice, Interval, ListOf, Real
from ..quality import NAMED
from .base import METHODS, Method, MethodInfo, StepOutput
from .rates import AUTO, rate_report, stated_rate

RATE = Interval(Real, 0, 1, closed="left")  # a noise rate


@METHODS.register("rsl")
class RSL(Method):
    """Options: ``eta`` = "auto" (default: the configured rate for every class under synthetic noise,
    else the estimate), "estimate" (always), "true" (the known per-class rates), one rate or a list
    of C rates; ``estimator`` = gmm | prediction; ``average_last`` k / ``average_until`` epoch e: the
    window of stage-one epochs averaged (default: all of them); ``restart`` (true: stage two trains a
    fresh network, false: stage one's network continues on the kept samples, with a new complete
    schedule over the remaining epochs either way)."""
    # Ranges that depend on the epoch budget are checked in setup.
    option_constraints = {
        "stage1_epochs": [POSITIVE_INT, None], "eta": [Choice(AUTO, "estimate", "true"), RATE, ListOf(RATE)],
        "estimator": Choice(*ESTIMATORS), "b": Interval(Real, 0, 1, closed="left"), "kappa": NON_NEGATIVE,
        "average_last": [POSITIVE_INT, None], "average_until": [POSITIVE_INT, None], "weighted": BOOL,
        "restart": BOOL,
    }
    info = MethodInfo(quality=NAMED["classwise_loss"], selects=True, rate_option="eta")

    @classmethod
    def for_detection(cls, options: dict, epochs: int) -> tuple[dict, int]:
        """Selection only: stage one (the averaged losses) is the whole budget."""
        return {"stage1_epochs": epochs, **options}, epochs

    def __init__(self, stage1_epochs: Optional[int] = None, eta: Union[str, float, list] = AUTO,
                 estimator: str = "gmm", b: float = 0.2, kappa: float = RSL_KAPPA,
                 average_last: Optional[int] = None, average_until: Optional[int] = None,
                 weighted: bool = True, restart: bool = True):
        self.stage1_epochs, self.eta, self.estimator, self.b, self.kappa = stage1_epochs, eta, estimator, b, kappa
        self.average_last, self.average_until = average_last, average_until
        self.weighted, self.restart = weighted, restart
        self.weights: Optional[torch.Tensor] = None  # set at the selection; None during stage one
        self.selected: Optional[torch.Tensor] = None
        self._report: dict = {}

    def setup(self, trainer):
        epochs, classes = trainer.config.optim.epochs, trainer.num_classes
        self.stage1_epochs = self.stage1_epochs or max(1, epochs // 2)
        if not 1 <= self.stage1_epochs <= epochs:
            raise NoisyLabelsError(f"rsl stage1_epochs must be in [1, {epochs}] (the epoch budget), got {self.stage1_epochs}")
        for name, value in (("average_last", self.average_last), ("average_until", self.average_until)):
            if value is not None and not 1 <= value <= self.stage1_epochs:
                raise NoisyLabelsError(f"rsl {name}={value} asks for a window longer than the {self.stage1_epochs} "
                                       f"recorded stage-one epochs; use 1..{self.stage1_epochs}")
        # Stage one is a complete schedule that ends annealed at stage1_epochs, as the official 200-epoch run.
        trainer.set_schedule(0, 0, self.stage1_epochs)
        self.eta_given = self._given_eta(trainer, classes)
        sizes = torch.bincount(trainer.train_y, minlength=classes)
        if (sizes == 0).any():
            raise NoisyLabelsError(f"observed class(es) {(sizes == 0).nonzero().flatten().tolist()} have no training "
                                   "samples; RSL ranks within each class, so every class needs samples")

    def _given_eta(self, trainer, classes: int) -> Optional[torch.Tensor]:
        """The per-class rates to select with, None: the estimate; sets ``rate_source``."""
        named = isinstance(self.eta, str)
        self.rate_source = {AUTO: "config", "true": "truth"}.get(self.eta, "estimate") if named else "given"
        if self.eta == AUTO and (rate := stated_rate(trainer)) is not None:  # as the official code
            return torch.full((classes,), rate, dtype=torch.float64)
        if named and self.eta in (AUTO, "estimate"):
            self.rate_source = "estimate"
            return None
        if self.eta == "true":
            if "per_observed_class_rate" not in trainer.data.noise:
                raise NoisyLabelsError("rsl eta='true' needs known true labels; use eta=estimate or give the rates")
            return torch.tensor(trainer.data.noise["per_observed_class_rate"], dtype=torch.float64)
        rates = torch.as_tensor(self.eta, dtype=torch.float64).flatten()
        rates = rates.expand(classes) if len(rates) == 1 else rates
        if len(rates) != classes:
            raise NoisyLabelsError(f"rsl eta has {len(rates)} noise rates for {classes} classes; give one per class")
        return rates

    def window(self, recorded: int) -> list[int]:
        """Stage-one epoch indices averaged when ``recorded`` epochs are available."""
        epochs = list(range(min(recorded, self.average_until or recorded)))
        return epochs[-self.average_last:] if self.average_last else epochs

    def select(self, trainer, recorded: int) -> dict:
        """Select from the first ``recorded`` epochs; returns the selection's metrics."""
        labels, classes = trainer.train_y, trainer.num_classes
        scores = trainer.stats.mean_loss(self.window(recorded))  # float32 even from a float16 memmap
        estimated = estimate_noise_rates(self.estimator, scores=scores, predictions=trainer.stats.prediction,
                                         labels=labels, num_classes=classes)
        eta = self.eta_given if self.eta_given is not None else estimated
        counts = rsl_keep_counts(torch.bincount(labels, minlength=classes).cpu(), eta, self.b)
        selected = classwise_select(scores, labels, counts)
        self.scores, self.estimated, self.eta_used, self.counts = scores, estimated, eta, counts
        rate = round(class_weighted_rate(estimated, labels, classes), 6)  # the global estimate
        return {"eta_estimated_mean": estimated.mean().item(), "noise_rate_estimate": rate,
                **trainer.selection_metrics(selected)}, selected

    def on_epoch_start(self, trainer, epoch):
        if epoch == self.stage1_epochs:  # stage two on the kept samples, with a complete schedule of its own
            if self.restart:
                trainer.restart_network(0)
            else:
                trainer.set_schedule(0, epoch, trainer.config.optim.epochs)
            trainer.loader.indices = self.selected.nonzero().flatten()

    def training_step(self, trainer, batch):
        logits = trainer.forward(0, batch.x)
        losses = trainer.loss_fn(logits, batch.y)
        if self.weights is not None and self.weighted:
            return StepOutput((self.weights[batch.idx] * losses).mean(), losses, logits)
        return StepOutput(losses.mean(), losses, logits)

    def on_epoch_end(self, trainer, epoch):
        if epoch < self.stage1_epochs:
            # Every stage-one epoch: the selection RSL would make now (a diagnostic of the window).
            start = time.perf_counter()
            metrics, selected = self.select(trainer, epoch + 1)
            metrics["select_time"] = time.perf_counter() - start  # ranking cost, for the benchmarks
            if epoch == self.stage1_epochs - 1:
                self._finalise(trainer, selected)
            return {"stage": 1, **metrics}
        return {"stage": 2, **trainer.selection_metrics(self.selected)}

    def _finalise(self, trainer, selected: torch.Tensor) -> None:
        labels, classes = trainer.train_y, trainer.num_classes
        idx = torch.arange(len(labels), device=labels.device)
        decision = (selected, self.scores, self.estimated, self.eta_used)
        selected, self.scores, estimated, eta = trainer.broadcast(decision)  # rank 0 decides for all
        self.selected, self.estimated, self.eta_used = selected, estimated.cpu(), eta.cpu()
        self.weights = rsl_weights(self.scores, labels, classes, self.kappa)
        trainer.stats.set_value("score", idx, self.scores)
        trainer.stats.set_value("weight", idx, torch.where(selected, self.weights, torch.zeros_like(self.weights)))
        truth = trainer.data.noise.get("per_observed_class_rate")
        self._report = {
            "stage1_epochs": self.stage1_epochs, "restart": self.restart,
            "window_epochs": [e + 1 for e in self.window(self.stage1_epochs)],
            **rate_report(class_weighted_rate(self.eta_used, labels, classes), self.rate_source,
                          round(class_weighted_rate(self.estimated, labels, classes), 6)),
            "eta_source": "estimated" if self.eta_given is None else str(self.eta),
            "eta_used": [round(v, 6) for v in self.eta_used.tolist()],
            "eta_estimated": [round(v, 6) for v in self.estimated.tolist()],
            "eta_true": truth,
            "eta_abs_error": (None if truth is None else
                              round((self.estimated - torch.tensor(truth, dtype=torch.float64)).abs().mean().item(), 6)),
            "keep_counts": self.counts.tolist(),
            "selection": trainer.selection_metrics(selected),
            "premise": small_loss_premise(self.scores, labels, trainer.stats.prediction, classes, trainer.true_y),
        }

    def report(self, trainer):
        return self._report


"""SELF: learning to filter noisy labels with self-ensembling (Nguyen et al., ICLR 2020).

A mean-teacher pair: the student trains with the run's loss on the samples currently kept and a
consistency loss (squared distance between the student's and the teacher's softmax on two views)
on every sample; the teacher is an exponential moving average of the student's weights and is what
evaluation uses. Each sample's teacher prediction is averaged over epochs (an (N, C) moving average,
merged over torchrun ranks). Training runs in rounds: a round ends once the (noisy) validation
accuracy has not improved for ``patience`` epochs; then, at the round's best epoch, every sample
whose averaged prediction disagrees with its original label leaves the supervised loss (it stays in
the consistency loss) and training goes on from that epoch's weights on the new set. Rounds repeat
until a round's best validation accuracy is no better than the previous round's (training then goes
on from the best weights with their set) or ``rounds`` filterings were made.

No official code is public; what had to be decided is written in docs/methods/self_ensemble.md.
"""
from __future__ import annotations

import copy

import torch

from ..data.augment import view_augment
from ..errors import NoisyLabelsError
from ..functional.mixmatch import EMA, soft_mse
from ..options import BOOL, NON_NEGATIVE, POSITIVE_INT, Interval, Real, Type
from ..quality import LabelQuality
from .base import METHODS, Method, MethodInfo, StepOutput
from .rates import estimate_rate


def sigmoid_rampup(step: int, length: float) -> float:
    """exp(-5 (1 - t)^2) for t = step / length in [0, 1] (the mean teacher's consistency ramp)."""
    if length <= 0:
        return 1.0
    t = min(1.0, step / length)
    return float(torch.exp(torch.tensor(-5.0 * (1.0 - t) ** 2)))


@METHODS.register("self_ensemble")
class SelfEnsemble(Method):
    """Options: ``ema_decay`` (teacher, 0.99), ``momentum`` (the per-sample prediction average's
    weight on its past, 0.9), ``consistency`` (weight of the consistency loss, 1), ``rampup`` (its
    sigmoid ramp as a fraction of all steps, 0.1), ``patience`` (epochs without a better validation
    accuracy that end a round, 5), ``rounds`` (at most this many filterings, 5), ``augment`` (the
    two views: auto = crop + flip for images, feature noise for vectors), ``restart_schedule``
    (each filtering round runs the learning-rate schedule afresh over the epochs left, true)."""

    info = MethodInfo(quality=LabelQuality(value="ensemble_label_prob", higher_is_cleaner=True), selects=True)
    merged = ("ensemble",)
    option_constraints = {
        "ema_decay": Interval(Real, 0, 1, closed="left"), "momentum": Interval(Real, 0, 1, closed="left"),
        "consistency": NON_NEGATIVE, "rampup": Interval(Real, 0, 1), "patience": POSITIVE_INT,
        "rounds": POSITIVE_INT, "augment": Type(str), "restart_schedule": BOOL,
    }

    def __init__(self, ema_decay: float = 0.99, momentum: float = 0.9, consistency: float = 1.0,
                 rampup: float = 0.1, patience: int = 5, rounds: int = 5, augment: str = "auto",
                 restart_schedule: bool = True):
        self.ema_decay, self.momentum, self.consistency, self.rampup = ema_decay, momentum, consistency, rampup
        self.patience, self.rounds, self.augment_name = patience, rounds, augment
        self.restart_schedule = restart_schedule
        self.best = None  # this round's best epoch: validation accuracy, weights, prediction average
        self.previous_best = float("-inf")  # the best validation accuracy of the rounds before
        self.stale = 0  # epochs of this round since its best
        self.filtering = True  # False once the rounds have ended
        self.filterings: list[dict] = []
        self.steps = 0
        self.rate_estimate = None

    def setup(self, trainer):
        if trainer.data.val is None:
            raise NoisyLabelsError("self_ensemble ends its rounds on the validation accuracy; keep a validation "
                                   "split (data.val_fraction > 0, the default 0.1)")
        self.augment = view_augment(self.augment_name, trainer.data.train.in_shape)
        num_samples, classes = len(trainer.train_y), trainer.num_classes
        self.ensemble = torch.full((num_samples, classes), 1.0 / classes, device=trainer.device)
        self.kept = torch.ones(num_samples, dtype=torch.bool, device=trainer.device)
        self.teacher = EMA(trainer.models[0], self.ema_decay)
        self.ramp_steps = self.rampup * max(1, len(trainer.loader)) * trainer.config.optim.epochs

    # ----------------------------------------------------------------- rounds
    def on_epoch_start(self, trainer, epoch):
        if epoch == 0 or not self.filtering:
            return
        accuracy = trainer.history[-1]["val_acc"]  # the teacher's, after the previous epoch
        if self.best is None or accuracy > self.best["val_acc"]:
            self.best = {"val_acc": accuracy, "epoch": epoch, "student": copy.deepcopy(trainer.models[0].state_dict()),
                         "optimizer": copy.deepcopy(trainer.optimizers[0].state_dict()),
                         "teacher": copy.deepcopy(self.teacher.state_dict()), "ensemble": self.ensemble.clone()}
            self.stale = 0
        else:
            self.stale += 1
        if self.stale >= self.patience:
            self.end_round(trainer, epoch)

    def end_round(self, trainer, epoch: int) -> None:
        """Back to the round's best epoch; filter there, or stop filtering if the round did not help."""
        best = self.best
        trainer.models[0].load_state_dict(best["student"])
        trainer.optimizers[0].load_state_dict(best["optimizer"])
        self.teacher.load_state_dict(best["teacher"])
        self.ensemble = best["ensemble"].clone()
        improved = best["val_acc"] > self.previous_best
        if improved:  # filter all samples afresh, against their original labels
            self.kept = trainer.broadcast(self.ensemble.argmax(1) == trainer.train_y)
            if self.restart_schedule:  # the new round is a training of its own over the epochs left
                trainer.set_schedule(0, epoch, trainer.config.optim.epochs)
        self.filterings.append({"epoch": epoch, "best_epoch": best["epoch"], "best_val_acc": best["val_acc"],
                                "filtered": improved, "kept": int(self.kept.sum())})
        self.previous_best = max(self.previous_best, best["val_acc"])
        self.filtering = improved and sum(f["filtered"] for f in self.filterings) < self.rounds
        self.best, self.stale = None, 0

    # ----------------------------------------------------------------- steps
    def training_step(self, trainer, batch):
        gen = trainer.loader.generator
        student_view, teacher_view = self.augment(batch.x, gen), self.augment(batch.x, gen)
        logits = trainer.forward(0, student_view)
        losses = trainer.loss_fn(logits, batch.y)
        kept = self.kept[batch.idx].float()
        supervised = (losses * kept).sum() / kept.sum().clamp_min(1.0)
        with torch.no_grad():
            teacher = self.teacher.model(teacher_view).float().softmax(1)
            self.ensemble[batch.idx] = self.momentum * self.ensemble[batch.idx] + (1 - self.momentum) * teacher
        weight = self.consistency * sigmoid_rampup(self.steps, self.ramp_steps)
        self.steps += 1
        return StepOutput(supervised + weight * soft_mse(logits, teacher).mean(), losses, logits)

    def after_step(self, trainer):
        self.teacher.update(trainer.models[0])

    def on_epoch_end(self, trainer, epoch):
        label_prob = self.ensemble.gather(1, trainer.train_y[:, None]).squeeze(1)
        every = torch.arange(len(label_prob), device=trainer.device)
        trainer.stats.set_value("ensemble", every, self.ensemble)  # (N, C), in stats.pt
        trainer.stats.set_value("ensemble_label_prob", every, label_prob)
        # The noise rate the filtering implies, for comparison with the other methods: the share of
        # samples outside the supervised set (the shared estimate before any filtering). Computed
        # here on every rank: report() runs on rank 0 only and must not broadcast.
        if any(f["filtered"] for f in self.filterings):
            self.rate_estimate = round(1.0 - self.kept.float().mean().item(), 6)
        else:
            self.rate_estimate = estimate_rate(trainer)
        return {"round": len(self.filterings) + 1, **trainer.selection_metrics(self.kept)}

    def predict(self, trainer, x):
        return self.teacher.model(x).float()

    def report(self, trainer):
        return {"filterings": self.filterings, "noise_rate_estimate": self.rate_estimate}

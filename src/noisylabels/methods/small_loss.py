"""The vanilla small-loss criterion: train on the samples with the smallest current loss."""
from __future__ import annotations

import torch

from ..functional import forget_rate_schedule, masked_mean, small_loss_mask
from ..options import NON_NEGATIVE_INT, POSITIVE, Choice, Interval, Real
from ..quality import NAMED
from .base import METHODS, Method, MethodInfo, StepOutput
from .rates import AUTO, MAX_FORGET, estimate_rate, rate_report, stated_rate

# The forget-rate schedule's options, shared with co-teaching.
SCHEDULE_OPTIONS = {"forget_rate": [Choice(AUTO), Interval(Real, 0, 1, closed="left")],
                    "num_gradual": NON_NEGATIVE_INT, "exponent": POSITIVE}


class ForgetRateSchedule:
    """Co-teaching's forget-rate schedule with ``forget_rate=auto``: the config's rate under synthetic
    noise, else an estimate, re-made at the start of every epoch from 1 until the ramp ends (epoch
    ``num_gradual``, Co-teaching's T_k; epoch 1 only without a ramp), each from the previous epoch's
    recorded losses; after that the last estimate stays. Why: an estimate from the first epochs'
    losses runs high (0.4-0.55 on clean labels), while the ramp keeps early forget rates small
    anyway, so the rate that matters is the one estimated when the ramp reaches it. Until epoch 1
    it forgets nothing: the ramp starts at 0 (with num_gradual=0, epoch 0 keeps every sample)."""

    def init_schedule(self, trainer) -> None:
        rate = None if self.forget_rate == AUTO else float(self.forget_rate)
        self.rate_source = "given" if rate is not None else "estimate"
        if rate is None and (rate := stated_rate(trainer)) is not None:
            self.rate_source = "config"
        self.rate_used, self.rate_estimate = rate, None
        self.rate_estimates: dict[int, float] = {}  # epoch -> the estimate made at its start
        self.schedule = self._schedule(trainer, rate or 0.0)

    def _schedule(self, trainer, rate: float) -> list[float]:
        return forget_rate_schedule(rate, trainer.config.optim.epochs, self.num_gradual, self.exponent)

    def update_schedule(self, trainer, epoch: int) -> None:
        """Without a rate: (re-)estimate it from the previous epoch's losses and rebuild the schedule,
        at the start of every epoch in [1, max(1, num_gradual)]."""
        if self.rate_source == "estimate" and 1 <= epoch <= max(1, self.num_gradual):
            self.rate_estimate = estimate_rate(trainer, [epoch - 1])
            self.rate_estimates[epoch] = self.rate_estimate
            self.rate_used = min(self.rate_estimate, MAX_FORGET)
            self.schedule = self._schedule(trainer, self.rate_used)

    def schedule_metrics(self, epoch: int) -> dict:
        row = {"forget_rate": self.schedule[epoch]}
        if epoch in self.rate_estimates:  # each estimate is logged in the epoch it was made
            row["noise_rate_estimate"] = self.rate_estimates[epoch]
        return row

    def report(self, trainer) -> dict:
        return rate_report(self.rate_used, self.rate_source, self.rate_estimate)


@METHODS.register("small_loss")
class SmallLoss(ForgetRateSchedule, Method):
    """One network; keep the (1 - forget rate) fraction of samples with the smallest current loss.

    per="epoch": at each epoch start, rank the whole training set by the loss recorded in the
    previous epoch (read from the statistics store, not recomputed). per="batch": rank within each
    batch. The forget rate ramps up linearly over ``num_gradual`` epochs, as in Co-teaching;
    ``forget_rate=auto`` (default): see ``ForgetRateSchedule``.
    """
    info = MethodInfo(quality=NAMED["small_loss"], selects=True, rate_option="forget_rate")

    merged = ("selected",)  # per-batch selections: each rank sets its own samples
    option_constraints = {**SCHEDULE_OPTIONS, "per": Choice("epoch", "batch")}

    def __init__(self, forget_rate: float | str = AUTO, num_gradual: int = 10, exponent: float = 1.0,
                 per: str = "epoch"):
        self.forget_rate, self.num_gradual, self.exponent, self.per = forget_rate, num_gradual, exponent, per

    def setup(self, trainer):
        self.init_schedule(trainer)
        self.selected = torch.ones(len(trainer.train_y), dtype=torch.bool, device=trainer.device)

    def keep(self, epoch: int) -> float:
        return 1.0 - self.schedule[epoch]

    def on_epoch_start(self, trainer, epoch):
        self.update_schedule(trainer, epoch)
        if self.per == "epoch" and epoch > 0:
            current = trainer.stats.epoch_values(trainer.stats.loss, epoch - 1)
            current = current.nan_to_num(nan=float("inf"))  # unrecorded: last
            self.selected = small_loss_mask(current, self.keep(epoch))

    def training_step(self, trainer, batch):
        logits = trainer.forward(0, batch.x)
        losses = trainer.loss_fn(logits, batch.y)
        if self.per == "batch":
            self.selected[batch.idx] = small_loss_mask(losses.detach(), self.keep(trainer.epoch))
        return StepOutput(masked_mean(losses, self.selected[batch.idx]), losses, logits)

    def on_epoch_end(self, trainer, epoch):
        return {**self.schedule_metrics(epoch), **trainer.selection_metrics(self.selected)}

"""The vanilla small-loss criterion: train on the samples with the smallest current loss."""
from __future__ import annotations

import torch

from ..errors import NoisyLabelsError
from ..functional import forget_rate_schedule, masked_mean, small_loss_mask
from ..options import NON_NEGATIVE_INT, POSITIVE, Choice, Interval, Real
from ..quality import NAMED
from .base import METHODS, Method, MethodInfo, StepOutput

# The forget-rate schedule's options, shared with co-teaching; None: the configured noise rate.
SCHEDULE_OPTIONS = {"forget_rate": [Interval(Real, 0, 1, closed="left"), None], "num_gradual": NON_NEGATIVE_INT,
                    "exponent": POSITIVE}


def resolve_forget_rate(forget_rate, trainer, method: str) -> float:
    """An explicit forget rate, else the configured noise rate (as Co-teaching's code does)."""
    if forget_rate is not None:
        return float(forget_rate)
    if trainer.config.noise.type == "none":
        raise NoisyLabelsError(f"method {method} needs forget_rate (the expected fraction of wrong labels), "
                               f"e.g. --method-arg forget_rate=0.4")
    return float(trainer.config.noise.rate)


@METHODS.register("small_loss")
class SmallLoss(Method):
    """One network; keep the (1 - forget rate) fraction of samples with the smallest current loss.

    per="epoch": at each epoch start, rank the whole training set by the loss recorded in the
    previous epoch (read from the statistics store, not recomputed). per="batch": rank within each
    batch. The forget rate ramps up linearly over ``num_gradual`` epochs, as in Co-teaching.
    """
    info = MethodInfo(quality=NAMED["small_loss"], selects=True, rate_option="forget_rate")

    merged = ("selected",)  # per-batch selections: each rank sets its own samples
    option_constraints = {**SCHEDULE_OPTIONS, "per": Choice("epoch", "batch")}

    def __init__(self, forget_rate: float | None = None, num_gradual: int = 10, exponent: float = 1.0,
                 per: str = "epoch"):
        self.forget_rate, self.num_gradual, self.exponent, self.per = forget_rate, num_gradual, exponent, per

    def setup(self, trainer):
        rate = resolve_forget_rate(self.forget_rate, trainer, "small_loss")
        self.schedule = forget_rate_schedule(rate, trainer.config.optim.epochs, self.num_gradual, self.exponent)
        self.selected = torch.ones(len(trainer.train_y), dtype=torch.bool, device=trainer.device)

    def keep(self, epoch: int) -> float:
        return 1.0 - self.schedule[epoch]

    def on_epoch_start(self, trainer, epoch):
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
        return {"forget_rate": self.schedule[epoch], **trainer.selection_metrics(self.selected)}

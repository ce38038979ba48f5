"""Co-teaching and Co-teaching+: two networks teach each other with their small-loss samples."""
from __future__ import annotations

import torch

from ..functional import masked_mean, select_within
from ..options import NON_NEGATIVE_INT, Choice
from ..quality import NAMED
from .base import METHODS, Method, MethodInfo, StepOutput
from .rates import AUTO
from .small_loss import SCHEDULE_OPTIONS, ForgetRateSchedule


@METHODS.register("coteaching")
class CoTeaching(ForgetRateSchedule, Method):
    """Each batch, each network picks its (1 - forget rate) smallest-loss samples and the *other*
    network trains on them. ``predict_with``: "net1" or "both" (mean of the two softmaxes)."""
    info = MethodInfo(quality=NAMED["small_loss"], selects=True, rate_option="forget_rate")

    merged = ("selected",)  # network 1's picks, set batch by batch on each rank

    num_networks = 2
    disagreement = False
    option_constraints = {**SCHEDULE_OPTIONS, "predict_with": Choice("net1", "both")}

    def __init__(self, forget_rate: float | str = AUTO, num_gradual: int = 10, exponent: float = 1.0,
                 predict_with: str = "net1"):
        self.forget_rate, self.num_gradual, self.exponent = forget_rate, num_gradual, exponent
        self.predict_with = predict_with
        self.init_epoch = 0

    def setup(self, trainer):
        self.init_schedule(trainer)
        self.selected = torch.zeros(len(trainer.train_y), dtype=torch.bool, device=trainer.device)

    def on_epoch_start(self, trainer, epoch):
        self.update_schedule(trainer, epoch)
        self.selected.zero_()

    def training_step(self, trainer, batch):
        logits1, logits2 = trainer.forward(0, batch.x), trainer.forward(1, batch.x)
        losses1, losses2 = trainer.loss_fn(logits1, batch.y), trainer.loss_fn(logits2, batch.y)
        candidates = torch.ones_like(batch.y, dtype=torch.bool)
        if self.disagreement and trainer.epoch >= self.init_epoch:
            candidates = logits1.argmax(1) != logits2.argmax(1)
        keep = 1.0 - self.schedule[trainer.epoch]
        picked1 = select_within(losses1.detach(), candidates, keep)  # network 1's picks teach network 2
        picked2 = select_within(losses2.detach(), candidates, keep)
        self.selected[batch.idx] = picked1
        loss = masked_mean(losses1, picked2) + masked_mean(losses2, picked1)
        return StepOutput(loss, losses1, logits1)

    def on_epoch_end(self, trainer, epoch):
        return {**self.schedule_metrics(epoch), **trainer.selection_metrics(self.selected)}

    def predict(self, trainer, x):
        if self.predict_with == "net1":
            return trainer.forward(0, x)
        probs = (torch.softmax(trainer.forward(0, x), 1) + torch.softmax(trainer.forward(1, x), 1)) / 2
        return torch.log(probs.clamp_min(1e-12))


def official_init_epoch(in_shape: tuple, epochs: int) -> int:
    """Co-teaching+'s ``init_epoch=auto``, from the official code's two settings: 0 for MNIST and
    20 of 200 epochs (10% of the budget) for CIFAR-10. MNIST-like = one-channel images of at most
    32 x 32 pixels; vectors count as MNIST-like too (small inputs the networks fit quickly)."""
    if len(in_shape) != 3 or (in_shape[0] == 1 and max(in_shape[1:]) <= 32):
        return 0
    return epochs // 10


@METHODS.register("coteaching_plus")
class CoTeachingPlus(CoTeaching):
    """Co-teaching+: from ``init_epoch`` on, only samples on which the two networks' predictions
    disagree are candidates; a batch without disagreement updates nothing. ``init_epoch`` "auto"
    (default): 0 for MNIST-like inputs, else 10% of the budget (``official_init_epoch``)."""

    disagreement = True
    option_constraints = {**CoTeaching.option_constraints, "init_epoch": [Choice(AUTO), NON_NEGATIVE_INT]}

    def __init__(self, forget_rate: float | str = AUTO, num_gradual: int = 10, exponent: float = 1.0,
                 predict_with: str = "net1", init_epoch: int | str = AUTO):
        super().__init__(forget_rate, num_gradual, exponent, predict_with)
        self.init_epoch_option = init_epoch

    def setup(self, trainer):
        super().setup(trainer)
        self.init_epoch = (official_init_epoch(trainer.data.train.in_shape, trainer.config.optim.epochs)
                           if self.init_epoch_option == AUTO else self.init_epoch_option)

    def report(self, trainer) -> dict:
        return {**super().report(trainer), "init_epoch": self.init_epoch}

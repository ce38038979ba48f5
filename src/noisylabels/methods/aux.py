"""AUX: a trainable auxiliary variable per training sample (Hu, Li, Yu, ICLR 2020).

During training the network's output for sample i is f(x_i) + lam * b_i, b_i in R^C starting at 0,
and b is trained with the network; at test time b is dropped. The auxiliary variables can absorb a
wrong label's pull, so the network need not fit it: with the squared loss, gradient descent from
b = 0 converges to kernel ridge regression on the NTK with ridge lam^2, the paper's guarantee. The
paper trains with the squared loss (``--loss mse``); any registered loss works.

What had to be decided (no official code is public): b is updated by plain SGD at the network's
current learning rate, once per visit of its sample (the mini-batch version of the paper's gradient
descent: per epoch b_i receives the same total step as under full-batch descent), with its own L2
penalty ``penalty`` (default: the run's weight decay, so that (theta, b) are regularised alike). The
per-sample loss recorded for detection is the network's own (without b): a label that b absorbs
keeps a high loss there.
"""
from __future__ import annotations

from typing import Optional

import torch

from ..options import NON_NEGATIVE, POSITIVE
from .base import METHODS, Method, StepOutput


@METHODS.register("aux")
class AuxiliaryVariables(Method):
    """Options: ``lam`` (the scale of b in the output; the ridge is lam^2), ``penalty`` (L2 on b,
    default the run's weight decay)."""

    option_constraints = {"lam": POSITIVE, "penalty": [NON_NEGATIVE, None]}
    merged = ("aux",)  # (N, C): each rank updates the rows of its own samples

    def __init__(self, lam: float = 30.0, penalty: Optional[float] = None):
        self.lam, self.penalty = float(lam), penalty
        self.pending = None  # (indices, b rows) of the current step, until after_step applies it

    def setup(self, trainer):
        self.aux = torch.zeros(len(trainer.train_y), trainer.num_classes, device=trainer.device)
        if self.penalty is None:
            self.penalty = float(trainer.config.optim.weight_decay)

    def training_step(self, trainer, batch):
        logits = trainer.forward(0, batch.x)
        rows = self.aux[batch.idx].clone().requires_grad_(True)
        loss = trainer.loss_fn(logits + self.lam * rows, batch.y).mean()
        self.pending = (batch.idx, rows)
        with torch.no_grad():
            own = trainer.loss_fn(logits, batch.y)  # the network's own loss, which detection reads
        return StepOutput(loss, own, logits)

    def after_step(self, trainer):
        idx, rows = self.pending
        self.pending = None
        lr = trainer.optimizers[0].param_groups[0]["lr"]
        with torch.no_grad():
            self.aux[idx] = rows - lr * (rows.grad + self.penalty * rows)

    def on_epoch_end(self, trainer, epoch):
        size = self.aux.norm(dim=1)
        row = {"aux_norm_mean": size.mean().item()}
        if trainer.true_y is not None:  # does b grow on the wrong labels, as it should?
            noisy = trainer.train_y != trainer.true_y
            if noisy.any() and (~noisy).any():
                row.update(aux_norm_noisy=size[noisy].mean().item(), aux_norm_clean=size[~noisy].mean().item())
        trainer.stats.set_value("aux_norm", torch.arange(len(size), device=trainer.device), size)
        return row

"""RDI: regularisation by the distance to initialisation (Hu, Li, Yu, ICLR 2020).

The training objective is the run's loss plus lam * ||theta - theta(0)||^2, theta(0) the network's
random initial weights. In the wide-network (NTK) limit this is kernel ridge regression, which the
paper proves generalises on the clean distribution despite noisy labels: the penalty stands in for
early stopping, so the last epoch should be about as good as the best one. The paper trains with the
squared loss (``--loss mse``); any registered loss works.
"""
from __future__ import annotations

import torch

from ..options import NON_NEGATIVE
from .base import METHODS, Method, StepOutput


@METHODS.register("rdi")
class DistanceToInitialisation(Method):
    """Options: ``lam`` (the penalty's weight on the squared distance to the initial weights, summed
    over every parameter; 0 is plain training)."""

    option_constraints = {"lam": NON_NEGATIVE}

    def __init__(self, lam: float = 0.01):
        self.lam = float(lam)

    def setup(self, trainer):
        self.initial = [p.detach().clone() for p in trainer.models[0].parameters()]

    def distance(self, model: torch.nn.Module) -> torch.Tensor:
        """||theta - theta(0)||^2 over every parameter."""
        return sum((p - p0).square().sum() for p, p0 in zip(model.parameters(), self.initial))

    def training_step(self, trainer, batch):
        logits = trainer.forward(0, batch.x)
        losses = trainer.loss_fn(logits, batch.y)
        # The same penalty on every rank: DDP's averaged gradient keeps it unchanged.
        return StepOutput(losses.mean() + self.lam * self.distance(trainer.models[0]), losses, logits)

    def on_epoch_end(self, trainer, epoch):
        with torch.no_grad():
            return {"distance_to_init": self.distance(trainer.models[0]).sqrt().item()}

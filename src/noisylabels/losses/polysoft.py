"""Polynomial soft weighting (self-paced learning): easy samples count fully, hard ones less, the hardest not at all.

Weight v = (1 - l/lambda)^(1/(t-1)) for a per-sample CE loss l < lambda, else 0; the loss is v * l with
v held constant (no gradient through the weight), i.e. the closed-form minimiser of the
self-paced objective over v for fixed losses. lambda, the "age", grows each epoch so that harder
samples join as training goes on.
"""
from __future__ import annotations

import math
from typing import Optional

import torch

from ..errors import NoisyLabelsError
from ..options import POSITIVE, Interval, Real
from .base import Loss
from .common import pick, safe_log_softmax
from .registry import LOSSES


def polynomial_soft_weights(losses: torch.Tensor, lam: float, t: float) -> torch.Tensor:
    """(1 - l/lam)^(1/(t-1)) where l < lam, else 0: (B,) -> (B,), in [0, 1]; t > 1 sets the curve (t = 2 is linear)."""
    return (1 - losses / lam).clamp_min(0).pow(1 / (t - 1))


@LOSSES.register("polysoft")
class PolySoftLoss(Loss):
    """Self-paced CE with polynomial soft weights, v * CE per sample.

    lam is the age at epoch 0, by default 1.5 ln C: above the loss of an untrained network (ln C), so
    that training can start, and below the loss of labels the network contradicts once it has
    learned. The engine calls set_epoch(e) at the start of each epoch: the age becomes
    lam * growth**e (growth = 1 keeps it fixed).
    """

    name = "polysoft"
    option_constraints = {"t": Interval(Real, 1, None, closed="neither"),  # t = 1: an infinite exponent
                          "lam": [POSITIVE, None], "growth": Interval(Real, 1, None, closed="left")}

    def __init__(self, t: float = 2.0, lam: Optional[float] = None, growth: float = 1.0):
        super().__init__()
        self.t, self.lam, self.growth = t, lam, growth
        self.epoch = 0
        self.current_lam = lam  # None until the class count is seen, with the default lam

    def set_epoch(self, epoch: int) -> None:
        """Grow the age for this epoch (0-based): current_lam = lam * growth**epoch."""
        if epoch < 0:
            raise NoisyLabelsError(f"polysoft: epoch must be >= 0, got {epoch}")
        self.epoch = epoch
        if self.lam is not None:
            self.current_lam = self.lam * self.growth ** epoch

    def per_sample(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.lam is None:
            self.current_lam = 1.5 * math.log(logits.shape[1]) * self.growth ** self.epoch
        ce = -pick(safe_log_softmax(logits), labels)
        with torch.no_grad():
            weights = polynomial_soft_weights(ce, self.current_lam, self.t)
        return weights * ce

"""The squared loss on the network's outputs, the loss Hu, Li and Yu (ICLR 2020) train RDI and AUX with.

mse = 1/2 ||z - onehot(y)||^2 on the raw outputs z (not the softmax): the kernel-regression view of
their analysis regresses the outputs onto one-hot targets. Unlike the softmax losses it depends on
the outputs' offset, so adding a constant to every logit changes it.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .base import Loss
from .common import at_least_float32
from .registry import LOSSES


@LOSSES.register("mse")
class SquaredLoss(Loss):
    """1/2 sum_k (z_k - onehot(y)_k)^2 per sample, in at least float32."""

    name = "mse"

    def __init__(self):  # an explicit signature: unknown options are then named, not a TypeError
        super().__init__()

    def per_sample(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        z = at_least_float32(logits)
        target = F.one_hot(labels, z.shape[1]).to(z.dtype)
        return 0.5 * (z - target).square().sum(1)

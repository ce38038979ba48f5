"""Symmetric losses: MAE, reverse cross-entropy (RCE) and symmetric cross-entropy (SCE = a CE + b RCE).

A loss is symmetric when sum_k loss(z, k) is a constant; such losses tolerate symmetric label
noise (Ghosh et al. 2017). MAE and RCE are symmetric; SCE adds RCE to CE to keep CE's fast fitting.
All take logits (B, C) and labels (B,) and return the per-sample loss (B,) in float32
(float64 input stays float64 so that gradients can be checked); the caller reduces.
"""
from __future__ import annotations

import torch

from ..options import NON_NEGATIVE, POSITIVE
from .base import Loss
from .common import pick, reverse_ce, safe_log_softmax
from .registry import LOSSES


def label_log_prob(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """log p_y (B,) from logits (B, C), in at least float32."""
    return pick(safe_log_softmax(logits), labels)


@LOSSES.register("mae")
class MeanAbsoluteError(Loss):
    """MAE on the softmax, scale * (1 - p_y) per sample (= scale/2 * ||p - onehot||_1).

    scale: lnl_sr (sparse regularisation) uses 2, the plain L1 distance.
    """

    name = "mae"
    option_constraints = {"scale": POSITIVE}

    def __init__(self, scale: float = 1.0):
        super().__init__()
        self.scale = scale

    def per_sample(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.scale * -torch.expm1(label_log_prob(logits, labels))  # 1 - p_y, accurate near p_y = 1


@LOSSES.register("rce")
class ReverseCrossEntropy(Loss):
    """Reverse CE, -sum_k p_k log(clip(onehot_k, 1e-4, 1)).

    Computed in closed form: only the k != y terms survive, each with log 1e-4, so the sum is
    -ln(1e-4) (1 - p_y), i.e. MAE scaled by about 9.21.
    """

    name = "rce"

    def __init__(self):  # an explicit signature: unknown options are then named, not a TypeError
        super().__init__()

    def per_sample(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return reverse_ce(label_log_prob(logits, labels))


@LOSSES.register("sce")
class SymmetricCrossEntropy(Loss):
    """Symmetric CE (Wang et al. ICCV 2019), alpha * CE + beta * RCE per sample.

    Defaults are the CIFAR-10 values; CIFAR-100 uses alpha=6.0, beta=0.1.
    """

    name = "sce"
    option_constraints = {"alpha": NON_NEGATIVE, "beta": NON_NEGATIVE}

    def __init__(self, alpha: float = 0.1, beta: float = 1.0):
        super().__init__()
        self.alpha, self.beta = alpha, beta

    def per_sample(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        log_p = label_log_prob(logits, labels)
        return self.alpha * -log_p + self.beta * reverse_ce(log_p)

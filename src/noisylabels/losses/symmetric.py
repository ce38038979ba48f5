"""Symmetric losses: MAE, reverse cross-entropy (RCE) and symmetric cross-entropy (SCE = a CE + b RCE).

A loss is symmetric when sum_k loss(z, k) is a constant; such losses tolerate symmetric label
noise (Ghosh et al. 2017). MAE and RCE are symmetric; SCE adds RCE to CE to keep CE's fast fitting.
All take logits (B, C) and labels (B,) and return the per-sample loss (B,) in float32
(float64 input stays float64 so that gradients can be checked); the caller reduces.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import NoisyLabelsError
from .registry import LOSSES

# RCE clips the one-hot target at 1e-4 before the log (Wang et al. 2019), so log 0 becomes log 1e-4.
RCE_LOG_CLIP = 1e-4
RCE_SCALE = -math.log(RCE_LOG_CLIP)  # about 9.21


def label_log_prob(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """log p_y (B,) from logits (B, C), in at least float32; log_softmax keeps it finite for huge logits."""
    log_probs = F.log_softmax(logits.to(torch.promote_types(logits.dtype, torch.float32)), dim=1)
    return log_probs.gather(1, labels.long().unsqueeze(1)).squeeze(1)


def one_minus_label_prob(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """1 - p_y (B,), as -expm1(log p_y) so that it stays accurate when p_y is close to 1."""
    return -torch.expm1(label_log_prob(logits, labels))


def _check_weight(loss: str, name: str, value: float) -> None:
    if not value >= 0:  # also rejects NaN
        raise NoisyLabelsError(f"{loss}: {name} must be >= 0, got {value}; pass a non-negative weight")


@LOSSES.register("mae")
class MeanAbsoluteError(nn.Module):
    """MAE on the softmax, scale * (1 - p_y) per sample (= scale/2 * ||p - onehot||_1).

    scale: lnl_sr (sparse regularisation) uses 2, the plain L1 distance.
    """

    def __init__(self, scale: float = 1.0):
        super().__init__()
        if not scale > 0:
            raise NoisyLabelsError(f"mae: scale must be > 0, got {scale}; pass a positive scale such as 1 or 2")
        self.scale = scale

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """logits (B, C), labels (B,) -> (B,)."""
        return self.scale * one_minus_label_prob(logits, labels)


@LOSSES.register("rce")
class ReverseCrossEntropy(nn.Module):
    """Reverse CE, -sum_k p_k log(clip(onehot_k, 1e-4, 1)).

    Computed in closed form: only the k != y terms survive, each with log 1e-4, so the sum is
    -ln(1e-4) (1 - p_y), i.e. MAE scaled by about 9.21.
    """

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """logits (B, C), labels (B,) -> (B,)."""
        return RCE_SCALE * one_minus_label_prob(logits, labels)


@LOSSES.register("sce")
class SymmetricCrossEntropy(nn.Module):
    """Symmetric CE (Wang et al. ICCV 2019), alpha * CE + beta * RCE per sample.

    Defaults are the CIFAR-10 values; CIFAR-100 uses alpha=6.0, beta=0.1.
    """

    def __init__(self, alpha: float = 0.1, beta: float = 1.0):
        super().__init__()
        _check_weight("sce", "alpha", alpha)
        _check_weight("sce", "beta", beta)
        self.alpha, self.beta = alpha, beta

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """logits (B, C), labels (B,) -> (B,)."""
        log_p = label_log_prob(logits, labels)
        return self.alpha * -log_p + self.beta * RCE_SCALE * -torch.expm1(log_p)

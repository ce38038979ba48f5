"""Normalized losses (Ma et al. ICML 2020, "Active Passive Loss"): NCE, NCE+RCE, focal and normalized focal.

Normalizing a loss by its sum over all labels, loss(z, y) / sum_k loss(z, k), makes it symmetric and
so robust to label noise. Per-sample losses (B,) in float32 (float64 input stays float64).
"""
from __future__ import annotations

import torch

from ..options import NON_NEGATIVE
from .base import Loss
from .common import pick, reverse_ce, safe_log_softmax
from .registry import LOSSES


def log_one_minus_probs(log_probs: torch.Tensor) -> torch.Tensor:
    """log(1 - p_k) for every class, (B, C) -> (B, C), finite with finite gradient even where p_k rounds to 1.

    Only the most probable class can have p > 1/2; there 1 - p is computed as the sum of the other
    probabilities (a logsumexp), elsewhere log1p(-p) is accurate. Needs C >= 2.
    """
    is_top = torch.zeros_like(log_probs, dtype=torch.bool).scatter_(1, log_probs.argmax(1, keepdim=True), True)
    others_of_top = torch.logsumexp(log_probs.masked_fill(is_top, float("-inf")), dim=1, keepdim=True)
    # Give log1p a harmless input at the top class so that its unused branch has no inf gradient.
    rest = torch.log1p(-log_probs.masked_fill(is_top, float("-inf")).exp())
    return torch.where(is_top, others_of_top, rest)


def focal_terms(log_probs: torch.Tensor, gamma: float) -> torch.Tensor:
    """-(1 - p_k)^gamma log p_k for every class: (B, C) log-probabilities -> (B, C), all >= 0."""
    if gamma == 0:
        return -log_probs
    return -torch.exp(gamma * log_one_minus_probs(log_probs)) * log_probs


@LOSSES.register("nce")
class NormalizedCrossEntropy(Loss):
    """NCE per sample, (-log p_y) / (-sum_k log p_k), in [0, 1]."""

    name = "nce"

    def __init__(self):  # an explicit signature: unknown options are then named, not a TypeError
        super().__init__()

    def per_sample(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        log_probs = safe_log_softmax(logits)
        # The least likely class has p <= 1/C, so the denominator is >= log C > 0.
        return pick(log_probs, labels) / log_probs.sum(dim=1)


@LOSSES.register("nce_rce")
class NCEAndRCE(Loss):
    """APL loss alpha * NCE + beta * RCE per sample; defaults (1, 1) for CIFAR-10, (10, 0.1) for CIFAR-100."""

    name = "nce_rce"
    option_constraints = {"alpha": NON_NEGATIVE, "beta": NON_NEGATIVE}

    def __init__(self, alpha: float = 1.0, beta: float = 1.0):
        super().__init__()
        self.alpha, self.beta = alpha, beta

    def per_sample(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        log_probs = safe_log_softmax(logits)
        log_p_label = pick(log_probs, labels)
        nce = log_p_label / log_probs.sum(dim=1)
        rce = reverse_ce(log_p_label)
        return self.alpha * nce + self.beta * rce


@LOSSES.register("focal")
class FocalLoss(Loss):
    """Focal loss (Lin et al. 2017) per sample, -(1 - p_y)^gamma log p_y; gamma = 0 is CE."""

    name = "focal"
    option_constraints = {"gamma": NON_NEGATIVE}

    def __init__(self, gamma: float = 2.0):
        super().__init__()
        self.gamma = gamma

    def per_sample(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return pick(focal_terms(safe_log_softmax(logits), self.gamma), labels)


@LOSSES.register("nfl")
class NormalizedFocalLoss(Loss):
    """Normalized focal loss per sample, focal_y / sum_k focal_k, in [0, 1]; gamma = 0 is NCE.

    gamma defaults to 0.5, the APL paper's value.
    """

    name = "nfl"
    option_constraints = {"gamma": NON_NEGATIVE}

    def __init__(self, gamma: float = 0.5):
        super().__init__()
        self.gamma = gamma

    def per_sample(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        terms = focal_terms(safe_log_softmax(logits), self.gamma)
        # The least likely class contributes >= ((C-1)/C)^gamma log C > 0; the clamp is only a guard.
        return pick(terms, labels) / terms.sum(dim=1).clamp_min(torch.finfo(terms.dtype).tiny)

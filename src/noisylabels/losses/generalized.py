"""Generalized cross-entropy (GCE, Zhang & Sabuncu 2018) and its normalized form NGCE (Ma et al. 2020).

GCE, (1 - p_y^q)/q, runs from CE (q -> 0) to MAE (q = 1). p^q is computed as exp(q log p)
from log_softmax, so huge logits give no NaN/inf, and 1 - p^q as -expm1(q log p) so that small q
keeps its precision. Per-sample losses (B,) in float32 (float64 input stays float64).
"""
from __future__ import annotations

import torch

from ..options import Interval, Real
from .base import Loss
from .common import pick, safe_log_softmax
from .registry import LOSSES

Q = Interval(Real, 0, 1, closed="right")  # q -> 0 is CE, q = 1 is MAE


@LOSSES.register("gce")
class GeneralizedCrossEntropy(Loss):
    """GCE per sample, (1 - p_y^q) / q."""

    name = "gce"
    option_constraints = {"q": Q}

    def __init__(self, q: float = 0.7):
        super().__init__()
        self.q = q

    def per_sample(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        log_p_label = pick(safe_log_softmax(logits), labels)
        return -torch.expm1(self.q * log_p_label) / self.q


@LOSSES.register("ngce")
class NormalizedGeneralizedCrossEntropy(Loss):
    """Normalized GCE per sample, (1 - p_y^q) / (C - sum_k p_k^q): GCE divided by its sum over all labels."""

    name = "ngce"
    option_constraints = {"q": Q}

    def __init__(self, q: float = 0.7):
        super().__init__()
        self.q = q

    def per_sample(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        one_minus_pq = -torch.expm1(self.q * safe_log_softmax(logits))  # (B, C), 1 - p_k^q, all >= 0
        numerator = one_minus_pq.gather(1, labels.long().unsqueeze(1)).squeeze(1)
        # Written as sum_k (1 - p_k^q) to avoid cancellation in C - sum; > 0 whenever C >= 2.
        denominator = one_minus_pq.sum(dim=1).clamp_min(torch.finfo(one_minus_pq.dtype).tiny)
        return numerator / denominator

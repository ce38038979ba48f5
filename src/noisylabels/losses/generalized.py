"""Generalized cross-entropy (GCE, Zhang & Sabuncu 2018) and its normalized form NGCE (Ma et al. 2020).

GCE, (1 - p_y^q)/q, runs from CE (q -> 0) to MAE (q = 1). p^q is computed as exp(q log p)
from log_softmax, so huge logits give no NaN/inf, and 1 - p^q as -expm1(q log p) so that small q
keeps its precision. Per-sample losses (B,) in float32 (float64 input stays float64).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ..errors import NoisyLabelsError
from .common import check_logits_labels, is_real, pick, safe_log_softmax
from .registry import LOSSES


def _check_q(loss: str, q: float) -> None:
    if not (is_real(q) and 0 < q <= 1):  # also rejects NaN and non-numbers
        raise NoisyLabelsError(f"{loss}: q must be in (0, 1], got {q}; pass e.g. q=0.7")


@LOSSES.register("gce")
class GeneralizedCrossEntropy(nn.Module):
    """GCE per sample, (1 - p_y^q) / q."""

    def __init__(self, q: float = 0.7):
        super().__init__()
        _check_q("gce", q)
        self.q = q

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """logits (B, C), labels (B,) -> (B,)."""
        check_logits_labels("gce", logits, labels)
        log_p_label = pick(safe_log_softmax(logits), labels)
        return -torch.expm1(self.q * log_p_label) / self.q


@LOSSES.register("ngce")
class NormalizedGeneralizedCrossEntropy(nn.Module):
    """Normalized GCE per sample, (1 - p_y^q) / (C - sum_k p_k^q): GCE divided by its sum over all labels."""

    def __init__(self, q: float = 0.7):
        super().__init__()
        _check_q("ngce", q)
        self.q = q

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """logits (B, C), labels (B,) -> (B,)."""
        check_logits_labels("ngce", logits, labels)
        one_minus_pq = -torch.expm1(self.q * safe_log_softmax(logits))  # (B, C), 1 - p_k^q, all >= 0
        numerator = one_minus_pq.gather(1, labels.long().unsqueeze(1)).squeeze(1)
        # Written as sum_k (1 - p_k^q) to avoid cancellation in C - sum; > 0 whenever C >= 2.
        denominator = one_minus_pq.sum(dim=1).clamp_min(torch.finfo(one_minus_pq.dtype).tiny)
        return numerator / denominator

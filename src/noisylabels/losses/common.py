"""Pieces every loss family shares: float32 log-probabilities, label lookup, option constraints."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


# RCE clips the one-hot target at 1e-4 before the log (Wang et al. 2019), so log 0 becomes log 1e-4.
RCE_LOG_CLIP = 1e-4
RCE_SCALE = -math.log(RCE_LOG_CLIP)  # about 9.21


def at_least_float32(logits: torch.Tensor) -> torch.Tensor:
    """bfloat16 / float16 logits upcast to float32; float64 (gradcheck) stays float64."""
    return logits.to(torch.promote_types(logits.dtype, torch.float32))


def safe_log_softmax(logits: torch.Tensor) -> torch.Tensor:
    """log softmax (B, C) in at least float32; finite even for huge logits."""
    return F.log_softmax(at_least_float32(logits), dim=1)


def pick(values: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """values[i, labels[i]]: (B, C), (B,) -> (B,)."""
    return values.gather(1, labels.long().unsqueeze(1)).squeeze(1)


def reverse_ce(log_p_label: torch.Tensor) -> torch.Tensor:
    """RCE from log p_y: -sum_k p_k log clip(onehot_k, 1e-4, 1) = -ln(1e-4) (1 - p_y); expm1 keeps
    1 - p_y accurate when p_y is close to 1."""
    return RCE_SCALE * -torch.expm1(log_p_label)

import torch
import torch.nn as nn
import torch.nn.functional as F

from .common import at_least_float32, check_logits_labels
from .registry import LOSSES


@LOSSES.register("ce")
class CrossEntropy(nn.Module):
    """Cross-entropy per sample, -log softmax(z)_y, in at least float32 (bfloat16 is upcast)."""

    def __init__(self):  # an explicit signature: unknown options are then named, not a TypeError
        super().__init__()

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        check_logits_labels("ce", logits, labels)
        return F.cross_entropy(at_least_float32(logits), labels, reduction="none")

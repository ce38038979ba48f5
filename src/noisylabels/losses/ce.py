import torch
import torch.nn as nn
import torch.nn.functional as F

from .registry import LOSSES


@LOSSES.register("ce")
class CrossEntropy(nn.Module):
    """Cross-entropy per sample, -log softmax(z)_y, in at least float32 (bfloat16 is upcast)."""

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.to(torch.promote_types(logits.dtype, torch.float32)), labels, reduction="none")

import torch
import torch.nn as nn
import torch.nn.functional as F

from .registry import LOSSES


@LOSSES.register("ce")
class CrossEntropy(nn.Module):
    """Cross-entropy per sample, -log softmax(z)_y, computed in float32 for stability."""

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.float(), labels, reduction="none")

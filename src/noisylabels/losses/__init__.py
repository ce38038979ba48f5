"""Per-sample losses: (logits (B, C), labels (B,)) -> (B,) tensor. The caller reduces."""
from .ce import CrossEntropy
from .registry import LOSSES, create_loss

__all__ = ["LOSSES", "create_loss", "CrossEntropy"]

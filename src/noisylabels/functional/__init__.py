"""Pure tensor functions that any PyTorch loop can use."""
from .margin import logit_margin

__all__ = ["logit_margin"]

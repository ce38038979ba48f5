"""The loss contract: ``loss(logits (B, C), labels (B,)) -> (B,)`` per-sample values; the caller reduces."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn

from ..functional.checks import check_logits_labels


class Loss(nn.Module):
    """Base class of every registered loss.

    ``forward`` checks the (logits, labels) pair once, then calls ``per_sample``, which subclasses
    implement. A wrapper loss (sr) calls its wrapped loss's ``per_sample``, so nothing is checked
    twice. The engine calls the two hooks on every loss:

    - ``set_epoch(epoch)`` at the start of each (0-based) epoch: for schedules; a no-op here.
    - ``grad_clip``: the gradient-norm clip the loss asks for, used when optim.grad_clip is unset;
      None (no clipping) here.
    """

    name: str = "loss"  # the registered name, which errors report
    option_constraints: dict = {}  # see noisylabels.options
    grad_clip: Optional[float] = None

    def set_epoch(self, epoch: int) -> None:
        """Called by the engine at the start of each epoch; losses without a schedule ignore it."""

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """logits (B, C), labels (B,) integer classes -> (B,)."""
        check_logits_labels(self.name, logits, labels)
        return self.per_sample(logits, labels)

    def per_sample(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The (B,) losses of an already checked pair."""
        raise NotImplementedError

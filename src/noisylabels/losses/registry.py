from __future__ import annotations

import torch.nn as nn

from ..registry import Registry

LOSSES = Registry("loss")


def create_loss(name: str, **options) -> nn.Module:
    """A per-sample loss module by registered name."""
    return LOSSES.build(name, **options)

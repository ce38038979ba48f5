"""Optimisers and learning-rate schedules from an ``OptimConfig``."""
from __future__ import annotations

import math

import torch


def lr_multiplier(optim, progress: float, start: float = 0.0, end: float | None = None) -> float:
    """The schedule's multiple of the base learning rate after ``progress`` epochs (fractional).

    A schedule over the window [``start``, ``end``) (default: to the end of the budget) is the
    configured schedule compressed into it: a network restarted at ``start``, or a stage that must
    end annealed at ``end``. Multistep milestones scale with the window; warm-up epochs do not.
    """
    end = optim.epochs if end is None else end
    total = end - start
    progress = progress - start
    if optim.schedule == "onecycle":  # linear up over the first 30%, linear down to 0
        peak = 0.3 * total
        return progress / peak if progress < peak else max(0.0, (total - progress) / (total - peak))
    warm = min(1.0, progress / optim.warmup_epochs) if optim.warmup_epochs > 0 else 1.0
    if optim.schedule == "cosine":
        return warm * 0.5 * (1 + math.cos(math.pi * min(progress, total) / total))
    if optim.schedule == "multistep":
        scale = total / optim.epochs
        return warm * optim.gamma ** sum(progress >= m * scale for m in optim.milestones)
    return warm


def make_optimizer(params, optim) -> torch.optim.Optimizer:
    if optim.name == "sgd":
        return torch.optim.SGD(params, lr=optim.lr, momentum=optim.momentum, weight_decay=optim.weight_decay,
                               nesterov=optim.nesterov and optim.momentum > 0)
    cls = torch.optim.Adam if optim.name == "adam" else torch.optim.AdamW
    return cls(params, lr=optim.lr, weight_decay=optim.weight_decay)


def set_learning_rate(optimizer: torch.optim.Optimizer, optim, progress: float, start: float = 0.0,
                      end: float | None = None) -> float:
    """Set every parameter group's learning rate to the schedule's value at ``progress``; returns it."""
    lr = optim.lr * lr_multiplier(optim, progress, start, end)
    for group in optimizer.param_groups:
        group["lr"] = lr
    return lr

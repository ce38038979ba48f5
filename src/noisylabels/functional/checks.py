"""Cheap argument checks for the tensor functions, each failure a ``NoisyLabelsError`` naming the argument.

Shapes and dtypes are checked everywhere (host metadata, free). Label values are checked only for
CPU tensors: on an accelerator the check would stall every training step on a device-to-host copy,
and the kernel's own bounds assert catches them there.
"""
from __future__ import annotations

import math
import numbers

import torch

from ..errors import NoisyLabelsError


def is_real(value) -> bool:
    """A plain real number (int, float, numpy scalar), not a bool or a string."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_finite_real(value) -> bool:
    return is_real(value) and math.isfinite(value)


def check_tensor(where: str, value, name: str, ndim: int) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise NoisyLabelsError(f"{where}: {name} must be a torch tensor, got {type(value).__name__}")
    if value.ndim != ndim:
        shape = {1: "(N,)", 2: "(B, C)"}.get(ndim, f"{ndim}-D")
        raise NoisyLabelsError(f"{where}: {name} must be a {shape} tensor, got shape {tuple(value.shape)}")
    return value


def check_same_length(where: str, first, first_name: str, second, second_name: str) -> None:
    if len(first) != len(second):
        raise NoisyLabelsError(f"{where}: {second_name} has {len(second)} entries but {first_name} has "
                               f"{len(first)}; give one per sample")


def check_labels(where: str, labels, num_classes: int | None = None, length: int | None = None,
                 name: str = "labels") -> torch.Tensor:
    """(N,) integer class indices; values in [0, num_classes) checked for CPU tensors."""
    check_tensor(where, labels, name, 1)
    if labels.dtype.is_floating_point or labels.dtype.is_complex or labels.dtype == torch.bool:
        raise NoisyLabelsError(f"{where}: {name} must be integer class indices, got dtype {labels.dtype}")
    if length is not None and len(labels) != length:
        raise NoisyLabelsError(f"{where}: {name} must have one entry per sample ({length}), got {len(labels)}")
    if labels.device.type == "cpu" and labels.numel():
        low, high = int(labels.min()), int(labels.max())
        if low < 0 or (num_classes is not None and high >= num_classes):
            bad = low if low < 0 else high
            limit = f"0..{num_classes - 1}" if num_classes is not None else "non-negative"
            raise NoisyLabelsError(f"{where}: {name} must be class indices {limit}, got {bad}")
    return labels


def check_logits_labels(where: str, logits, labels) -> None:
    """(B, C) logits and (B,) integer labels in [0, C)."""
    check_tensor(where, logits, "logits", 2)
    check_labels(where, labels, logits.shape[1], len(logits))

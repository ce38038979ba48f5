"""The model registry and ``create_model``, which checks every argument before building.

Each registered constructor takes ``(num_classes, in_shape, **options)``; its keyword
parameters are the options a user may set, and its ``option_constraints`` say what they accept.
"""
from __future__ import annotations

from numbers import Integral

import torch
from torch import nn

from ..errors import NoisyLabelsError
from ..options import Interval, Real
from ..registry import Registry

# Parameters every constructor has; they are arguments of create_model, not options.
_FIXED = ("num_classes", "in_shape")
MODELS = Registry("model", fixed=_FIXED)

DROPOUT = Interval(Real, 0, 1, closed="left")


def create_model(name: str, num_classes: int, in_shape: tuple[int, ...], **options) -> nn.Module:
    """Build model ``name`` mapping a float batch (B, *in_shape) to (B, num_classes) logits."""
    builder = MODELS.get(name)
    if not _is_int(num_classes) or num_classes < 2:
        raise NoisyLabelsError(f"num_classes must be an integer >= 2, got {num_classes!r}; "
                               "a classifier needs at least two classes")
    in_shape = _checked_shape(in_shape)
    MODELS.check_options(name, options, given=_FIXED)
    return builder(num_classes=int(num_classes), in_shape=in_shape, **options)


def image_channels(model: str, in_shape: tuple[int, ...]) -> int:
    """The channel count of an image shape (C, H, W); anything else is a user error."""
    if len(in_shape) != 3:
        raise NoisyLabelsError(f"model '{model}' needs image inputs of shape (C, H, W), got "
                               f"{tuple(in_shape)}; use mlp for vector data")
    return in_shape[0]


def kaiming_init(model: nn.Module, nonlinearity: str = "relu", negative_slope: float = 0.0) -> None:
    """He init for convolutions (fan_out, as in the ResNet papers), unit BatchNorm, zero biases."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, a=negative_slope, mode="fan_out", nonlinearity=nonlinearity)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.zeros_(m.bias)


def _is_int(value) -> bool:
    # bool is an Integral too, but True as a class count or width is surely a mistake.
    return isinstance(value, Integral) and not isinstance(value, bool)


def _checked_shape(in_shape) -> tuple[int, ...]:
    if isinstance(in_shape, torch.Size):
        in_shape = tuple(in_shape)
    if (not isinstance(in_shape, (tuple, list)) or not in_shape
            or not all(_is_int(d) and d > 0 for d in in_shape)):
        raise NoisyLabelsError(f"in_shape must be a non-empty tuple of positive integers such as "
                               f"(1, 28, 28) or (20,), got {in_shape!r}")
    return tuple(int(d) for d in in_shape)


from __future__ import annotations

import inspect

from ..registry import Registry
from .base import Loss

LOSSES = Registry("loss")


def create_loss(name: str, **options) -> Loss:
    """A per-sample loss module by registered name.

    ``<loss>+sr`` wraps ``<loss>`` in sparse regularization: options that ``sr`` takes (preset, tau,
    p, lam, rho, freq, normalize, grad_clip) go to the wrapper, all others to the wrapped loss.
    """
    if name.endswith("+sr"):
        sr_params = inspect.signature(LOSSES.get("sr")).parameters
        sr_options = {k: v for k, v in options.items() if k in sr_params}
        base_options = {**sr_options.pop("base_options", {}), **{k: v for k, v in options.items() if k not in sr_params}}
        return LOSSES.build("sr", base=name[:-3], base_options=base_options, **sr_options)
    return LOSSES.build(name, **options)

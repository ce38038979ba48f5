"""Sparse regularization (Zhou et al., ICCV 2021): makes any loss robust to label noise.

The logits are L2-normalised (not for the MNIST presets, as in the official code) and divided by
a temperature tau; the wrapped loss is applied to them, plus lambda * sum_k p_k^p, the lp "norm"
(p <= 1) of the output distribution, which pushes predictions towards one-hot. lambda grows by a
factor rho every ``freq`` epochs; the engine clips the gradient norm to ``grad_clip``.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

from ..errors import NoisyLabelsError
from ..options import BOOL, NON_NEGATIVE, POSITIVE, POSITIVE_INT, Choice, Interval, Real, Type
from .base import Loss
from .common import at_least_float32
from .registry import LOSSES, create_loss

# (tau, p, lambda0, rho, freq, normalise logits) from the official code's per-dataset settings.
SR_PRESETS = {
    "cifar10": dict(tau=0.5, p=0.1, lam=1.2, rho=1.03, freq=1, normalize=True),
    "cifar100": dict(tau=0.5, p=0.01, lam=10.0, rho=1.02, freq=1, normalize=True),
    "mnist": dict(tau=0.1, p=0.1, lam=4.0, rho=2.0, freq=5, normalize=False),  # with CE or focal
    "mnist_gce": dict(tau=0.5, p=0.1, lam=3.0, rho=2.0, freq=5, normalize=False),
}


@LOSSES.register("sr")
class SparseRegularization(Loss):
    """base(z / tau) + lambda * sum_k softmax(z / tau)_k^p per sample, z the (normalised) logits.

    ``preset`` gives tau, p, lam, rho, freq and normalize; any of them given explicitly wins.
    """

    name = "sr"
    # None: the preset's value. p <= 1: the penalty is an lp "norm" with p <= 1.
    option_constraints = {
        "base": Type(str), "base_options": [Type(dict), None], "preset": Choice(*SR_PRESETS),
        "tau": [POSITIVE, None], "p": [Interval(Real, 0, 1, closed="right"), None], "lam": [NON_NEGATIVE, None],
        "rho": [POSITIVE, None], "freq": [POSITIVE_INT, None], "normalize": [BOOL, None],
        "grad_clip": [POSITIVE, None],
    }

    def __init__(self, base: str = "ce", base_options: Optional[dict] = None, preset: str = "cifar10",
                 tau: Optional[float] = None, p: Optional[float] = None, lam: Optional[float] = None,
                 rho: Optional[float] = None, freq: Optional[int] = None, normalize: Optional[bool] = None,
                 grad_clip: Optional[float] = 5.0):
        super().__init__()
        if base == "sr" or base.endswith("+sr"):
            raise NoisyLabelsError("sr wraps a plain loss; use e.g. base=ce, not another sr")
        given = dict(tau=tau, p=p, lam=lam, rho=rho, freq=freq, normalize=normalize)
        values = {**SR_PRESETS[preset], **{k: v for k, v in given.items() if v is not None}}
        self.tau, self.p, self.lam, self.rho, self.freq, self.normalize = (
            values[k] for k in ("tau", "p", "lam", "rho", "freq", "normalize"))
        self.grad_clip = grad_clip
        self.base = create_loss(base, **(base_options or {}))
        self.current_lam = self.lam

    def set_epoch(self, epoch: int) -> None:
        """lambda for this (0-based) epoch: lam * rho ** (epoch // freq); passed on to the base loss."""
        self.current_lam = self.lam * self.rho ** (epoch // self.freq)
        self.base.set_epoch(epoch)

    def per_sample(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        z = at_least_float32(logits)
        if self.normalize:
            z = F.normalize(z, dim=1)  # eps keeps all-zero logits finite
        z = z / self.tau
        # The clamp keeps the gradient of p^(p-1) finite where a probability underflows.
        penalty = torch.softmax(z, 1).clamp(1e-7, 1).pow(self.p).sum(1)
        # The pair was checked once, by this wrapper: the base computes without checking again.
        return self.base.per_sample(z, labels) + self.current_lam * penalty

"""Sparse regularization (Zhou et al., ICCV 2021): makes any loss robust to label noise.

The logits are L2-normalised (not for the MNIST presets, as in the official code) and divided by
a temperature tau; the wrapped loss is applied to them, plus lambda * sum_k p_k^p, the lp "norm"
(p <= 1) of the output distribution, which pushes predictions towards one-hot. lambda grows by a
factor rho every ``freq`` epochs; the engine clips the gradient norm to ``grad_clip``.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import NoisyLabelsError
from .common import at_least_float32, check_logits_labels, is_real
from .registry import LOSSES, create_loss

# (tau, p, lambda0, rho, freq, normalise logits) from the official code's per-dataset settings.
SR_PRESETS = {
    "cifar10": dict(tau=0.5, p=0.1, lam=1.2, rho=1.03, freq=1, normalize=True),
    "cifar100": dict(tau=0.5, p=0.01, lam=10.0, rho=1.02, freq=1, normalize=True),
    "mnist": dict(tau=0.1, p=0.1, lam=4.0, rho=2.0, freq=5, normalize=False),  # with CE or focal
    "mnist_gce": dict(tau=0.5, p=0.1, lam=3.0, rho=2.0, freq=5, normalize=False),
}


@LOSSES.register("sr")
class SparseRegularization(nn.Module):
    """base(z / tau) + lambda * sum_k softmax(z / tau)_k^p per sample, z the (normalised) logits.

    ``preset`` gives tau, p, lam, rho, freq and normalize; any of them given explicitly wins.
    """

    def __init__(self, base: str = "ce", base_options: Optional[dict] = None, preset: str = "cifar10",
                 tau: Optional[float] = None, p: Optional[float] = None, lam: Optional[float] = None,
                 rho: Optional[float] = None, freq: Optional[int] = None, normalize: Optional[bool] = None,
                 grad_clip: float = 5.0):
        super().__init__()
        if preset not in SR_PRESETS:
            raise NoisyLabelsError(f"unknown sr preset '{preset}'; choose one of: {', '.join(SR_PRESETS)}")
        if base == "sr" or base.endswith("+sr"):
            raise NoisyLabelsError("sr wraps a plain loss; use e.g. base=ce, not another sr")
        given = dict(tau=tau, p=p, lam=lam, rho=rho, freq=freq, normalize=normalize)
        values = {**SR_PRESETS[preset], **{k: v for k, v in given.items() if v is not None}}
        # A non-number (e.g. a string from --set) becomes NaN, which fails its check below.
        p_, tau_, lam_, rho_ = (values[k] if is_real(values[k]) else math.nan for k in ("p", "tau", "lam", "rho"))
        checks = [(0 < p_ <= 1, f"sr: p must be in (0, 1] (an lp norm with p <= 1), got {values['p']}"),
                  (tau_ > 0, f"sr: tau must be > 0, got {values['tau']}"),
                  (lam_ >= 0, f"sr: lam must be >= 0, got {values['lam']}"),
                  (rho_ > 0, f"sr: rho must be > 0, got {values['rho']}"),
                  (isinstance(values["freq"], int) and values["freq"] >= 1, f"sr: freq must be a whole number >= 1, got {values['freq']}"),
                  (grad_clip is None or (is_real(grad_clip) and grad_clip > 0),
                   f"sr: grad_clip must be > 0 or null, got {grad_clip}")]
        for ok, message in checks:
            if not ok:
                raise NoisyLabelsError(message)
        self.tau, self.p, self.lam, self.rho, self.freq, self.normalize = (
            values[k] for k in ("tau", "p", "lam", "rho", "freq", "normalize"))
        self.grad_clip = grad_clip
        self.base = create_loss(base, **(base_options or {}))
        self.current_lam = self.lam

    def set_epoch(self, epoch: int) -> None:
        """lambda for this (0-based) epoch: lam * rho ** (epoch // freq); passed on to the base loss."""
        self.current_lam = self.lam * self.rho ** (epoch // self.freq)
        if hasattr(self.base, "set_epoch"):
            self.base.set_epoch(epoch)

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """logits (B, C), labels (B,) -> (B,)."""
        check_logits_labels("sr", logits, labels)
        z = at_least_float32(logits)
        if self.normalize:
            z = F.normalize(z, dim=1)  # eps keeps all-zero logits finite
        z = z / self.tau
        # The clamp keeps the gradient of p^(p-1) finite where a probability underflows.
        penalty = torch.softmax(z, 1).clamp(1e-7, 1).pow(self.p).sum(1)
        return self.base(z, labels) + self.current_lam * penalty

"""MentorMix's tensor pieces (Jiang et al., ICML 2020), usable from any PyTorch loop.

A MentorNet gives each sample of a batch a weight v in [0, 1] (1: trust its label). MentorMix then
mixes every sample with a partner drawn in proportion to softmax(v), oriented so that a low-weight
sample is dominated by its partner. The loss threshold is a moving average of the batch's p-th loss
percentile.
"""
from __future__ import annotations

from typing import Optional

import torch

from ..errors import NoisyLabelsError
from .checks import check_tensor, is_real
from .mixmatch import mixup_lambda


def threshold_mentor(losses: torch.Tensor, threshold) -> torch.Tensor:
    """The simplest MentorNet: (B,) float weights, 1 where the loss is below ``threshold``, else 0."""
    return (losses.detach() < threshold).float()


def sample_partners(v: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """(B,) partner indices drawn with replacement from Categorical(softmax(v)).

    Same distribution as ``torch.multinomial(softmax(v), B, replacement=True)``, drawn by inverting
    the cumulative distribution: the uniforms come from the CPU ``generator`` (reproducible on any
    device) and the lookup runs on v's device, so no device-to-host copy stalls the step.
    """
    if not isinstance(v, torch.Tensor) or v.ndim != 1 or len(v) == 0:
        raise NoisyLabelsError(f"MentorMix weights v must be a non-empty (B,) vector, got shape "
                               f"{tuple(getattr(v, 'shape', ()))}")
    cdf = torch.softmax(v.detach().float(), 0).cumsum(0)
    u = torch.rand(len(v), generator=generator).to(v.device)
    return torch.searchsorted(cdf, u * cdf[-1], right=True).clamp_max(len(v) - 1)


def mentor_mix(x: torch.Tensor, y_onehot: torch.Tensor, v: torch.Tensor, alpha: float,
               generator: Optional[torch.Generator] = None
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """MentorMix's mixup step. Returns (mixed x, mixed targets, partner index (B,), mix weight (B,)).

    lambda_i ~ Beta(alpha, alpha) folded to max(lambda, 1 - lambda), one draw per sample as in the
    official code; sample i
    keeps weight lambda on itself when v_i >= 0.5 and 1 - lambda otherwise, so a sample the
    MentorNet distrusts is mostly replaced by its (likely trusted) partner:
    x~_i = w_i x_i + (1 - w_i) x_j, y~_i likewise. x: (B, ...) any shape; y_onehot: (B, C).
    """
    check_tensor("mentor_mix", y_onehot, "y_onehot", 2)
    if not len(x) == len(y_onehot) == len(v):
        raise NoisyLabelsError(f"mentor_mix needs as many inputs, targets and weights, got {len(x)}, "
                               f"{len(y_onehot)} and {len(v)}")
    lam = mixup_lambda(alpha, generator, size=len(v)).to(x.device)
    partner = sample_partners(v, generator).to(x.device)
    weight = torch.where(v.detach().to(x.device) >= 0.5, lam, 1.0 - lam).float()
    wx = weight.view(-1, *([1] * (x.ndim - 1))).to(x.dtype)  # broadcast over the feature dims
    wy = weight[:, None].to(y_onehot.dtype)
    mixed_x = wx * x + (1 - wx) * x[partner]
    mixed_y = wy * y_onehot + (1 - wy) * y_onehot[partner]
    return mixed_x, mixed_y, partner, weight


class LossMovingAverage:
    """avg <- decay * avg + (1 - decay) * (the batch's p-th loss percentile), p a fraction in (0, 1].

    The official code starts the average at 0, so its first batches compare losses with a threshold
    biased low (half the percentile after one batch, within 0.1% of unbiased after ten at decay 0.5).
    We start it at the first batch's percentile instead: no bias, and after those first batches the
    two agree. The percentile uses the nearest order statistic, as tfp.stats.percentile does by
    default. The value stays a device tensor so that updating it never synchronises.
    """

    def __init__(self, percentile: float, decay: float = 0.5):
        if not (is_real(percentile) and 0.0 < percentile <= 1.0):
            raise NoisyLabelsError(f"loss percentile must be a fraction in (0, 1], got {percentile} "
                                   f"(e.g. 0.8 for the 80th percentile)")
        if not (is_real(decay) and 0.0 <= decay < 1.0):
            raise NoisyLabelsError(f"moving-average decay must be in [0, 1), got {decay}")
        self.percentile, self.decay = percentile, decay
        self.value: Optional[torch.Tensor] = None

    def update(self, losses: torch.Tensor) -> torch.Tensor:
        """Fold in one batch's (B,) losses; returns the new average (a 0-dim tensor)."""
        if not isinstance(losses, torch.Tensor) or losses.numel() == 0:
            raise NoisyLabelsError("LossMovingAverage.update needs a non-empty (B,) tensor of losses")
        q = torch.quantile(losses.detach().float(), self.percentile, interpolation="nearest")
        self.value = q if self.value is None else self.decay * self.value + (1 - self.decay) * q
        return self.value

    def state_dict(self) -> dict:
        return {"value": None if self.value is None else float(self.value)}

    def load_state_dict(self, state: dict, device: torch.device | str = "cpu") -> None:
        value = state["value"]
        self.value = None if value is None else torch.tensor(float(value), device=device)

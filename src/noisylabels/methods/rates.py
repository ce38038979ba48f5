"""The ``auto`` value of every option that takes a noise rate, in one place.

``auto`` is the rate the config states when the noise is synthetic (as the official code of
Co-teaching, RSL, DivideMix and MentorMix uses the known rate), else an estimate from the
statistics store: ``global_noise_rate`` on the per-sample mean loss recorded so far (per observed
class a 2-component GMM, high-loss mass = that class's rate, weighted by class size). Each method
says when it estimates; rank 0's estimate is broadcast, as selections are.
"""
from __future__ import annotations

from typing import Optional

import torch

from ..functional.noise_rates import global_noise_rate

AUTO = "auto"
# Noise types whose config states no rate: no noise, a user's noisy labels, a given matrix.
RATELESS_NOISE = ("none", "file", "matrix")
MAX_FORGET = 0.95  # an estimated forget rate never drops (almost) every sample


def stated_rate(trainer) -> Optional[float]:
    """The expected fraction of wrong labels the config's synthetic noise states, or None.

    Uniform noise redraws from all C classes, so only r (C-1)/C of the labels change (RSL's official
    code uses 0.9 r on CIFAR-10); every other type states the flip rate r itself.
    """
    noise = trainer.config.noise
    if noise.type in RATELESS_NOISE:
        return None
    if noise.type == "uniform":
        return float(noise.rate) * (trainer.num_classes - 1) / trainer.num_classes
    return float(noise.rate)


def estimate_rate(trainer, epochs: Optional[list[int]] = None, scores: Optional[torch.Tensor] = None) -> float:
    """Rank 0's global estimate from the mean loss over the recorded ``epochs`` (default all), or
    from per-sample ``scores`` a method averaged itself (NaN: left out)."""
    scores = trainer.stats.mean_loss(epochs) if scores is None else scores
    rate = torch.tensor(global_noise_rate(scores, trainer.train_y, trainer.num_classes), dtype=torch.float64)
    return round(float(trainer.broadcast(rate)), 6)


def rate_report(used: Optional[float], source: str, estimate: Optional[float] = None) -> dict:
    """The report keys every rate-taking method writes to metrics.json (under "report")."""
    report = {"noise_rate_used": None if used is None else round(float(used), 6), "noise_rate_source": source}
    if estimate is not None:
        report["noise_rate_estimate"] = estimate
    return report

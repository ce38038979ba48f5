"""The MixMatch core that Weighted MixMatch (RSL's second stage) and DivideMix share.

Plain tensor functions plus a small EMA class, usable from any PyTorch loop.
"""
from __future__ import annotations

import copy
from typing import Optional, Sequence

import numpy as np
import torch

from ..errors import NoisyLabelsError
from .checks import check_tensor, is_finite_real, is_real


def sharpen(probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """Rows of ``probs`` raised to 1/T and renormalised (T -> 0 gives one-hot argmax)."""
    if not (is_finite_real(temperature) and temperature > 0):
        raise NoisyLabelsError(f"sharpening temperature must be a number > 0, got {temperature!r}")
    check_tensor("sharpen", probs, "probs", 2)
    # p^(1/T) / sum p^(1/T) computed as a softmax of log p / T: no underflow for small T.
    return torch.softmax(torch.log(probs.clamp_min(1e-30)) / temperature, 1)


def _mean_softmax(logits: Sequence[torch.Tensor]) -> torch.Tensor:
    for z in logits:
        check_tensor("label guessing", z, "logits", 2)
    if len({tuple(z.shape) for z in logits}) > 1:
        raise NoisyLabelsError(f"label guessing needs logits of one shape (B, C), got shapes "
                               f"{[tuple(z.shape) for z in logits]}")
    return torch.stack([torch.softmax(z.float(), 1) for z in logits]).mean(0)


def guess_labels(logits: Sequence[torch.Tensor], temperature: float = 0.5) -> torch.Tensor:
    """The sharpened mean softmax over several predictions of one batch (K augmented views, and
    optionally several networks), without gradient."""
    if not logits:
        raise NoisyLabelsError("guess_labels needs at least one (B, C) logits tensor")
    with torch.no_grad():
        return sharpen(_mean_softmax(logits), temperature)


def refine_labels(targets: torch.Tensor, logits: Sequence[torch.Tensor], clean_prob: torch.Tensor,
                  temperature: float = 0.5) -> torch.Tensor:
    """DivideMix's label co-refinement: w * y + (1 - w) * mean softmax, then sharpened.

    targets: (B, C) one-hot observed labels; clean_prob: (B,) w, the GMM clean probability.
    """
    if not logits:
        raise NoisyLabelsError("refine_labels needs at least one (B, C) logits tensor")
    with torch.no_grad():
        mean = _mean_softmax(logits)
        if targets.shape != mean.shape or clean_prob.shape != mean.shape[:1]:
            raise NoisyLabelsError(f"refine_labels needs targets shaped like the logits {tuple(mean.shape)} and "
                                   f"clean_prob ({len(mean)},), got {tuple(targets.shape)} and {tuple(clean_prob.shape)}")
        w = clean_prob.float()[:, None]
        return sharpen(w * targets + (1 - w) * mean, temperature)


def mixup_lambda(alpha: float, generator: Optional[torch.Generator] = None, size: Optional[int] = None):
    """lambda ~ Beta(alpha, alpha), folded to max(lambda, 1 - lambda) so each mixed sample stays
    closer to its first input: one float, or a (size,) float64 tensor of independent draws. Drawn
    reproducibly from ``generator`` (torch has no seeded Beta)."""
    if not (is_finite_real(alpha) and alpha > 0):
        raise NoisyLabelsError(f"mixup alpha must be a number > 0, got {alpha!r}")
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    lam = np.random.default_rng(seed).beta(alpha, alpha, size)
    lam = np.maximum(lam, 1.0 - lam)
    return float(lam) if size is None else torch.from_numpy(lam)


def mixmatch_mix(x: torch.Tensor, targets: torch.Tensor, alpha: float,
                 generator: Optional[torch.Generator] = None) -> tuple[torch.Tensor, torch.Tensor, float]:
    """MixMatch's mixup over one concatenated batch: each sample is mixed with a random partner of
    the same batch. Returns (mixed x, mixed targets, lambda)."""
    if len(x) != len(targets):
        raise NoisyLabelsError(f"mixmatch_mix got {len(x)} inputs but {len(targets)} targets")
    lam = mixup_lambda(alpha, generator)
    partner = torch.randperm(len(x), generator=generator).to(x.device)
    return lam * x + (1 - lam) * x[partner], lam * targets + (1 - lam) * targets[partner], lam


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """(B,) cross-entropy against soft targets (rows summing to 1): -sum_c t_c log softmax(z)_c."""
    _check_soft("soft_cross_entropy", logits, targets)
    return -(targets * torch.log_softmax(logits.float(), 1)).sum(1)


def soft_mse(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """(B,) squared error between softmax(logits) and targets, averaged over classes (MixMatch's
    unlabeled loss: its batch mean is the official mean over all B x C entries)."""
    _check_soft("soft_mse", logits, targets)
    return ((torch.softmax(logits.float(), 1) - targets) ** 2).mean(1)


def uniform_prior_penalty(logits: torch.Tensor) -> torch.Tensor:
    """DivideMix's regulariser sum_c pi_c log(pi_c / mean_b p_bc) with uniform pi: zero when the
    batch's mean prediction is uniform, large when it collapses onto few classes."""
    check_tensor("uniform_prior_penalty", logits, "logits", 2)
    mean = torch.softmax(logits.float(), 1).mean(0)
    prior = torch.full_like(mean, 1.0 / len(mean))
    return (prior * torch.log(prior / mean.clamp_min(1e-12))).sum()


def _check_soft(where: str, logits: torch.Tensor, targets: torch.Tensor) -> None:
    check_tensor(where, logits, "logits", 2)
    if not isinstance(targets, torch.Tensor) or targets.shape != logits.shape:
        raise NoisyLabelsError(f"{where}: targets must be (B, C) like the logits {tuple(logits.shape)}, got "
                               f"{tuple(getattr(targets, 'shape', ()))}")


def linear_rampup(progress: float, start: float, length: float) -> float:
    """0 before ``start``, rising linearly to 1 over ``length``; 1 at once if length is 0. Any unit
    (epochs, or optimiser steps as dividemix and rsl_mixmatch count them, so that the ramp means the
    same at any batch size and budget)."""
    if length <= 0:
        return 1.0 if progress >= start else 0.0
    return float(min(1.0, max(0.0, (progress - start) / length)))


class EMA:
    """An exponential moving average of a model's weights for evaluation.

    The decay of update n is min(decay, (1 + n) / (10 + n)): the average forgets the random
    initialisation within tens of steps instead of thousands, which matters for short runs (a fixed
    0.999 still gives the initial weights 86% of the average after 150 steps); after about 9,000
    updates it is the plain ``decay``. Buffers (batch-norm statistics) are copied, not averaged.
    """

    def __init__(self, model: torch.nn.Module, decay: float = 0.999):
        if not (is_real(decay) and 0.0 <= decay < 1.0):
            raise NoisyLabelsError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay, self.updates = decay, 0
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        self.updates += 1
        for average, current in zip(self.model.parameters(), model.parameters()):
            average.lerp_(current.detach(), 1.0 - decay)
        for average, current in zip(self.model.buffers(), model.buffers()):
            average.copy_(current)

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.updates = state["updates"]

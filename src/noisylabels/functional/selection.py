"""Sample selection: the small-loss criterion and its class-wise, reformalized (RSL) form.

All functions take and return tensors on any device; scores are "lower = more likely clean".
"""
from __future__ import annotations

import math
from typing import Sequence

import torch

from ..errors import NoisyLabelsError

RSL_KAPPA = -math.log(0.7)  # official k: weights exp(-k t) lie in (0.7, 1]


def small_loss_mask(losses: torch.Tensor, keep: float) -> torch.Tensor:
    """(N,) bool: True for the int(keep * N) smallest losses (at least one). ``keep`` in (0, 1]."""
    if not 0.0 < keep <= 1.0:
        raise NoisyLabelsError(f"keep ratio must be in (0, 1], got {keep}")
    num_keep = max(1, int(keep * len(losses)))  # int() floors, as Co-teaching does
    mask = torch.zeros(len(losses), dtype=torch.bool, device=losses.device)
    mask[torch.argsort(losses, stable=True)[:num_keep]] = True
    return mask


def classwise_select(scores: torch.Tensor, labels: torch.Tensor, keep_per_class) -> torch.Tensor:
    """(N,) bool: within each observed class c, True for its ``keep_per_class[c]`` smallest scores.

    scores: (N,) float; labels: (N,) int in [0, C); keep_per_class: (C,) counts (larger counts keep
    the whole class).
    """
    keep = torch.as_tensor(keep_per_class, device=scores.device).long()
    num_classes = len(keep)
    if len(labels) and int(labels.max()) >= num_classes:
        raise NoisyLabelsError(f"labels go up to {int(labels.max())} but keep_per_class has {num_classes} entries")
    # Ascending score, then a stable sort by class: each class's samples are contiguous, best first.
    order = torch.argsort(scores, stable=True)
    order = order[torch.argsort(labels[order], stable=True)]
    sorted_labels = labels[order]
    counts = torch.bincount(labels, minlength=num_classes)
    starts = torch.cumsum(counts, 0) - counts
    rank_in_class = torch.arange(len(labels), device=scores.device) - starts[sorted_labels]
    mask = torch.empty(len(labels), dtype=torch.bool, device=scores.device)
    mask[order] = rank_in_class < keep[sorted_labels]
    return mask


def rsl_keep_counts(class_sizes, eta, b: float = 0.2) -> torch.Tensor:
    """(C,) samples to keep per observed class: floor(n_i * max(1 - (1+b) eta_i, (1-b)(1-eta_i))).

    class_sizes: (C,) n_i; eta: (C,) noise rate among the samples observed as class i.
    """
    sizes = torch.as_tensor(class_sizes, dtype=torch.float64)
    eta = torch.as_tensor(eta, dtype=torch.float64).flatten()
    if len(eta) != len(sizes):
        raise NoisyLabelsError(f"got {len(eta)} noise rates for {len(sizes)} classes; give one per class")
    if not ((eta >= 0) & (eta < 1)).all():
        raise NoisyLabelsError(f"noise rates must be in [0, 1), got {eta.tolist()}")
    if not 0.0 <= b < 1.0:
        raise NoisyLabelsError(f"b must be in [0, 1), got {b}")
    empty = (sizes == 0).nonzero().flatten().tolist()
    if empty:
        raise NoisyLabelsError(f"observed class(es) {empty} have no samples; RSL ranks within each class, "
                               "so every class needs samples (drop the class or relabel)")
    proportion = torch.maximum(1 - (1 + b) * eta, (1 - b) * (1 - eta))
    return torch.floor(sizes * proportion + 1e-9).long()  # + 1e-9: 0.52 * 100 must give 52


def classwise_minmax(scores: torch.Tensor, labels: torch.Tensor, num_classes: int | None = None) -> torch.Tensor:
    """(N,) each score min-max normalised within its observed class, in [0, 1] (0 if a class is flat)."""
    num_classes = num_classes or int(labels.max()) + 1
    low = torch.full((num_classes,), float("inf"), device=scores.device).scatter_reduce(0, labels, scores, "amin")
    high = torch.full((num_classes,), float("-inf"), device=scores.device).scatter_reduce(0, labels, scores, "amax")
    span = (high - low)[labels]
    return torch.where(span > 0, (scores - low[labels]) / span.clamp_min(1e-12), torch.zeros_like(scores))


def rsl_weights(scores: torch.Tensor, labels: torch.Tensor, num_classes: int | None = None,
                kappa: float = RSL_KAPPA) -> torch.Tensor:
    """(N,) w = exp(-kappa t), t the score min-max normalised within the sample's observed class
    (over the whole class, as the official code does, not only over the kept samples)."""
    return torch.exp(-kappa * classwise_minmax(scores, labels, num_classes))


def window_mean(history: torch.Tensor, epochs: Sequence[int]) -> torch.Tensor:
    """(N,) per-sample mean of ``history`` (E, N) over the given epoch indices, ignoring NaN."""
    return history[torch.as_tensor(list(epochs), dtype=torch.long, device=history.device)].nanmean(0)


def forget_rate_schedule(forget_rate: float, epochs: int, num_gradual: int = 10, exponent: float = 1.0) -> list[float]:
    """Co-teaching's schedule: forget_rate**exponent reached linearly over ``num_gradual`` epochs."""
    if not 0.0 <= forget_rate < 1.0:
        raise NoisyLabelsError(f"forget_rate must be in [0, 1), got {forget_rate}")
    rates = [forget_rate] * epochs
    ramp = torch.linspace(0, forget_rate ** exponent, num_gradual).tolist() if num_gradual > 0 else []
    for e in range(min(num_gradual, epochs)):
        rates[e] = ramp[e]
    return rates


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` where ``mask`` is True; 0 (with a gradient path) when nothing is kept."""
    return (values * mask).sum() / mask.sum().clamp_min(1)


def select_within(losses: torch.Tensor, candidates: torch.Tensor, keep: float) -> torch.Tensor:
    """(B,) bool: the small-loss fraction ``keep`` of the candidate samples only."""
    picked = torch.zeros_like(candidates)
    where = candidates.nonzero().flatten()
    if len(where):
        picked[where[small_loss_mask(losses[where], keep)]] = True
    return picked

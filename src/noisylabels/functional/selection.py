"""Sample selection: the small-loss criterion and its class-wise, reformalized (RSL) form.

All functions take and return tensors on any device; scores are "lower = more likely clean".
"""
from __future__ import annotations

import math
import operator
from typing import Sequence

import torch

from ..errors import NoisyLabelsError
from .checks import check_labels, check_tensor, is_real

RSL_KAPPA = -math.log(0.7)  # official k: weights exp(-k t) lie in (0.7, 1]


def small_loss_mask(losses: torch.Tensor, keep: float) -> torch.Tensor:
    """(N,) bool: True for the int(keep * N) smallest losses (at least one). ``keep`` in (0, 1]."""
    if not (is_real(keep) and 0.0 < keep <= 1.0):
        raise NoisyLabelsError(f"keep ratio must be in (0, 1], got {keep!r}")
    check_tensor("small_loss_mask", losses, "losses", 1)
    num_keep = max(1, int(keep * len(losses)))  # int() floors, as Co-teaching does
    mask = torch.zeros(len(losses), dtype=torch.bool, device=losses.device)
    mask[torch.argsort(losses, stable=True)[:num_keep]] = True
    return mask


def classwise_select(scores: torch.Tensor, labels: torch.Tensor, keep_per_class) -> torch.Tensor:
    """(N,) bool: within each observed class c, True for its ``keep_per_class[c]`` smallest scores.

    scores: (N,) float; labels: (N,) int in [0, C); keep_per_class: (C,) counts (larger counts keep
    the whole class).
    """
    check_tensor("classwise_select", scores, "scores", 1)
    keep = torch.as_tensor(keep_per_class, device=scores.device)
    if keep.ndim != 1 or keep.dtype.is_floating_point or keep.dtype == torch.bool:
        raise NoisyLabelsError(f"classwise_select: keep_per_class must be (C,) whole-number counts, got "
                               f"{keep.dtype} of shape {tuple(keep.shape)}")
    keep = keep.long()
    num_classes = len(keep)
    check_labels("classwise_select", labels, length=len(scores))
    if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise NoisyLabelsError(f"classwise_select: labels go from {int(labels.min())} to {int(labels.max())} but "
                               f"keep_per_class has {num_classes} entries (classes 0..{num_classes - 1})")
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
    if sizes.ndim != 1 or not ((sizes >= 0) & (sizes == sizes.round())).all():
        raise NoisyLabelsError(f"class_sizes must be (C,) whole-number counts >= 0, got {sizes.tolist()}")
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
    check_tensor("classwise_minmax", scores, "scores", 1)
    check_labels("classwise_minmax", labels, num_classes, len(scores))
    if num_classes is None and not len(labels):
        return torch.zeros_like(scores)
    num_classes = num_classes or int(labels.max()) + 1
    like = dict(dtype=scores.dtype, device=scores.device)  # the scores' dtype: float64 and half work too
    low = torch.full((num_classes,), float("inf"), **like).scatter_reduce(0, labels, scores, "amin")
    high = torch.full((num_classes,), float("-inf"), **like).scatter_reduce(0, labels, scores, "amax")
    span = (high - low)[labels]
    return torch.where(span > 0, (scores - low[labels]) / span.clamp_min(1e-12), torch.zeros_like(scores))


def rsl_weights(scores: torch.Tensor, labels: torch.Tensor, num_classes: int | None = None,
                kappa: float = RSL_KAPPA) -> torch.Tensor:
    """(N,) w = exp(-kappa t), t the score min-max normalised within the sample's observed class
    (over the whole class, as the official code does, not only over the kept samples)."""
    return torch.exp(-kappa * classwise_minmax(scores, labels, num_classes))


def window_mean(history: torch.Tensor, epochs: Sequence[int]) -> torch.Tensor:
    """(N,) per-sample mean of ``history`` (E, N) over the given epoch indices, ignoring NaN."""
    check_tensor("window_mean", history, "history", 2)
    try:
        epochs = [operator.index(e) for e in epochs]
    except TypeError:
        epochs = None
    if not epochs or not all(-len(history) <= e < len(history) for e in epochs):
        raise NoisyLabelsError(f"window_mean: epochs must be a non-empty list of epoch indices in "
                               f"[0, {len(history)}), got {epochs}")
    return history[torch.as_tensor(epochs, dtype=torch.long, device=history.device)].nanmean(0)


def forget_rate_schedule(forget_rate: float, epochs: int, num_gradual: int = 10, exponent: float = 1.0) -> list[float]:
    """Co-teaching's schedule: forget_rate**exponent reached linearly over ``num_gradual`` epochs."""
    if not (is_real(forget_rate) and 0.0 <= forget_rate < 1.0):
        raise NoisyLabelsError(f"forget_rate must be in [0, 1), got {forget_rate!r}")
    rates = [forget_rate] * epochs
    ramp = torch.linspace(0, forget_rate ** exponent, num_gradual).tolist() if num_gradual > 0 else []
    for e in range(min(num_gradual, epochs)):
        rates[e] = ramp[e]
    return rates


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` where ``mask`` is True; 0 (with a gradient path) when nothing is kept."""
    if values.shape != mask.shape:
        raise NoisyLabelsError(f"masked_mean: mask has shape {tuple(mask.shape)} but values {tuple(values.shape)}; "
                               "give one mask entry per value")
    return (values * mask).sum() / mask.sum().clamp_min(1)


def select_within(losses: torch.Tensor, candidates: torch.Tensor, keep: float) -> torch.Tensor:
    """(B,) bool: the small-loss fraction ``keep`` of the candidate samples only."""
    check_tensor("select_within", losses, "losses", 1)
    if candidates.shape != losses.shape or candidates.dtype != torch.bool:
        raise NoisyLabelsError(f"select_within: candidates must be a bool tensor shaped like losses "
                               f"{tuple(losses.shape)}, got {candidates.dtype} {tuple(candidates.shape)}")
    picked = torch.zeros_like(candidates)
    where = candidates.nonzero().flatten()
    if len(where):
        picked[where[small_loss_mask(losses[where], keep)]] = True
    return picked

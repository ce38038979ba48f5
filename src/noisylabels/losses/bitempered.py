"""Bi-tempered logistic loss (Amid et al. NeurIPS 2019, google/bi-tempered-loss).

Two temperatures: t1 < 1 bounds the loss (outliers far from the boundary stop dominating),
t2 > 1 gives the tempered softmax heavier tails (mislabeled samples near the boundary hurt less).
t1 = t2 = 1 is exactly cross-entropy. For t2 < 1 the tempered softmax has finite support; with
t1 = 1 the loss is then infinite for a label outside that support (pick t1 < 1 there).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..options import POSITIVE, POSITIVE_INT, Interval, Real
from .base import Loss
from .common import at_least_float32
from .registry import LOSSES

# Halvings of the bracket for t < 1: shrinks it by 2^-40, below float32 and near float64 resolution.
BISECTION_STEPS = 40


def log_t(x: torch.Tensor, t: float) -> torch.Tensor:
    """Tempered logarithm (x^(1-t) - 1) / (1 - t); log x at t = 1."""
    if t == 1:
        return torch.log(x)
    return (x.pow(1 - t) - 1) / (1 - t)


def exp_t(x: torch.Tensor, t: float) -> torch.Tensor:
    """Tempered exponential [1 + (1-t) x]_+^(1/(1-t)); exp x at t = 1."""
    if t == 1:
        return torch.exp(x)
    return torch.relu(1 + (1 - t) * x).pow(1 / (1 - t))


def _normaliser_fixed_point(logits: torch.Tensor, t: float, num_iters: int) -> torch.Tensor:
    """lambda (B, 1) with sum_k exp_t(z_k - lambda) = 1 for t > 1, by the fixed point of google/bi-tempered-loss.

    With a = z - max z, iterate a <- a0 * Z(a)^(1-t), Z(a) = sum_k exp_t(a_k); then lambda = max z - log_t(1/Z, t).
    """
    top = logits.max(dim=1, keepdim=True).values
    shifted = logits - top
    scaled = shifted
    for _ in range(num_iters):
        partition = exp_t(scaled, t).sum(dim=1, keepdim=True)
        scaled = shifted * partition.pow(1 - t)
    partition = exp_t(scaled, t).sum(dim=1, keepdim=True)
    return top - log_t(1 / partition, t)


def _normaliser_bisection(logits: torch.Tensor, t: float) -> torch.Tensor:
    """lambda (B, 1) with sum_k exp_t(z_k - lambda) = 1 for t < 1, by bisection.

    With a = z - max z the normaliser lies in [0, -log_t(1/d, t)], d = number of classes inside the
    support at lambda = 0: at 0 the top class alone gives exp_t(0) = 1; at the upper end each of at
    most d non-zero terms is <= 1/d.
    """
    top = logits.max(dim=1, keepdim=True).values
    shifted = logits - top
    in_support = (shifted > -1 / (1 - t)).sum(dim=1, keepdim=True).to(logits.dtype)
    lower = torch.zeros_like(top)
    upper = -log_t(1 / in_support, t)
    for _ in range(BISECTION_STEPS):
        middle = (lower + upper) / 2
        too_small = exp_t(shifted - middle, t).sum(dim=1, keepdim=True) > 1  # mass > 1: lambda must grow
        lower = torch.where(too_small, middle, lower)
        upper = torch.where(too_small, upper, middle)
    return top + (lower + upper) / 2


class _TemperedNormaliser(torch.autograd.Function):
    """lambda(z) of the tempered softmax with its exact implicit gradient.

    Differentiating sum_k exp_t(z_k - lambda) = 1 (and exp_t' = exp_t^t) gives
    d lambda / d z_k = exp_t(z_k - lambda)^t / sum_j exp_t(z_j - lambda)^t, so backward does not
    have to run through the iterations (the bisection has no useful gradient at all).
    """

    @staticmethod
    def forward(ctx, logits: torch.Tensor, t: float, num_iters: int) -> torch.Tensor:
        if t > 1:
            normaliser = _normaliser_fixed_point(logits, t, num_iters)
        else:
            normaliser = _normaliser_bisection(logits, t)
        ctx.t = t
        ctx.save_for_backward(logits, normaliser)
        return normaliser

    @staticmethod
    def backward(ctx, grad_normaliser: torch.Tensor):
        logits, normaliser = ctx.saved_tensors
        weights = exp_t(logits - normaliser, ctx.t).pow(ctx.t)  # (B, C); exactly 0 outside the support
        return grad_normaliser * weights / weights.sum(dim=1, keepdim=True), None, None


def tempered_log_softmax(logits: torch.Tensor, t: float, num_iters: int = 5) -> torch.Tensor:
    """log of the tempered softmax, (B, C) -> (B, C); -inf outside the finite support when t < 1.

    Works in at least float32. t = 1 is log_softmax; t > 1 finds the normaliser with num_iters
    fixed-point steps, t < 1 with a bisection (num_iters unused). Gradients stay finite everywhere.
    """
    logits = at_least_float32(logits)
    if t == 1:
        return F.log_softmax(logits, dim=1)
    base = 1 + (1 - t) * (logits - _TemperedNormaliser.apply(logits, t, num_iters))
    # log p = log(base) / (1 - t); base >= 1 for t > 1, and for t < 1 it is <= 0 outside the support:
    # there log p = -inf, and the log gets a safe input so that its unused branch has no inf gradient.
    inside = base > 0
    log_base = torch.log(torch.where(inside, base, torch.ones_like(base)))
    return torch.where(inside, log_base / (1 - t), torch.full_like(base, float("-inf")))


def tempered_softmax(logits: torch.Tensor, t: float, num_iters: int = 5) -> torch.Tensor:
    """Tempered softmax exp_t(z - lambda(z)), (B, C) -> (B, C), rows summing to 1 (see tempered_log_softmax)."""
    return tempered_log_softmax(logits, t, num_iters).exp()


@LOSSES.register("bitempered")
class BiTemperedLoss(Loss):
    """Bi-tempered logistic loss per sample:
    sum_k [ y_k (log_t1(y_k + 1e-10) - log_t1(p_k)) - (y_k^(2-t1) - p_k^(2-t1)) / (2-t1) ], p = tempered_softmax(z, t2).

    label_smoothing s uses the official convention: y = onehot (1 - s C/(C-1)) + s/(C-1), i.e. 1 - s on
    the label and s/(C-1) elsewhere. num_iters: fixed-point steps for t2 > 1 (5 in the official code).
    """

    name = "bitempered"
    option_constraints = {"t1": Interval(Real, 0, 1, closed="right"), "t2": POSITIVE,
                          "label_smoothing": Interval(Real, 0, 1, closed="left"),
                          "num_iters": POSITIVE_INT}

    def __init__(self, t1: float = 1.0, t2: float = 1.0, label_smoothing: float = 0.0, num_iters: int = 5):
        super().__init__()
        self.t1, self.t2, self.label_smoothing, self.num_iters = t1, t2, label_smoothing, num_iters

    def per_sample(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        log_p = tempered_log_softmax(logits, self.t2, self.num_iters)
        target = self._target(labels, log_p)
        t1 = self.t1
        # log_t1(p) and p^(2-t1) from log p, so that p = 0 or p -> 0 stays finite with finite gradient.
        log_t1_p = log_p if t1 == 1 else torch.expm1((1 - t1) * log_p) / (1 - t1)
        p_power = torch.exp((2 - t1) * log_p)
        has_mass = target > 0
        # Classes without target mass contribute no cross term (avoids 0 * -inf when t1 = 1, t2 < 1).
        cross = torch.where(has_mass, target * log_t1_p, torch.zeros_like(log_p))
        constant = target * log_t(target + 1e-10, t1) - target.pow(2 - t1) / (2 - t1)  # depends on labels only
        return (constant - cross + p_power / (2 - t1)).sum(dim=1)

    def _target(self, labels: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """The (optionally smoothed) target distribution (B, C)."""
        num_classes = like.shape[1]
        onehot = F.one_hot(labels.long(), num_classes).to(like.dtype)
        s = self.label_smoothing
        if s == 0:
            return onehot
        return onehot * (1 - s * num_classes / (num_classes - 1)) + s / (num_classes - 1)

"""A one-dimensional Gaussian mixture fitted by EM, as DivideMix and the noise-rate estimators use it.

It follows scikit-learn's ``GaussianMixture`` (the call of the official DivideMix code:
``GaussianMixture(n_components=2, max_iter=10, tol=1e-2, reg_covar=5e-4)``): a k-means start
(responsibilities one-hot on the k-means clusters), then EM that stops when the mean
log-likelihood changes by less than ``tol``, with ``reg`` added to every variance.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch

from ..errors import NoisyLabelsError

TINY = 10 * torch.finfo(torch.float64).eps  # scikit-learn's guard against empty components


class GMM1D(NamedTuple):
    means: torch.Tensor  # (K,), ascending
    variances: torch.Tensor  # (K,)
    weights: torch.Tensor  # (K,) mixing proportions
    posterior: torch.Tensor  # (N, K) responsibility of each component for each sample
    iterations: int = 0  # EM iterations run


def kmeans_1d(x: torch.Tensor, k: int, max_iter: int = 300) -> torch.Tensor:
    """(N,) cluster labels of 1-D k-means (Lloyd's iterations from the data's quantiles, to a fixed
    point). In one dimension the clusters are intervals, so labels are ordered by centre."""
    levels = (torch.arange(k, dtype=x.dtype, device=x.device) + 0.5) / k
    centres = torch.quantile(x, levels)
    labels = torch.full_like(x, -1, dtype=torch.long)
    for _ in range(max_iter):
        new = (x[:, None] - centres).abs().argmin(1)
        if torch.equal(new, labels):
            break
        labels = new
        counts = torch.bincount(labels, minlength=k)
        sums = torch.zeros(k, dtype=x.dtype, device=x.device).index_add_(0, labels, x)
        centres = torch.where(counts > 0, sums / counts.clamp_min(1), centres)  # an empty cluster keeps its centre
    return labels


def _m_step(x: torch.Tensor, resp: torch.Tensor, reg: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    mass = resp.sum(0) + TINY
    means = (resp * x[:, None]).sum(0) / mass
    variances = (resp * (x[:, None] - means) ** 2).sum(0) / mass + reg
    return mass / len(x), means, variances


def _log_joint(x, weights, means, variances) -> torch.Tensor:
    """(N, K) log w_k + log N(x | mean_k, variance_k)."""
    return torch.log(weights) - 0.5 * torch.log(2 * math.pi * variances) - 0.5 * (x[:, None] - means) ** 2 / variances


def gmm_1d(x: torch.Tensor, n_components: int = 2, max_iter: int = 10, tol: float = 1e-2,
           reg: float = 5e-4) -> GMM1D:
    """Fit a K-component 1-D Gaussian mixture to x (N,) by EM (defaults: DivideMix's).

    Components come back sorted by mean, so component 0 is the low-loss ("clean") one.
    """
    if isinstance(n_components, bool) or not isinstance(n_components, int) or n_components < 1:
        raise NoisyLabelsError(f"gmm_1d n_components must be an integer >= 1, got {n_components!r}")
    if not isinstance(x, torch.Tensor) or x.ndim != 1 or len(x) < n_components:
        raise NoisyLabelsError(f"gmm_1d needs a 1-D tensor with at least {n_components} values, got "
                               f"{tuple(getattr(x, 'shape', ()))}")
    if not torch.isfinite(x).all():
        raise NoisyLabelsError("gmm_1d got NaN or inf values; drop unrecorded samples first")
    x = x.double()
    resp = torch.nn.functional.one_hot(kmeans_1d(x, n_components), n_components).double()
    weights, means, variances = _m_step(x, resp, reg)
    previous, iterations = -math.inf, 0
    for iterations in range(1, max_iter + 1):
        log_joint = _log_joint(x, weights, means, variances)
        log_likelihood = torch.logsumexp(log_joint, 1)
        weights, means, variances = _m_step(x, torch.exp(log_joint - log_likelihood[:, None]), reg)
        current = log_likelihood.mean().item()  # of the parameters before this M-step, as scikit-learn
        if abs(current - previous) < tol:
            break
        previous = current
    posterior = torch.softmax(_log_joint(x, weights, means, variances), 1)
    order = torch.argsort(means)
    return GMM1D(means[order], variances[order], weights[order], posterior[:, order], iterations)

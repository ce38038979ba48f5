"""A one-dimensional Gaussian mixture fitted by EM, as DivideMix and RSL's estimators use it."""
from __future__ import annotations

from typing import NamedTuple

import math
import torch

from ..errors import NoisyLabelsError


class GMM1D(NamedTuple):
    means: torch.Tensor  # (K,), ascending
    variances: torch.Tensor  # (K,)
    weights: torch.Tensor  # (K,) mixing proportions
    posterior: torch.Tensor  # (N, K) responsibility of each component for each sample


def gmm_1d(x: torch.Tensor, n_components: int = 2, max_iter: int = 10, tol: float = 1e-2,
           reg: float = 5e-4) -> GMM1D:
    """Fit a K-component 1-D Gaussian mixture to x (N,) by EM (defaults: DivideMix's).

    Initialised at the data's quantiles (i + 0.5)/K; stops when the mean log-likelihood improves by
    less than ``tol``. ``reg`` is added to every variance, as scikit-learn's reg_covar. Components
    come back sorted by mean, so component 0 is the low-loss ("clean") one.
    """
    if isinstance(n_components, bool) or not isinstance(n_components, int) or n_components < 1:
        raise NoisyLabelsError(f"gmm_1d n_components must be an integer >= 1, got {n_components!r}")
    if not isinstance(x, torch.Tensor) or x.ndim != 1 or len(x) < n_components:
        raise NoisyLabelsError(f"gmm_1d needs a 1-D tensor with at least {n_components} values, got "
                               f"{tuple(getattr(x, 'shape', ()))}")
    if not torch.isfinite(x).all():
        raise NoisyLabelsError("gmm_1d got NaN or inf values; drop unrecorded samples first")
    x = x.double()
    levels = (torch.arange(n_components, dtype=torch.float64, device=x.device) + 0.5) / n_components
    means = torch.quantile(x, levels)
    variances = torch.full_like(means, x.var(unbiased=False).item() / n_components + reg)
    weights = torch.full_like(means, 1.0 / n_components)
    previous = -math.inf
    for _ in range(max_iter):
        log_joint = (torch.log(weights) - 0.5 * torch.log(2 * math.pi * variances)
                     - 0.5 * (x[:, None] - means) ** 2 / variances)  # (N, K)
        log_likelihood = torch.logsumexp(log_joint, 1)
        posterior = torch.exp(log_joint - log_likelihood[:, None])
        mass = posterior.sum(0) + 1e-12
        weights = mass / len(x)
        means = (posterior * x[:, None]).sum(0) / mass
        variances = (posterior * (x[:, None] - means) ** 2).sum(0) / mass + reg
        current = log_likelihood.mean().item()
        if abs(current - previous) < tol:
            break
        previous = current
    log_joint = torch.log(weights) - 0.5 * torch.log(2 * math.pi * variances) - 0.5 * (x[:, None] - means) ** 2 / variances
    posterior = torch.softmax(log_joint, 1)
    order = torch.argsort(means)
    return GMM1D(means[order], variances[order], weights[order], posterior[:, order])

"""Estimating each observed class's noise rate eta_i when it is not known (the usual real case)."""
from __future__ import annotations

import torch

from ..errors import NoisyLabelsError
from .checks import check_labels, check_same_length, check_tensor
from .gmm import gmm_1d

ESTIMATORS = ("gmm", "prediction")


def gmm_noise_rates(scores: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(C,) per observed class: the mean posterior of the high-loss component of a 2-component GMM
    fitted to that class's scores (epoch-mean losses). A class with fewer than 4 samples gets 0."""
    check_tensor("gmm_noise_rates", scores, "scores", 1)
    check_labels("gmm_noise_rates", labels, num_classes, len(scores))
    rates = torch.zeros(num_classes, dtype=torch.float64)
    for c in range(num_classes):
        members = scores[labels == c]
        members = members[torch.isfinite(members)]
        if len(members) >= 4 and members.max() > members.min():
            rates[c] = gmm_1d(members).posterior[:, 1].mean().item()
    return rates


def class_weighted_rate(rates: torch.Tensor, labels: torch.Tensor, num_classes: int) -> float:
    """One rate for the data set: per-class rates (C,) averaged with each observed class's size as
    its weight, i.e. the expected fraction of wrong labels if class c has rate rates[c]."""
    check_labels("class_weighted_rate", labels, num_classes)
    sizes = torch.bincount(labels.cpu(), minlength=num_classes).double()
    return float((torch.as_tensor(rates, dtype=torch.float64).cpu() * sizes).sum() / sizes.sum().clamp_min(1))


def global_noise_rate(scores: torch.Tensor, labels: torch.Tensor, num_classes: int) -> float:
    """The data set's noise rate from per-sample scores (the mean recorded loss so far): per observed
    class the high-loss mass of a 2-component GMM (``gmm_noise_rates``, RSL's estimator), combined
    weighted by class size. The estimator behind every method's ``auto`` rate without synthetic noise."""
    return class_weighted_rate(gmm_noise_rates(scores, labels, num_classes), labels, num_classes)


def prediction_noise_rates(predictions: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(C,) per observed class: the fraction of its samples the model predicts as another class."""
    check_labels("prediction_noise_rates", labels, num_classes)
    check_tensor("prediction_noise_rates", predictions, "predictions", 1)  # -1 (never predicted) disagrees
    check_same_length("prediction_noise_rates", labels, "labels", predictions, "predictions")
    disagree = (predictions != labels).double()
    counts = torch.bincount(labels, minlength=num_classes).double()
    return torch.zeros(num_classes, dtype=torch.float64, device=labels.device).index_add_(
        0, labels, disagree).cpu() / counts.clamp_min(1).cpu()


def estimate_noise_rates(method: str, *, scores=None, predictions=None, labels, num_classes: int) -> torch.Tensor:
    """Dispatch by name: ``gmm`` (needs scores) or ``prediction`` (needs predictions)."""
    if method in ESTIMATORS and (scores if method == "gmm" else predictions) is None:
        needs = "scores= (per-sample losses)" if method == "gmm" else "predictions= (predicted classes)"
        raise NoisyLabelsError(f"noise-rate estimator '{method}' needs {needs}")
    if method == "gmm":
        return gmm_noise_rates(scores, labels, num_classes)
    if method == "prediction":
        return prediction_noise_rates(predictions, labels, num_classes)
    raise NoisyLabelsError(f"unknown noise-rate estimator '{method}'; choose one of: {', '.join(ESTIMATORS)}")

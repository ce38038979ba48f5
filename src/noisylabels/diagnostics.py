"""Clean-vs-noisy diagnostics: how good is a selection, and does the small-loss premise hold?

Everything here needs the true labels, which synthetic-noise experiments have.
"""
from __future__ import annotations

import torch

from .noise.summary import dominant_rows, estimate_transition


def selection_report(selected: torch.Tensor, labels: torch.Tensor, true_labels: torch.Tensor,
                     num_classes: int) -> dict:
    """Precision (kept samples that are clean) and recall (clean samples kept) of a (N,) bool
    selection, overall and per observed class; NaN-free: an empty group reports 0."""
    clean = labels == true_labels
    kept_clean = selected & clean

    def per_class(mask: torch.Tensor) -> torch.Tensor:
        return torch.bincount(labels[mask], minlength=num_classes).double()

    precision = per_class(kept_clean) / per_class(selected).clamp_min(1)
    recall = per_class(kept_clean) / per_class(clean).clamp_min(1)
    return {
        "selection_size": int(selected.sum()),
        "selection_precision": kept_clean.sum().item() / max(1, int(selected.sum())),
        "selection_recall": kept_clean.sum().item() / max(1, int(clean.sum())),
        "selection_precision_per_class": [round(v, 6) for v in precision.tolist()],
        "selection_recall_per_class": [round(v, 6) for v in recall.tolist()],
    }


def small_loss_premise(scores: torch.Tensor, labels: torch.Tensor, predictions: torch.Tensor,
                       num_classes: int, true_labels: torch.Tensor | None = None) -> dict:
    """The RSL theorem's check on the data at hand.

    Without the truth: T estimated from the data, taking the model's predictions as the clean
    label (T[i, j] ~ P(observed j | predicted i)), and whether each row is diagonally dominant.
    With the truth: the true T's dominance too, and per observed class the mean score of clean vs.
    mislabeled samples (the premise is that clean samples score lower).
    """
    labels_np, pred_np = labels.cpu().numpy(), predictions.cpu().numpy()
    estimated = estimate_transition(pred_np, labels_np, num_classes)
    report = {"transition_estimated": [[round(v, 4) for v in row] for row in estimated.tolist()],
              "dominant_rows_estimated": dominant_rows(estimated)}
    if true_labels is None:
        return report
    true_T = estimate_transition(true_labels.cpu().numpy(), labels_np, num_classes)
    clean = labels == true_labels
    clean_mean, noisy_mean = [], []
    for c in range(num_classes):
        in_class = labels == c
        clean_scores, noisy_scores = scores[in_class & clean], scores[in_class & ~clean]
        clean_mean.append(round(clean_scores.nanmean().item(), 6) if len(clean_scores) else None)
        noisy_mean.append(round(noisy_scores.nanmean().item(), 6) if len(noisy_scores) else None)
    report.update({
        "dominant_rows_true": dominant_rows(true_T),
        "mean_score_clean": clean_mean,
        "mean_score_mislabeled": noisy_mean,
        "premise_holds": [n is None or (c is not None and c < n) for c, n in zip(clean_mean, noisy_mean)],
    })
    return report

"""Confident learning (Northcutt et al., JAIR 2021), our own implementation with cleanlab's semantics.

Inputs follow cleanlab: integer ``labels`` 0..K-1 (N,) and out-of-sample ``pred_probs`` (N, K).
Matched to cleanlab 2.x (cleanlab/count.py, cleanlab/filter.py):

* thresholds t_j = mean p_j over the samples labeled j (classes absent from ``labels`` get 2, which
  no probability reaches), clipped below at 2e-6; a probability counts as confident when
  p_j >= t_j - 1e-6;
* confident joint C[i][j]: samples labeled i whose confident class is j (the argmax among several
  confident classes); samples with no confident class are not counted; the diagonal is raised to
  at least 1;
* calibration: each row scaled to the class count n_i, rounded to integers preserving row totals;
* ``prune_by_noise_rate``: per off-diagonal (i, j) flag, among samples labeled i, the C_cal[i][j]
  ones with the largest p_j - p_i; ``prune_by_class``: per class i, the n_i - C_cal[i][i] with
  the smallest p_i; ``both``: the intersection of those two (cleanlab's meaning of "both");
  ``confident_learning``: the off-diagonal samples of the (uncalibrated) confident joint;
  ``predicted_neq_given``: argmax != label. Every filter then unflags samples whose argmax equals
  their label, as cleanlab does.

Simplifications: no multiprocessing, no ``frac_noise`` / ``num_to_remove_per_class``, no
multi-label. Rounding follows cleanlab's (round, then adjust the entries furthest from their
rounded value), which matters: equal raw counts give exact ties. ``min_examples_per_class`` (cleanlab's default 1) is kept: classes with at most
that many samples are never pruned and a prune matrix's diagonal is raised to it, taking the
difference evenly from the row's non-zero off-diagonals, then truncating the counts to integers
(as cleanlab's ``_reduce_prune_counts`` does). The confident joint is built with cleanlab's
column-major layout: its float sums, and so the rounding ties, depend on the summation order.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..errors import NoisyLabelsError
from .validate import check_choice, check_labels, check_pred_probs, check_positive_int

FILTERS = ("prune_by_noise_rate", "prune_by_class", "both", "confident_learning", "predicted_neq_given")
CONFIDENCE_TOLERANCE = 1e-6  # cleanlab's FLOATING_POINT_COMPARISON
THRESHOLD_LOWER_BOUND = 2e-6  # cleanlab's CONFIDENT_THRESHOLDS_LOWER_BOUND
ABSENT_CLASS_THRESHOLD = 2.0  # above any probability: nothing is counted into a class nobody has


class ConfidentEstimates(NamedTuple):
    thresholds: np.ndarray  # (K,) t_j
    confident_joint: np.ndarray  # (K, K) int counts C[given][confident class]
    calibrated_joint: np.ndarray  # (K, K) int, rows sum to the class counts
    joint: np.ndarray  # (K, K) Q = calibrated / N, the estimated P(given = i, true = j)
    noise_matrix: np.ndarray  # (K, K) P(given = i | true = j), columns sum to 1
    inverse_noise_matrix: np.ndarray  # (K, K) P(true = j | given = i) stored [j][i], as cleanlab
    noise_rates: np.ndarray  # (K,) 1 - P(true = i | given = i): fraction of class i mislabeled


def _inputs(labels, pred_probs) -> tuple[np.ndarray, np.ndarray]:
    labels = check_labels(labels)
    return labels, check_pred_probs(pred_probs, labels)


def self_confidence(labels, pred_probs) -> np.ndarray:
    """(N,) p_y, the probability of the given label (lower = more likely mislabeled)."""
    labels, probs = _inputs(labels, pred_probs)
    return probs[np.arange(len(labels)), labels]


def normalized_margin(labels, pred_probs) -> np.ndarray:
    """(N,) p_y - max_{k != y} p_k in [-1, 1]. cleanlab rescales it to (x + 1) / 2; the order is the same."""
    labels, probs = _inputs(labels, pred_probs)
    rows = np.arange(len(labels))
    given = probs[rows, labels]
    others = probs.copy()
    others[rows, labels] = -np.inf
    return given - others.max(1)


def confident_thresholds(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """(K,) mean p_j over the samples labeled j (checked inputs)."""
    num_classes = probs.shape[1]
    counts = np.bincount(labels, minlength=num_classes)
    sums = np.zeros(num_classes)
    np.add.at(sums, labels, probs[np.arange(len(labels)), labels])
    means = np.where(counts > 0, sums / np.maximum(counts, 1), ABSENT_CLASS_THRESHOLD)
    return np.maximum(means, THRESHOLD_LOWER_BOUND)


def confident_classes(probs: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """(N,) each sample's confident class (the argmax among classes at or above their threshold),
    -1 where no class reaches its threshold."""
    confident = probs >= thresholds - CONFIDENCE_TOLERANCE
    count = confident.sum(1)
    guess = np.where(count > 1, probs.argmax(1), confident.argmax(1))
    return np.where(count > 0, guess, -1)


def round_preserving_sum(values: np.ndarray) -> np.ndarray:
    """Round a vector to integers keeping its rounded sum, as cleanlab does: round each entry, then
    move the entries furthest from their rounded value (ties broken by index) one step towards it
    until the sum is right."""
    ints = np.round(values)
    target = np.round(values.sum())
    while (missing := int(np.round(target - ints.sum()))) != 0:
        step = 1 if missing > 0 else -1
        order = np.argsort(values - ints)  # ascending: the entries rounded up furthest come first
        for i in (order[::-1] if step > 0 else order)[:min(abs(missing), len(values))]:
            ints[i] += step
    return ints


def round_preserving_row_totals(matrix: np.ndarray) -> np.ndarray:
    """Integer matrix whose rows each keep their rounded sum (``round_preserving_sum`` per row)."""
    return np.array([round_preserving_sum(row) for row in np.asarray(matrix, dtype=float)]).astype(np.int64)


def calibrate(confident_joint: np.ndarray, class_counts: np.ndarray) -> np.ndarray:
    """Scale each row of C to its class count n_i and the whole to N, then round keeping the row
    totals (the arithmetic in cleanlab's order: rounding ties depend on the last bit)."""
    row_sums = np.clip(confident_joint.sum(1), 1e-100, None)
    scaled = (confident_joint.T / row_sums * class_counts).T
    scaled = scaled / np.clip(scaled.sum(), 1e-100, None) * class_counts.sum()
    return round_preserving_row_totals(scaled)


def estimate_latent(labels, pred_probs) -> ConfidentEstimates:
    """Thresholds, confident joint (raw and calibrated), joint Q, noise matrices and per-class noise rates."""
    labels, probs = _inputs(labels, pred_probs)
    return _estimate(labels, probs)


def _estimate(labels: np.ndarray, probs: np.ndarray) -> ConfidentEstimates:
    num_classes = probs.shape[1]
    thresholds = confident_thresholds(labels, probs)
    guess = confident_classes(probs, thresholds)
    counted = guess >= 0
    # Counted as (confident class, given label), then transposed: the same values, and the same
    # column-major memory layout as cleanlab's joint, whose float sums (and so its rounding ties)
    # depend on the summation order.
    joint = np.bincount(guess[counted] * num_classes + labels[counted],
                        minlength=num_classes * num_classes).reshape(num_classes, num_classes).T
    np.fill_diagonal(joint, np.maximum(joint.diagonal(), 1))  # cleanlab: at least one clean example per class
    counts = np.bincount(labels, minlength=num_classes)
    calibrated = calibrate(joint, counts)
    q = calibrated / max(calibrated.sum(), 1)
    noise_matrix = calibrated / np.maximum(calibrated.sum(0, keepdims=True), 1e-100)
    inverse = (calibrated / np.maximum(calibrated.sum(1, keepdims=True), 1e-100)).T
    rates = np.where(counts > 0, 1 - calibrated.diagonal() / np.maximum(counts, 1), 0.0)
    return ConfidentEstimates(thresholds, joint, calibrated, q, noise_matrix, inverse, rates)


def keep_at_least(prune_counts: np.ndarray, minimum: int) -> np.ndarray:
    """Raise the diagonal of a (given, true) count matrix to ``minimum``, taking the difference
    evenly from each row's non-zero off-diagonal entries (clipped at 0), then truncate to integers."""
    diagonal = prune_counts.diagonal()
    raised = np.maximum(diagonal, minimum)
    nonzero_off = np.maximum(np.count_nonzero(prune_counts, axis=1) - 1, 1)
    adjusted = np.clip(prune_counts - ((raised - diagonal) / nonzero_off)[:, None], 0, None)
    np.fill_diagonal(adjusted, raised)
    return adjusted.astype(np.int64)  # truncated towards zero, as cleanlab's counts are


def _prune_by_noise_rate(labels, probs, prune_counts, minimum) -> np.ndarray:
    mask = np.zeros(len(labels), dtype=bool)
    for given in range(probs.shape[1]):
        members = np.flatnonzero(labels == given)
        if len(members) <= minimum:
            continue  # too few examples to prune (cleanlab warns here)
        for true in range(probs.shape[1]):
            count = prune_counts[given, true]
            if true != given and count > 0:
                margin = probs[members, true] - probs[members, given]
                mask[members[np.argsort(-margin, kind="stable")[:count]]] = True
    return mask


def _prune_by_class(labels, probs, prune_counts, minimum) -> np.ndarray:
    mask = np.zeros(len(labels), dtype=bool)
    for given in range(probs.shape[1]):
        members = np.flatnonzero(labels == given)
        count = len(members) - prune_counts[given, given]
        if len(members) > minimum and count > 0:
            mask[members[np.argsort(probs[members, given], kind="stable")[:count]]] = True
    return mask


def confident_learning_issues(labels, pred_probs, filter_by: str = "prune_by_noise_rate",
                              min_examples_per_class: int = 1) -> np.ndarray:
    """(N,) bool, True = label issue, as cleanlab.filter.find_label_issues(labels, pred_probs,
    filter_by=...) (see the module docstring for the filters and the simplifications)."""
    labels, probs = _inputs(labels, pred_probs)
    check_filter_by(filter_by)
    minimum = check_positive_int(min_examples_per_class, "min_examples_per_class", minimum=0)
    if filter_by == "predicted_neq_given":
        return probs.argmax(1) != labels
    estimates = _estimate(labels, probs)
    if filter_by == "confident_learning":
        guess = confident_classes(probs, estimates.thresholds)
        mask = (guess >= 0) & (guess != labels)
    else:
        prune_counts = keep_at_least(estimates.calibrated_joint, minimum)
        if filter_by == "prune_by_class":
            mask = _prune_by_class(labels, probs, prune_counts, minimum)
        else:
            mask = _prune_by_noise_rate(labels, probs, prune_counts, minimum)
            if filter_by == "both":
                mask &= _prune_by_class(labels, probs, prune_counts, minimum)
    mask &= probs.argmax(1) != labels  # the model agrees with the given label: not an issue
    return mask


def check_filter_by(filter_by) -> str:
    if not isinstance(filter_by, str):
        raise NoisyLabelsError(f"filter_by must be a string, one of: {', '.join(FILTERS)}; got {filter_by!r}")
    return check_choice(filter_by, FILTERS, "filter_by")

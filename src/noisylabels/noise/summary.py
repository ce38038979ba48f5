"""How noisy a label set is: the empirical transition matrix and per-class noise rates."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ..errors import NoisyLabelsError


def as_label_array(labels, num_classes: int, what: str = "labels") -> np.ndarray:
    """Integer class indices in [0, num_classes) as a (N,) int64 array, or a NoisyLabelsError.

    Accepts anything ``np.asarray`` takes (lists, arrays, CPU tensors); whole-number floats are allowed.
    """
    try:
        arr = np.asarray(labels)
    except (ValueError, TypeError):  # ragged nested lists
        raise NoisyLabelsError(
            f"{what} must be a 1-D array of class indices, got a ragged {type(labels).__name__}"
        ) from None
    if arr.ndim != 1:
        raise NoisyLabelsError(f"{what} must be a 1-D array of class indices, got shape {arr.shape}")
    if arr.size == 0:
        raise NoisyLabelsError(f"{what} are empty; give at least one label")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise NoisyLabelsError(f"{what} must be whole numbers (class indices 0..{num_classes - 1})")
    elif arr.dtype.kind not in "iub":
        raise NoisyLabelsError(f"{what} must be integer class indices, got dtype {arr.dtype}")
    out_of_range = (arr < 0) | (arr >= num_classes)  # before the cast: a huge float would wrap around
    if out_of_range.any():
        bad = arr[out_of_range][0]
        bad = int(bad) if abs(bad) < 2**63 else bad
        raise NoisyLabelsError(
            f"{what} contain {bad}, outside [0, {num_classes}); labels must be 0..{num_classes - 1} "
            "(remap them, or set num_classes)"
        )
    return arr.astype(np.int64)


def check_num_classes(num_classes) -> int:
    """num_classes as an int, or a NoisyLabelsError if it is not an integer >= 2."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 2:
        raise NoisyLabelsError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    return int(num_classes)


def _label_pair(true_labels, noisy_labels, num_classes) -> tuple[np.ndarray, np.ndarray]:
    true = as_label_array(true_labels, num_classes, "true labels")
    noisy = as_label_array(noisy_labels, num_classes, "noisy labels")
    if len(true) != len(noisy):
        raise NoisyLabelsError(
            f"{len(true)} true labels but {len(noisy)} noisy labels; give one of each per sample"
        )
    return true, noisy


def _rate_per_class(wrong: np.ndarray, classes: np.ndarray, num_classes: int) -> list[float]:
    """Fraction of ``wrong`` within each class; a class with no samples reports 0.0 (nothing to get wrong)."""
    totals = np.bincount(classes, minlength=num_classes)
    wrongs = np.bincount(classes, weights=wrong.astype(np.float64), minlength=num_classes)
    return [float(w / n) if n else 0.0 for w, n in zip(wrongs, totals)]


def estimate_transition(true_labels, noisy_labels, num_classes: int) -> np.ndarray:
    """Empirical T[i, j] = P(noisy = j | true = i).

    true_labels, noisy_labels: (N,) class indices. Returns (C, C) float64, each row summing to 1;
    a class with no samples gets an identity row (no evidence of any noise).
    """
    num_classes = check_num_classes(num_classes)
    true, noisy = _label_pair(true_labels, noisy_labels, num_classes)
    counts = np.bincount(true * num_classes + noisy, minlength=num_classes * num_classes)
    counts = counts.reshape(num_classes, num_classes).astype(np.float64)
    totals = counts.sum(axis=1)
    transition = np.eye(num_classes)
    seen = totals > 0
    transition[seen] = counts[seen] / totals[seen, None]
    return transition


def dominant_rows(transition: np.ndarray) -> list[bool]:
    """Per row (true class): does the diagonal entry strictly exceed every other entry of the row?"""
    off_diagonal = np.array(transition, dtype=np.float64)
    diagonal = np.diag(off_diagonal).copy()
    np.fill_diagonal(off_diagonal, -np.inf)
    return [bool(d > m) for d, m in zip(diagonal, off_diagonal.max(axis=1))]


def is_diagonally_dominant(transition: np.ndarray) -> bool:
    """True when, in every row, the diagonal entry strictly exceeds every other entry of that row."""
    return all(dominant_rows(transition))


def noise_summary(
    true_labels, noisy_labels, num_classes: int, requested_T: Optional[Any] = None
) -> dict[str, Any]:
    """How the noisy labels differ from the true ones, as JSON-friendly values.

    true_labels, noisy_labels: (N,) class indices; requested_T: optional (C, C) matrix the noise
    was generated from. Keys:
      num_samples, actual_rate (fraction of labels changed),
      per_class_rate[i]: fraction of samples of TRUE class i whose label changed,
      per_observed_class_rate[i]: fraction of samples OBSERVED as class i that are mislabeled (eta_i),
      estimated_T: (C, C) nested list, see ``estimate_transition``,
      diagonally_dominant: every row of estimated_T has its diagonal strictly largest,
      requested_T and max_abs_T_error (max |estimated - requested|): only when requested_T is given.
    """
    num_classes = check_num_classes(num_classes)
    true, noisy = _label_pair(true_labels, noisy_labels, num_classes)
    wrong = true != noisy
    estimated = estimate_transition(true, noisy, num_classes)
    summary: dict[str, Any] = {
        "num_samples": int(len(true)),
        "actual_rate": float(wrong.mean()),
        "per_class_rate": _rate_per_class(wrong, true, num_classes),
        "per_observed_class_rate": _rate_per_class(wrong, noisy, num_classes),
        "estimated_T": estimated.tolist(),
        "diagonally_dominant": is_diagonally_dominant(estimated),
    }
    if requested_T is not None:
        requested = np.asarray(requested_T, dtype=np.float64)
        if requested.shape != (num_classes, num_classes):
            raise NoisyLabelsError(
                f"requested_T has shape {requested.shape}; it must be ({num_classes}, {num_classes}), "
                "one row and column per class"
            )
        summary["requested_T"] = requested.tolist()
        summary["max_abs_T_error"] = float(np.abs(estimated - requested).max())
    return summary


def _describe_rates(rates: list[float]) -> str:
    """All rates for a few classes; for many, only the extremes and the mean (keeps one line short)."""
    if len(rates) <= 10:
        return ", ".join(f"{i}: {100 * r:.1f}%" for i, r in enumerate(rates))
    low, high = int(np.argmin(rates)), int(np.argmax(rates))
    return (
        f"min {100 * rates[low]:.1f}% (class {low}), max {100 * rates[high]:.1f}% (class {high}), "
        f"mean {100 * float(np.mean(rates)):.1f}%"
    )


def format_noise_summary(summary: dict[str, Any]) -> str:
    """A few human-readable lines describing a ``noise_summary`` result."""
    lines = [
        f"label noise: {100 * summary['actual_rate']:.2f}% of {summary['num_samples']} labels changed",
        f"  by true class: {_describe_rates(summary['per_class_rate'])}",
        f"  by observed class (eta): {_describe_rates(summary['per_observed_class_rate'])}",
    ]
    if summary["diagonally_dominant"]:
        lines.append("  transition matrix is diagonally dominant (each class is mostly kept)")
    else:
        lines.append("  transition matrix is NOT diagonally dominant: some class is relabelled as another")
        lines.append("  at least as often as it is kept, so per-class small-loss selection cannot separate them")
    if "max_abs_T_error" in summary:
        lines.append(f"  max |estimated T - requested T| = {summary['max_abs_T_error']:.4f}")
    return "\n".join(lines)

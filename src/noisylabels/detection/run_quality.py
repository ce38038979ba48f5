"""A run folder's per-sample label quality, computed as its training method's ``LabelQuality`` says."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..errors import NoisyLabelsError
from ..quality import NAMED, LabelQuality
from .scores import aum_score, classwise_quality, epoch_mean, last_recorded
from .validate import check_vector


def run_quality(stats: dict, labels: np.ndarray, spec: LabelQuality, where: str) -> np.ndarray:
    """(N,) quality (lower = more suspicious) of a run's training labels, following ``spec``."""
    values = stats.get("values", {})
    if spec.value is not None and spec.value in values:
        score = check_vector(values[spec.value], spec.value, allow_nan=True)
        higher_is_cleaner = spec.higher_is_cleaner
    elif spec.history is not None:
        score, higher_is_cleaner = _from_history(stats, spec.history)
    else:
        raise NoisyLabelsError(f"run {where} has no '{spec.value}' values in stats.pt (it has: "
                               f"{sorted(values) or 'none'}), so this score does not apply to it; use method='auto' "
                               f"or one of: {', '.join(n for n, s in NAMED.items() if s.history is not None)}")
    if spec.classwise:
        return classwise_quality(-score if higher_is_cleaner else score, labels)
    return score if higher_is_cleaner else -score


def _from_history(stats: dict, history: str) -> tuple[np.ndarray, bool]:
    if history == "mean_loss":
        return epoch_mean(stats["loss"], name="loss"), False
    if history == "last_loss":
        return last_recorded(stats["loss"], "loss_history"), False
    return aum_score(stats["margin"]), True


def own_flags(stats: dict, spec: LabelQuality) -> Optional[np.ndarray]:
    """(N,) bool flags the training method decided itself (AUM's rule, DivideMix's division), or None."""
    values = stats.get("values", {})
    if spec.flag_value is None or spec.flag_value not in values:
        return None
    value = values[spec.flag_value].numpy()
    return ~(value > 0.5) if spec.flag_below else value > 0.5

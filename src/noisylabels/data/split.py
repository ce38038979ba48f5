"""Seeded, stratified index splits (validation hold-out, quick-run subsets)."""
from __future__ import annotations

import numpy as np

from ..errors import NoisyLabelsError


def stratified_split(labels, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into (kept, held_out) with about ``fraction`` of every class held out.

    labels: (N,) int class per sample. Returns two sorted int64 index arrays that partition 0..N-1.
    """
    if not 0.0 < fraction < 1.0:
        raise NoisyLabelsError(f"split fraction must be in (0, 1), got {fraction}")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    held = []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        held.append(members[: int(round(fraction * len(members)))])
    held = np.sort(np.concatenate(held))
    kept = np.setdiff1d(np.arange(len(labels)), held)
    if len(held) == 0 or len(kept) == 0:
        raise NoisyLabelsError(f"a {fraction} split of {len(labels)} samples leaves one side empty")
    return kept, held


def stratified_subset(labels, size: int, seed: int) -> np.ndarray:
    """Sorted indices of ``size`` samples drawn with the class proportions of ``labels``."""
    n = len(labels)
    if size <= 0:
        raise NoisyLabelsError(f"subset size must be positive, got {size}")
    if size >= n:
        return np.arange(n)
    _, chosen = stratified_split(labels, size / n, seed)
    return chosen

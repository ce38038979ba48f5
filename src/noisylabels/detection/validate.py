"""Input checks of every public detection function, in one place.

Each helper accepts numpy arrays, lists and torch tensors (any device) and returns a numpy array
(documented per helper), except ``check_batch``, which returns torch tensors on the logits' device
for the Recorder. Every failure is a ``NoisyLabelsError`` naming the argument, what was expected
and what was given, so a user can fix the call without reading this code.
"""
from __future__ import annotations

from typing import Iterable, Optional

import numpy as np
import torch

from ..errors import NoisyLabelsError

ROW_SUM_TOLERANCE = 1e-3
HISTORY_DTYPES = {torch.float16: np.float16, torch.float32: np.float32, torch.float64: np.float64}


def describe_indices(bad: np.ndarray, limit: int = 5) -> str:
    """'indices [3, 8]' or 'indices [3, 8, 9, 11, 20, ...] (57 in all)' for a boolean mask."""
    where = np.flatnonzero(bad)
    shown = ", ".join(str(i) for i in where[:limit])
    return f"indices [{shown}]" if len(where) <= limit else f"indices [{shown}, ...] ({len(where)} in all)"


def to_numpy(value, name: str) -> np.ndarray:
    """Any array-like as a numpy array (tensors are detached and copied to the CPU)."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        return (value.float() if value.dtype == torch.bfloat16 else value).numpy()
    if value is None:
        raise NoisyLabelsError(f"{name} is required: give a numpy array, list or torch tensor, got None")
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as error:  # ragged nested lists
        raise NoisyLabelsError(f"{name} must be a rectangular array, list or tensor; could not convert "
                               f"{type(value).__name__}: {error}") from None
    if array.dtype.kind not in "biuf":
        raise NoisyLabelsError(f"{name} must hold numbers, got dtype {array.dtype} "
                               "(strings or mixed objects); convert it to a numeric array first")
    return array


def check_positive_int(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise NoisyLabelsError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_labels(labels, num_classes: Optional[int] = None, name: str = "labels",
                 length: Optional[int] = None) -> np.ndarray:
    """(N,) int64 class ids in 0..K-1 (N = ``length`` when given). Whole-number floats are accepted
    (labels read from CSV)."""
    array = to_numpy(labels, name)
    if array.ndim != 1:
        raise NoisyLabelsError(f"{name} must be a 1-D array of integer class ids 0..K-1, got shape {array.shape}")
    if length is not None and len(array) != length:
        raise NoisyLabelsError(f"{name} must have one entry per sample (N={length}), got {len(array)}")
    if len(array) == 0:
        raise NoisyLabelsError(f"{name} must not be empty: give one class id per sample")
    if array.dtype.kind == "f":
        if not np.isfinite(array).all():
            raise NoisyLabelsError(f"{name} must be integer class ids, got NaN or inf at "
                                   f"{describe_indices(~np.isfinite(array))}")
        fractional = array != np.round(array)
        if fractional.any():
            raise NoisyLabelsError(f"{name} must be integer class ids, got fractional values at "
                                   f"{describe_indices(fractional)} (e.g. {array[fractional][0]})")
        huge = np.abs(array) >= 2.0 ** 62  # beyond int64: no class id, and the cast would overflow
        if huge.any():
            raise NoisyLabelsError(f"{name} must be class ids 0..K-1, got {array[huge][0]:g} at "
                                   f"{describe_indices(huge)}")
    array = array.astype(np.int64)
    if (array < 0).any():
        raise NoisyLabelsError(f"{name} must be in 0..K-1, got negative values at {describe_indices(array < 0)}")
    if num_classes is not None:
        num_classes = check_positive_int(num_classes, "num_classes")
        too_big = array >= num_classes
        if too_big.any():
            raise NoisyLabelsError(f"{name} must be in 0..{num_classes - 1} (num_classes={num_classes}), got "
                                   f"{int(array.max())} at {describe_indices(too_big)}")
    return array


def check_num_classes(num_classes: Optional[int], labels: np.ndarray) -> int:
    """K: the given count (checked against the labels), or max(labels) + 1 when None."""
    if num_classes is None:
        return int(labels.max()) + 1
    num_classes = check_positive_int(num_classes, "num_classes")
    if labels.max() >= num_classes:
        raise NoisyLabelsError(f"labels go up to {int(labels.max())} but num_classes={num_classes}; "
                               f"pass num_classes >= {int(labels.max()) + 1}")
    return num_classes


def check_pred_probs(pred_probs, labels: np.ndarray) -> np.ndarray:
    """(N, K) float64 out-of-sample probabilities: finite, non-negative, rows summing to 1."""
    probs = to_numpy(pred_probs, "pred_probs").astype(np.float64)
    n = len(labels)
    if probs.ndim != 2 or probs.shape[0] != n:
        raise NoisyLabelsError(f"pred_probs must have shape (N, K) = ({n}, K) to match labels, got {probs.shape}")
    if probs.shape[1] < 2:
        raise NoisyLabelsError(f"pred_probs needs K >= 2 class columns, got shape {probs.shape}")
    if labels.max() >= probs.shape[1]:
        raise NoisyLabelsError(f"labels go up to {int(labels.max())} but pred_probs has only {probs.shape[1]} "
                               "columns; give one column per class 0..K-1")
    bad = ~np.isfinite(probs).all(1)
    if bad.any():
        raise NoisyLabelsError(f"pred_probs must be finite, got NaN or inf in rows at {describe_indices(bad)}")
    bad = (probs < 0).any(1)
    if bad.any():
        raise NoisyLabelsError(f"pred_probs must be non-negative probabilities, got negative values in rows at "
                               f"{describe_indices(bad)}; if these are logits, apply softmax first")
    sums = probs.sum(1)
    bad = np.abs(sums - 1) > ROW_SUM_TOLERANCE
    if bad.any():
        raise NoisyLabelsError(f"each row of pred_probs must sum to 1 (within {ROW_SUM_TOLERANCE}), rows at "
                               f"{describe_indices(bad)} sum to e.g. {sums[bad][0]:.4g}; if these are logits or "
                               "scores, apply softmax first (torch.softmax(logits, dim=1))")
    return probs


def _length(labels_or_length) -> int:
    return int(labels_or_length) if isinstance(labels_or_length, (int, np.integer)) else len(labels_or_length)


def check_scores(scores, labels_or_length, name: str = "scores", allow_nan: bool = False) -> np.ndarray:
    """(N,) float64 per-sample values; NaN only where ``allow_nan`` (internal: never-recorded samples)."""
    n = _length(labels_or_length)
    array = to_numpy(scores, name).astype(np.float64)
    if array.ndim != 1 or len(array) != n:
        raise NoisyLabelsError(f"{name} must be a 1-D array of length N={n} (one value per sample), "
                               f"got shape {array.shape}")
    if not allow_nan and np.isnan(array).any():
        raise NoisyLabelsError(f"{name} must not contain NaN, got NaN at {describe_indices(np.isnan(array))}; "
                               "drop or fill those samples first")
    return array


def check_vector(values, name: str, allow_nan: bool = False) -> np.ndarray:
    """(N,) float64, any non-zero length (for values whose length nothing else fixes)."""
    array = to_numpy(values, name)
    if array.ndim != 1 or len(array) == 0:
        raise NoisyLabelsError(f"{name} must be a non-empty 1-D array (one value per sample), got shape {array.shape}")
    return check_scores(array, len(array), name, allow_nan)


def check_mask(mask, labels_or_length, name: str = "mask") -> np.ndarray:
    """(N,) bool; 0/1 integers are accepted."""
    n = _length(labels_or_length)
    array = to_numpy(mask, name)
    if array.ndim != 1 or len(array) != n:
        raise NoisyLabelsError(f"{name} must be a 1-D boolean array of length N={n}, got shape {array.shape}")
    if array.dtype.kind != "b":
        not_binary = (array != 0) & (array != 1)
        if not_binary.any():
            raise NoisyLabelsError(f"{name} must be boolean (or 0/1), got other values at "
                                   f"{describe_indices(not_binary)}")
    return array.astype(bool)


def check_history(history, name: str, num_samples: Optional[int] = None):
    """(E, N) per-epoch history, NaN where unrecorded. Returned as given (numpy array, memmap or
    tensor, so large memmaps are never copied here); lists become float64 numpy arrays."""
    if not isinstance(history, (np.ndarray, torch.Tensor)):
        history = to_numpy(history, name).astype(np.float64)
    elif isinstance(history, np.ndarray) and history.dtype.kind not in "biuf":
        raise NoisyLabelsError(f"{name} must hold numbers, got dtype {history.dtype}")
    if history.ndim != 2 or history.shape[0] == 0:
        raise NoisyLabelsError(f"{name} must have shape (epochs, N) with at least one epoch, "
                               f"got {tuple(history.shape)}")
    if num_samples is not None and history.shape[1] != num_samples:
        raise NoisyLabelsError(f"{name} has {history.shape[1]} samples per epoch but labels have {num_samples}; "
                               "they must describe the same samples")
    return history


def check_noise_rates(noise_rates, num_classes: int) -> np.ndarray:
    """(C,) float64 rates in [0, 1]; one number is used for every class."""
    rates = to_numpy(noise_rates, "noise_rates").astype(np.float64).reshape(-1)
    if len(rates) == 1:
        rates = np.full(num_classes, rates[0])
    if len(rates) != num_classes:
        raise NoisyLabelsError(f"noise_rates must be one rate or one per class ({num_classes}), "
                               f"got {len(rates)} values")
    if not (np.isfinite(rates) & (rates >= 0) & (rates <= 1)).all():
        raise NoisyLabelsError(f"noise_rates must be in [0, 1], got {rates.tolist()}")
    return rates


def check_choice(value, valid: Iterable[str], name: str) -> str:
    valid = list(valid)
    if value not in valid:
        raise NoisyLabelsError(f"unknown {name} {value!r}; choose one of: {', '.join(valid)}")
    return value


def check_history_dtype(dtype) -> np.dtype:
    if dtype not in HISTORY_DTYPES:
        raise NoisyLabelsError(f"dtype must be torch.float16, torch.float32 or torch.float64, got {dtype}")
    return np.dtype(HISTORY_DTYPES[dtype])


def _as_tensor(value, name: str, device=None) -> torch.Tensor:
    try:
        return torch.as_tensor(value, device=device)
    except (TypeError, ValueError, RuntimeError) as error:
        raise NoisyLabelsError(f"{name} must be a tensor (or array) of numbers; could not convert "
                               f"{type(value).__name__}: {error}") from None


def check_batch(indices, logits, labels, num_samples: int, num_classes: int):
    """One training batch for ``Recorder.record``: (B,) indices in [0, num_samples), (B, C) finite
    logits with C == num_classes, (B,) labels in [0, C). Returns (indices, logits, labels) as long /
    float32 (float64 kept) / long tensors on the logits' device; the value checks cost one device sync."""
    logits = _as_tensor(logits, "logits")
    if logits.ndim != 2 or logits.shape[1] != num_classes:
        raise NoisyLabelsError(f"logits must have shape (B, num_classes) = (B, {num_classes}), "
                               f"got {tuple(logits.shape)}")
    if not logits.dtype.is_floating_point:
        raise NoisyLabelsError(f"logits must be floating point (the model's raw outputs), got dtype {logits.dtype}")
    batch = logits.shape[0]
    checked = []
    for value, name in ((indices, "indices"), (labels, "labels")):
        value = _as_tensor(value, name, logits.device)
        if value.ndim != 1 or len(value) != batch:
            raise NoisyLabelsError(f"{name} must be a 1-D tensor of length B={batch} (one per logits row), "
                                   f"got shape {tuple(value.shape)}")
        if value.dtype.is_floating_point or value.dtype == torch.bool or value.is_complex():
            raise NoisyLabelsError(f"{name} must be an integer tensor, got dtype {value.dtype}")
        checked.append(value.long())
    idx, labels = checked
    logits = logits if logits.dtype == torch.float64 else logits.float()  # half precision: compute in float32
    if batch == 0:
        return idx, logits, labels
    limits = torch.stack([idx.min(), idx.max(), labels.min(), labels.max(),
                          (~torch.isfinite(logits)).any().long()]).tolist()  # one sync
    if limits[0] < 0 or limits[1] >= num_samples:
        bad = ((idx < 0) | (idx >= num_samples)).cpu().numpy()
        raise NoisyLabelsError(f"indices must be in [0, {num_samples}) (num_samples={num_samples}), got values "
                               f"{limits[0]}..{limits[1]}; bad batch positions: {describe_indices(bad)}")
    if limits[2] < 0 or limits[3] >= num_classes:
        bad = ((labels < 0) | (labels >= num_classes)).cpu().numpy()
        raise NoisyLabelsError(f"labels must be in [0, {num_classes}) (num_classes={num_classes}), got values "
                               f"{limits[2]}..{limits[3]}; bad batch positions: {describe_indices(bad)}")
    if limits[4]:
        bad = (~torch.isfinite(logits)).any(1).cpu().numpy()
        raise NoisyLabelsError(f"logits must be finite, got NaN or inf in batch rows at {describe_indices(bad)}; "
                               "the training has diverged (lower the learning rate) or the model outputs are masked")
    return idx, logits, labels

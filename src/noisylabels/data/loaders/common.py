"""What every loader shares: the ``DATASETS`` registry, standardisation and small helpers.

Features come out as float32: images (N, C, H, W) scaled to [0, 1] and then standardised per
channel, vectors (N, D) standardised per column. The statistics always come from the train split
and the same constants are applied to the test split, so nothing about the test set leaks in.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch

from ...errors import NoisyLabelsError
from ...options import Integral, Interval
from ...registry import Registry
from ..dataset import LabeledData, Splits

# Every loader is fn(path=None, **options); path is an argument of load_dataset, not an option.
DATASETS = Registry("dataset", fixed=("path",))

PathLike = Union[str, os.PathLike]

# num_classes: None infers the largest label + 1; a classifier needs two classes.
NUM_CLASSES = [Interval(Integral, 2, None), None]


# --------------------------------------------------------------------------- features


def _scaled_images(images: np.ndarray) -> torch.Tensor:
    """uint8 images (N, C, H, W) -> float32 in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).float().div_(255.0)


def _standardize(
    train: torch.Tensor, test: Optional[torch.Tensor]
) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
    """Standardise with the train split's statistics, applied to both splits.

    Images (N, C, H, W): per channel over samples and pixels. Vectors (N, D): per column.
    A constant channel or column (std 0) is only centred. Returns float32 tensors.
    """
    dims = (0, 2, 3) if train.ndim == 4 else (0,)
    variance, mean = torch.var_mean(train, dim=dims, correction=0, keepdim=True)
    constant = train.amax(dim=dims, keepdim=True) == train.amin(dim=dims, keepdim=True)
    std = variance.sqrt().masked_fill(constant, 1.0)  # exact test: rounding can leave variance > 0

    def apply(x: torch.Tensor) -> torch.Tensor:
        return (x - mean).div_(std).float()  # in place after the one copy: image sets are large

    return apply(train), None if test is None else apply(test)


def _check_finite(values: np.ndarray, what: str) -> None:
    """Reject NaN/inf before standardising, which would otherwise smear them over a whole column."""
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        bad_rows = np.flatnonzero(~np.isfinite(values.reshape(len(values), -1)).all(axis=1))
        raise NoisyLabelsError(
            f"{what} contains NaN or inf in {len(bad_rows)} rows (first: row {bad_rows[0]}); impute or drop them"
        )


def _to_numpy(values) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().numpy()
    return np.asarray(values)


def _check_features(values: np.ndarray, what: str) -> None:
    """Features must be numeric (N, D) vectors or (N, H, W) / (N, C, H, W) images."""
    if values.dtype.kind not in "iufb":
        raise NoisyLabelsError(f"{what} must be numeric, got dtype {values.dtype}; convert the features to numbers")
    if values.ndim not in (2, 3, 4):
        raise NoisyLabelsError(
            f"{what} has shape {values.shape}; expected (N, D) vectors or (N, C, H, W) images"
        )


def _feature_tensor(values: np.ndarray, what: str) -> torch.Tensor:
    """Numeric features -> float tensor: (N, D) vectors or (N, C, H, W) images."""
    _check_features(values, what)
    if values.ndim == 3:
        values = values[:, None]  # (N, H, W) grayscale images get their channel axis
    if values.ndim == 4 and values.dtype == np.uint8:
        return _scaled_images(values)
    _check_finite(values, what)
    # Vectors keep float64 until standardised so large offsets lose no precision.
    return torch.from_numpy(np.ascontiguousarray(values, dtype=np.float64 if values.ndim == 2 else np.float32))


# --------------------------------------------------------------------------- labels and splits


def _default_num_classes(label_arrays: list[np.ndarray], source: str) -> int:
    """Largest label over all splits + 1; bad labels are left for LabeledData to report."""
    largest = 0
    for labels in label_arrays:
        labels = np.asarray(labels)
        if labels.dtype.kind not in "iuf":
            raise NoisyLabelsError(f"{source}: labels must be integer class indices, got dtype {labels.dtype}")
        if labels.size and np.all(np.isfinite(labels)):
            largest = max(largest, int(np.ceil(labels.max())))  # ceil: [0, 0.5] is 2 classes, fractional
    return largest + 1


def _make_splits(
    name: str,
    train_x: torch.Tensor,
    train_labels,
    test_x: Optional[torch.Tensor],
    test_labels,
    num_classes: int,
    class_names: Optional[list[str]] = None,
    train_truth=None,
    test_truth=None,
) -> Splits:
    train = LabeledData(train_x, train_labels, num_classes, train_truth, name, class_names)
    test = None
    if test_x is not None:
        test = LabeledData(test_x, test_labels, num_classes, test_truth, name, class_names)
    return Splits(train, test)


# --------------------------------------------------------------------------- files and messages


def _existing_path(path: PathLike, what: str) -> Path:
    file = Path(path).expanduser()
    if not file.is_file():
        raise NoisyLabelsError(f"{what} {file} not found; check the path")
    return file


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def _one_line(exc: BaseException) -> str:
    """An exception's message squeezed onto one line for our one-line errors."""
    return " ".join(str(exc).split()) or type(exc).__name__

"""The in-memory container for one split: features, observed labels and, when known, the truth."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch

from ..errors import NoisyLabelsError
from .streaming import StreamedFeatures


def as_label_tensor(labels, num_classes: int, what: str = "labels") -> torch.Tensor:
    """Integer labels in [0, num_classes) as an int64 tensor, or a clear error."""
    arr = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if arr.ndim != 1:
        raise NoisyLabelsError(f"{what} must be a 1-D array of class indices, got shape {arr.shape}")
    if arr.size and arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise NoisyLabelsError(f"{what} must be whole numbers (class indices 0..{num_classes - 1})")
    elif arr.size and arr.dtype.kind not in "iub":
        raise NoisyLabelsError(f"{what} must be integer class indices, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
        bad = arr[(arr < 0) | (arr >= num_classes)][0]
        raise NoisyLabelsError(
            f"{what} contain {bad}, outside [0, {num_classes}); labels must be 0..{num_classes - 1} "
            "(remap them, or set num_classes)"
        )
    return torch.from_numpy(arr)


@dataclass
class LabeledData:
    """One split held in memory.

    x: (N, *in_shape) float32 features (images as (N, C, H, W), vectors as (N, D)), or
       ``StreamedFeatures`` of that shape read from disk on demand (``data.streaming``).
    labels: (N,) int64 observed labels, possibly noisy.
    true_labels: (N,) int64 clean labels when known, else None.
    """

    x: torch.Tensor
    labels: torch.Tensor
    num_classes: int
    true_labels: Optional[torch.Tensor] = None
    name: str = "data"
    class_names: Optional[list[str]] = field(default=None)

    def __post_init__(self):
        if not isinstance(self.x, (torch.Tensor, StreamedFeatures)):
            self.x = torch.as_tensor(np.asarray(self.x))
        if self.x.ndim < 2:
            raise NoisyLabelsError(
                f"{self.name}: features must have shape (N, ...) with one row per sample, got {tuple(self.x.shape)}"
            )
        if isinstance(self.x, torch.Tensor) and self.x.dtype != torch.float32:  # one dtype for every model and loss
            self.x = self.x.float()
        if self.num_classes < 2:
            raise NoisyLabelsError(f"{self.name}: need at least 2 classes, got {self.num_classes}")
        self.labels = as_label_tensor(self.labels, self.num_classes, f"{self.name} labels")
        if self.true_labels is not None:
            self.true_labels = as_label_tensor(self.true_labels, self.num_classes, f"{self.name} true labels")
        n = self.x.shape[0]
        for what, t in (("labels", self.labels), ("true labels", self.true_labels)):
            if t is not None and len(t) != n:
                raise NoisyLabelsError(
                    f"{self.name}: {len(t)} {what} for {n} feature rows; give one label per sample"
                )
        if n == 0:
            raise NoisyLabelsError(f"{self.name}: no samples")
        if isinstance(self.x, torch.Tensor) and not torch.isfinite(self.x).all():  # streamed: checked on load
            rows = (~torch.isfinite(self.x.reshape(n, -1))).any(1).nonzero().flatten()
            raise NoisyLabelsError(
                f"{self.name}: features contain NaN or inf in {len(rows)} rows (first: row {int(rows[0])}); "
                "impute or drop them"
            )

    def __len__(self) -> int:
        return self.x.shape[0]

    @property
    def in_shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])

    @property
    def is_image(self) -> bool:
        return self.x.ndim == 4

    def subset(self, index) -> "LabeledData":
        """The samples at ``index`` (an index array or boolean mask), in that order."""
        index = torch.as_tensor(index)
        return LabeledData(
            x=self.x.subset(index) if isinstance(self.x, StreamedFeatures) else self.x[index],
            labels=self.labels[index],
            num_classes=self.num_classes,
            true_labels=None if self.true_labels is None else self.true_labels[index],
            name=self.name,
            class_names=self.class_names,
        )

    def with_labels(self, labels) -> "LabeledData":
        """Same features with new observed labels; the old labels become the truth if none was known."""
        truth = self.true_labels if self.true_labels is not None else self.labels
        return LabeledData(self.x, labels, self.num_classes, truth, self.name, self.class_names)


@dataclass
class Splits:
    """What a dataset loader returns. ``test`` is None when the source has no test split."""

    train: LabeledData
    test: Optional[LabeledData] = None

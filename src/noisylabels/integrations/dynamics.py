"""What every framework callback shares: a lazily sized Recorder, the merge over DDP ranks at each
epoch's end, and the label-issue API on the records."""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch.utils.data import Dataset

from ..detection.recorder import METHODS, Recorder
from ..errors import NoisyLabelsError


class WithIndex(Dataset):
    """A map-style dataset whose items ``(x, y)`` become ``(x, y, idx)``: the sample index the
    records are keyed by. Wrap the training set only (``WithIndex(train_set)``)."""

    def __init__(self, dataset):
        if not hasattr(dataset, "__getitem__") or not hasattr(dataset, "__len__"):
            raise NoisyLabelsError(f"WithIndex needs a map-style dataset (with __getitem__ and __len__), got "
                                   f"{type(dataset).__name__}")
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index):
        item = self.dataset[index]
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise NoisyLabelsError(f"WithIndex expects the dataset's items to be (x, y) pairs, got "
                                   f"{type(item).__name__}{'' if not isinstance(item, (tuple, list)) else f' of {len(item)}'}")
        return item[0], item[1], index


class TrainingDynamics:
    """Per-sample training records for a framework callback.

    num_samples / num_classes: sizes of the Recorder; None: taken at the first batch (the classes
    from the logits' width; the samples from ``set_num_samples``, which a callback calls with
    ``len(train_dataset)``). max_epochs / memmap_dir: as ``Recorder`` (histories on disk).
    """

    def __init__(self, num_samples: Optional[int] = None, num_classes: Optional[int] = None,
                 max_epochs: Optional[int] = None, memmap_dir=None):
        self.num_samples, self.num_classes = num_samples, num_classes
        self.max_epochs, self.memmap_dir = max_epochs, memmap_dir
        self.recorder: Optional[Recorder] = None

    def set_num_samples(self, num_samples: int) -> None:
        if self.num_samples is None:
            self.num_samples = int(num_samples)

    def record(self, indices, logits: torch.Tensor, labels) -> None:
        """One training batch: (B,) sample indices, (B, C) logits, (B,) given labels."""
        if self.recorder is None:
            self._create(logits)
        self.recorder.record(indices, logits.detach(), labels)

    def end_epoch(self) -> None:
        """Merge the epoch over DDP ranks (every rank, collectively) and start the next row."""
        if self.recorder is None:
            return
        self.recorder.merge_ranks()
        self.recorder.end_epoch()

    def _create(self, logits: torch.Tensor) -> None:
        if self.num_samples is None:
            raise NoisyLabelsError("the number of training samples is unknown; pass num_samples= to the callback "
                                   "(the length of the training set)")
        if logits.ndim != 2:
            raise NoisyLabelsError(f"logits must be (batch, classes), got shape {tuple(logits.shape)}")
        self.num_classes = self.num_classes or int(logits.shape[1])
        self._make_recorder()

    def _make_recorder(self) -> None:
        self.recorder = Recorder(self.num_samples, self.num_classes, self.max_epochs, memmap_dir=self.memmap_dir)

    # ------------------------------------------------------------------ label issues
    def _recorded(self) -> Recorder:
        if self.recorder is None or self.recorder.num_epochs == 0:
            raise NoisyLabelsError("nothing recorded yet: fit with the callback first (the training batches must "
                                   "carry the sample index: wrap the training set in WithIndex)")
        return self.recorder

    def label_quality_scores(self, method: str = "classwise_loss") -> np.ndarray:
        """(N,) lower = more likely mislabeled; NaN for samples never recorded. ``method``: one of
        classwise_loss, aum, small_loss, confidence, forgetting (see ``Recorder``)."""
        return self._recorded().label_quality_scores(method)

    def rank_label_issues(self, method: str = "classwise_loss") -> np.ndarray:
        """(N,) sample indices, most suspicious first."""
        return self._recorded().rank_label_issues(method)

    def find_label_issues(self, method: str = "classwise_loss", noise_rates=None) -> np.ndarray:
        """(N,) bool: per class, the lowest-quality samples; the rate per class is estimated by a
        2-component GMM unless ``noise_rates`` is given (no noise rate is needed)."""
        return self._recorded().find_label_issues(method, noise_rates)

    # ------------------------------------------------------------------ checkpointing
    def state_dict(self) -> dict:
        """The Recorder's state ({} before the first batch)."""
        return {} if self.recorder is None else self.recorder.state_dict()

    def load_state_dict(self, state: dict) -> None:
        if not state:
            return
        if self.recorder is None:
            self.num_samples, self.num_classes = int(state["num_samples"]), int(state["num_classes"])
            self._make_recorder()
        self.recorder.load_state_dict(state)


__all__ = ["TrainingDynamics", "WithIndex", "METHODS"]

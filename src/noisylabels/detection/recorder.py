"""Record training dynamics inside any PyTorch loop, then score, rank and flag label issues.

    recorder = Recorder(len(train_set), num_classes)
    for epoch in range(epochs):
        for x, y, idx in loader:
            logits = model(x)
            ...
            recorder.record(idx, logits, y)
        recorder.end_epoch()
    suspects = recorder.find_label_issues(method="classwise_loss")
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import NoisyLabelsError
from ..functional import logit_margin
from ..histories import nan_memmap
from .scores import (aum_score, classwise_quality, epoch_mean, flag_per_class, forgetting_events, forgetting_score,
                     mean_confidence, rank_order, small_loss_score, variability)
from .validate import check_batch, check_choice, check_history_dtype, check_positive_int

QUANTITIES = ("loss", "margin", "p_given", "correct")
METHODS = ("classwise_loss", "aum", "small_loss", "confidence", "forgetting")
INITIAL_EPOCHS = 8  # in-memory capacity before the first doubling


class Recorder:
    """Per-sample, per-epoch history of the cross-entropy loss, the logit margin z_y - max_{k!=y} z_k,
    the probability of the given label p_y and whether the prediction is correct.

    Each history is an (epochs, num_samples) array of ``dtype`` (float16 by default: 2 bytes per
    entry), NaN where a sample was not recorded; NaN entries are ignored by every mean. In memory,
    with ``max_epochs=None`` the epoch capacity starts at 8 and doubles when needed. With
    ``memmap_dir`` the histories are ``.npy`` memmaps in that folder (``loss.npy``, ``margin.npy``,
    ``p_given.npy``, ``correct.npy``; existing ones are replaced), sized by ``max_epochs``, which
    is then required: 1M samples x 200 epochs is 400 MB of disk per quantity and little RAM.

    A sample recorded twice in one epoch keeps the last record (within a batch too), and so does
    its label: the labels used for class-wise scores are the last ones given for each sample.
    """

    def __init__(self, num_samples: int, num_classes: int, max_epochs: Optional[int] = None, *,
                 memmap_dir=None, dtype: torch.dtype = torch.float16):
        self.num_samples = check_positive_int(num_samples, "num_samples")
        self.num_classes = check_positive_int(num_classes, "num_classes", minimum=2)
        self.max_epochs = None if max_epochs is None else check_positive_int(max_epochs, "max_epochs")
        self.dtype = dtype
        self._np_dtype = check_history_dtype(dtype)
        if memmap_dir is not None and max_epochs is None:
            raise NoisyLabelsError("memmap_dir needs max_epochs: files on disk have a fixed size; pass the number "
                                   "of epochs you will record (or drop memmap_dir to grow in memory)")
        self.memmap_dir = None if memmap_dir is None else Path(memmap_dir)
        self.labels = np.full(self.num_samples, -1, dtype=np.int64)  # -1: never recorded
        self.epoch = 0
        self._current_recorded = False
        capacity = self.max_epochs or INITIAL_EPOCHS
        self._histories = {name: self._allocate(name, capacity) for name in QUANTITIES}

    # ------------------------------------------------------------------ storage
    def _allocate(self, name: str, epochs: int) -> np.ndarray:
        shape = (epochs, self.num_samples)
        if self.memmap_dir is None:
            return np.full(shape, np.nan, dtype=self._np_dtype)
        return nan_memmap(self.memmap_dir / f"{name}.npy", shape, self._np_dtype)

    @property
    def capacity(self) -> int:
        """Epochs the histories can hold now."""
        return self._histories["loss"].shape[0]

    def _ensure_capacity(self, epochs: int) -> None:
        if epochs <= self.capacity:
            return
        if self.max_epochs is not None:
            raise NoisyLabelsError(f"this Recorder holds max_epochs={self.max_epochs} epochs and epoch {epochs} was "
                                   "asked for; create it with a larger max_epochs (or max_epochs=None in memory)")
        grown = max(2 * self.capacity, epochs)
        for name, old in self._histories.items():
            new = np.full((grown, self.num_samples), np.nan, dtype=self._np_dtype)
            new[:len(old)] = old
            self._histories[name] = new

    @property
    def num_epochs(self) -> int:
        """Epochs with history rows so far: the finished ones, plus the current one once recorded."""
        return self.epoch + int(self._current_recorded)

    def history(self, name: str) -> np.ndarray:
        """(num_epochs, num_samples) view of one quantity: loss, margin, p_given or correct."""
        check_choice(name, QUANTITIES, "history")
        if self.num_epochs == 0:
            raise NoisyLabelsError("nothing recorded yet: call recorder.record(indices, logits, labels) in the "
                                   "training loop before asking for scores")
        return self._histories[name][:self.num_epochs]

    def flush(self) -> None:
        """Write memmapped histories to disk (no-op in memory)."""
        for array in self._histories.values():
            if isinstance(array, np.memmap):
                array.flush()

    # ------------------------------------------------------------------ recording
    @torch.no_grad()
    def record(self, indices, logits, labels) -> None:
        """Store this epoch's statistics of a batch: (B,) dataset indices, (B, C) logits, (B,) labels.
        Tensors may be on any device; nothing keeps a reference to the graph."""
        idx, logits, labels = check_batch(indices, logits, labels, self.num_samples, self.num_classes)
        if len(idx) == 0:
            return
        self._ensure_capacity(self.epoch + 1)
        losses = F.cross_entropy(logits, labels, reduction="none")
        values = torch.stack([losses, logit_margin(logits, labels), torch.exp(-losses),
                              (logits.argmax(1) == labels).float()]).cpu().numpy()
        idx, labels = idx.cpu().numpy(), labels.cpu().numpy()
        _, first_from_end = np.unique(idx[::-1], return_index=True)
        last = len(idx) - 1 - first_from_end  # a repeated index keeps its last occurrence
        for name, row in zip(QUANTITIES, values):
            self._histories[name][self.epoch, idx[last]] = row[last]
        self.labels[idx[last]] = labels[last]
        self._current_recorded = True

    def end_epoch(self) -> None:
        """Start the next epoch's row."""
        self.epoch += 1
        self._current_recorded = False

    def merge_ranks(self) -> None:
        """Under ``torch.distributed`` (e.g. a DDP fit), merge the current epoch's row over the ranks,
        each of which recorded its own shard of the samples: every rank then holds every sample's
        record (a sample recorded by several ranks keeps the lowest rank's). Call it on every rank
        before ``end_epoch``; a no-op outside a process group of two or more."""
        from torch import distributed as dist

        from ..collectives import gather_rows

        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
            return
        self._ensure_capacity(self.epoch + 1)  # every rank sends rows of the same shape
        rows = {name: torch.from_numpy(np.array(self._histories[name][self.epoch], dtype=np.float32))
                for name in QUANTITIES}
        recorded = ~torch.isnan(rows["loss"])  # this epoch's records on this rank
        rows["labels"] = torch.from_numpy(self.labels.copy())
        merged, count = gather_rows(rows, recorded)
        if not bool((count > 0).any()):
            return
        for name in QUANTITIES:
            self._histories[name][self.epoch] = merged[name].numpy().astype(self._np_dtype)
        self.labels = np.where(count.numpy() > 0, merged["labels"].numpy(), self.labels)
        self._current_recorded = True

    # ------------------------------------------------------------------ statistics (N,) float64
    def epoch_mean_loss(self) -> np.ndarray:
        return epoch_mean(self.history("loss"), name="loss_history")

    def aum(self) -> np.ndarray:
        return aum_score(self.history("margin"))

    def forgetting_events(self) -> np.ndarray:
        return forgetting_events(self.history("correct"))

    def confidence(self) -> np.ndarray:
        return mean_confidence(self.history("p_given"))

    def variability(self) -> np.ndarray:
        return variability(self.history("p_given"))

    # ------------------------------------------------------------------ label issues
    def _labels(self) -> np.ndarray:
        return np.maximum(self.labels, 0)  # never-recorded samples have NaN scores: their label is unused

    def label_quality_scores(self, method: str = "classwise_loss") -> np.ndarray:
        """(N,) lower = more likely mislabeled; NaN for samples never recorded. ``method``: classwise_loss
        (class-wise normalised epoch-mean loss), aum, small_loss (last loss), confidence (mean p_y),
        forgetting (minus forgetting events)."""
        check_choice(method, METHODS, "method")
        if method == "classwise_loss":
            return classwise_quality(self.epoch_mean_loss(), self._labels(), self.num_classes)
        if method == "aum":
            return self.aum()
        if method == "small_loss":
            return small_loss_score(self.history("loss"))
        if method == "confidence":
            return self.confidence()
        return forgetting_score(self.history("correct"))

    def rank_label_issues(self, method: str = "classwise_loss") -> np.ndarray:
        """(N,) sample indices, most suspicious first (ties by index; never-recorded samples last)."""
        return rank_order(self.label_quality_scores(method))

    def find_label_issues(self, method: str = "classwise_loss", noise_rates=None) -> np.ndarray:
        """(N,) bool: per class, the round(rate * n) lowest-quality samples; rates given or estimated
        by a per-class 2-component GMM (see ``flag_per_class``)."""
        return flag_per_class(self.label_quality_scores(method), self._labels(), self.num_classes, noise_rates)

    # ------------------------------------------------------------------ checkpointing
    def state_dict(self) -> dict:
        """Sizes, epoch, labels and the recorded history rows as CPU tensors (a memmapped history is
        copied into memory here; for very large ones keep the memmap folder instead)."""
        rows = self.num_epochs
        return {"num_samples": self.num_samples, "num_classes": self.num_classes, "epoch": self.epoch,
                "current_recorded": self._current_recorded, "labels": torch.from_numpy(self.labels.copy()),
                **{name: torch.from_numpy(np.array(self._histories[name][:rows])) for name in QUANTITIES}}

    def load_state_dict(self, state: dict) -> None:
        missing = [key for key in ("num_samples", "num_classes", "epoch", "current_recorded", "labels", *QUANTITIES)
                   if key not in state]
        if missing:
            raise NoisyLabelsError(f"Recorder state is missing {missing}; pass a dict from Recorder.state_dict()")
        if (state["num_samples"], state["num_classes"]) != (self.num_samples, self.num_classes):
            raise NoisyLabelsError(f"Recorder state is for {state['num_samples']} samples and {state['num_classes']} "
                                   f"classes, this Recorder has {self.num_samples} and {self.num_classes}")
        rows = state["loss"].shape[0]
        self._ensure_capacity(rows)
        for name in QUANTITIES:
            target = self._histories[name]
            target[:rows] = state[name].cpu().numpy().astype(self._np_dtype)
            for row in target[rows:]:
                row[:] = np.nan
        self.labels = state["labels"].cpu().numpy().astype(np.int64).copy()
        self.epoch, self._current_recorded = int(state["epoch"]), bool(state["current_recorded"])

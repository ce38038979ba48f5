"""Find wrong labels while a ``transformers.Trainer`` trains.

    train_set = train_set.add_column("idx", range(len(train_set)))  # the sample index
    callback = LabelNoiseCallback()
    args = TrainingArguments(output_dir, remove_unused_columns=False)  # keep the "idx" column
    trainer = Trainer(model, args, train_dataset=train_set, callbacks=[callback])
    trainer.train()
    suspects = callback.find_label_issues()  # (N,) bool, N = len(train_set)

The callback needs no custom Trainer. When training begins it registers two hooks on the model: a
forward pre-hook that takes the index column out of the forward's keyword arguments (the model
never sees it) and keeps it with the ``labels``, and a forward hook that records (index,
``output.logits``, labels) for every training forward (``model.training``; evaluation forwards
only lose the column). Each epoch's records are merged over ``torch.distributed`` ranks at the
epoch's end; the hooks are removed when training ends. The records go into every checkpoint
folder and come back when training resumes from it.

Only this module imports ``transformers``: ``pip install 'noisylabels[huggingface]'``.
"""
from __future__ import annotations

import inspect
import sys
import warnings
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ..errors import NoisyLabelsError
from .dynamics import TrainingDynamics

try:
    from transformers import TrainerCallback
except ImportError:
    raise NoisyLabelsError("noisylabels.integrations.huggingface needs transformers: "
                           "pip install 'noisylabels[huggingface]'") from None

RECORDS_FILE = "noisylabels_records"  # + ".pt", or "-rank{r}.pt" under torch.distributed


class LabelNoiseCallback(TrainingDynamics, TrainerCallback):
    """Record every training sample's loss, logit margin and p(label) per epoch of a
    ``transformers.Trainer`` fit, then flag, rank and score the labels.

    Parameters
    ----------
    index_column : str
        The training set's column holding each sample's index in ``[0, N)``. The Trainer keeps it
        only with ``TrainingArguments(remove_unused_columns=False)`` (unless the model's forward
        takes an argument of that name); the callback removes it from the forward's arguments.
    num_samples : int, optional
        N, the number of training samples; default ``len(train_dataset)``.
    num_classes : int, optional
        Default: the width of the logits.
    max_epochs : int, optional
        Epochs to size the histories for; default: grow in memory, or the Trainer's number of
        epochs with ``memmap_dir``.
    memmap_dir : str or Path, optional
        Keep the histories in ``.npy`` memmaps in this folder (see ``Recorder``).
    save_records : bool
        Write the records into every checkpoint folder (``noisylabels_records.pt``) and read them
        back when ``trainer.train(resume_from_checkpoint=...)`` resumes from ``output_dir``.

    Notes
    -----
    After ``trainer.train()``, ``find_label_issues``, ``rank_label_issues`` and
    ``label_quality_scores`` answer for the N training samples (see ``TrainingDynamics``). The
    labels recorded are the ``labels`` passed to the forward; when the Trainer takes them out
    (``label_smoothing_factor``, ``compute_loss_func``) they are read from the training set's
    ``labels`` or ``label`` column. ``torch.nn.DataParallel`` (several GPUs in one process) is not
    supported; under DDP (``torchrun``) the ranks' records are merged (a multi-process Trainer run is
    not in the test suite). Each ``trainer.train()`` starts the records over, unless it
    resumes from a checkpoint.
    """

    def __init__(self, index_column: str = "idx", num_samples: Optional[int] = None,
                 num_classes: Optional[int] = None, max_epochs: Optional[int] = None, memmap_dir=None,
                 save_records: bool = True):
        super().__init__(num_samples, num_classes, max_epochs, memmap_dir)
        self.index_column, self.save_records = index_column, save_records
        self._given = (num_samples, num_classes, max_epochs)
        self._handles: list = []
        self._batch = None  # (indices, labels) of the forward under way
        self._label_name = "labels"
        self._train_set = None
        self._set_labels: Optional[np.ndarray] = None

    # ------------------------------------------------------------------ Trainer events
    def on_train_begin(self, args, state, control, model=None, train_dataloader=None, **kwargs):
        if model is None:
            raise NoisyLabelsError("LabelNoiseCallback got no model= in on_train_begin; use it in a "
                                   "transformers.Trainer: Trainer(..., callbacks=[LabelNoiseCallback()])")
        takes_index = self.index_column in inspect.signature(model.forward).parameters
        if args.remove_unused_columns and not takes_index:
            raise NoisyLabelsError(f"the Trainer drops the {self.index_column!r} column LabelNoiseCallback reads "
                                   "(the model's forward does not take it): pass "
                                   "TrainingArguments(..., remove_unused_columns=False)")
        self._train_set = getattr(train_dataloader, "dataset", None)
        self._check_index_column(self._train_set)
        label_names = getattr(args, "label_names", None)
        self._label_name = label_names[0] if label_names and len(label_names) == 1 else "labels"
        # a new fit: start over, then take the records back from the checkpoint when resuming
        (self.num_samples, self.num_classes, self.max_epochs), self.recorder = self._given, None
        self._set_labels = None
        if self.max_epochs is None and self.memmap_dir is not None:
            self.max_epochs = int(np.ceil(state.num_train_epochs))
        try:
            self.set_num_samples(len(self._train_set))
        except TypeError:  # no length (an iterable dataset): num_samples= is needed, TrainingDynamics says so
            pass
        if state.global_step > 0:
            self._restore(args, state)
        self._attach(model, takes_index)

    def on_epoch_end(self, args, state, control, **kwargs):
        self.end_epoch()  # collective under torch.distributed: every rank runs the callbacks

    def on_save(self, args, state, control, **kwargs):
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if self.save_records and self.recorder is not None and folder.is_dir():
            torch.save(self.state_dict(), folder / self._records_file(args))

    def on_train_end(self, args, state, control, **kwargs):
        self.remove_hooks()
        self._train_set = None  # no reference to the data after the fit

    # ------------------------------------------------------------------ hooks
    def _attach(self, model: torch.nn.Module, takes_index: bool) -> None:
        self.remove_hooks()
        name = self.index_column

        def take_index(module, args, kwargs):
            index = kwargs.get(name) if takes_index else kwargs.pop(name, None)
            if index is None and module.training:
                raise NoisyLabelsError(self._no_index_message())
            self._batch = None if index is None else (index, kwargs.get(self._label_name))
            return args, kwargs

        def record(module, args, output):
            batch, self._batch = self._batch, None
            if batch is None or not module.training:
                return
            index, labels = batch
            self.record(index, _logits(output), self._given_labels(index) if labels is None else labels)

        self._handles = [model.register_forward_pre_hook(take_index, with_kwargs=True),
                         model.register_forward_hook(record)]

    def remove_hooks(self) -> None:
        """Take the callback's hooks off the model (done when training ends)."""
        for handle in self._handles:
            handle.remove()
        self._handles, self._batch = [], None

    def _given_labels(self, index) -> torch.Tensor:
        """The training set's labels of a batch, for a forward the Trainer gave no labels."""
        if self._set_labels is None:
            columns = getattr(self._train_set, "column_names", None) or []
            column = next((c for c in (self._label_name, "labels", "label") if c in columns), None)
            if column is None:
                raise NoisyLabelsError(f"the training forward got no {self._label_name!r} and the training set has "
                                       "no 'labels' or 'label' column to read them from; keep the labels in the "
                                       "forward's arguments (no label_smoothing_factor or compute_loss_func)")
            self._set_labels = np.asarray(self._train_set.with_format("numpy")[column], dtype=np.int64)
        return torch.from_numpy(self._set_labels[torch.as_tensor(index).cpu().numpy()])

    # ------------------------------------------------------------------ checks and checkpoints
    def _no_index_message(self) -> str:
        column = self.index_column
        return (f"the training batches carry no {column!r} column (the sample index LabelNoiseCallback records by): "
                f"add it, e.g. train_set = train_set.add_column({column!r}, range(len(train_set)))")

    def _check_index_column(self, dataset) -> None:
        """Fail before the first step when a ``datasets.Dataset`` lacks the column (a custom
        transform may still add it: the forward checks those)."""
        datasets = sys.modules.get("datasets")  # not imported: the dataset is not one of its
        if datasets is None or not isinstance(dataset, datasets.Dataset) or dataset.format.get("type") == "custom":
            return
        if self.index_column not in dataset.column_names:
            raise NoisyLabelsError(self._no_index_message())

    @staticmethod
    def _records_file(args) -> str:
        return f"{RECORDS_FILE}.pt" if args.world_size <= 1 else f"{RECORDS_FILE}-rank{args.process_index}.pt"

    def _restore(self, args, state) -> None:
        if not self.save_records:
            return
        path = Path(args.output_dir) / f"checkpoint-{state.global_step}" / self._records_file(args)
        if not path.is_file():
            warnings.warn(f"resuming at step {state.global_step} without {path}: the label-noise records start "
                          "here, earlier epochs are missing", stacklevel=2)
            return
        self.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))

    def _recorded(self):
        if self.recorder is None or self.recorder.num_epochs == 0:
            raise NoisyLabelsError("nothing recorded yet: call trainer.train() with LabelNoiseCallback in "
                                   "Trainer(callbacks=[...]) first")
        return self.recorder


def _logits(output) -> torch.Tensor:
    """The (B, C) logits of a model output (a ModelOutput or a dict with ``logits``)."""
    logits = getattr(output, "logits", None)
    if logits is None and isinstance(output, dict):
        logits = output.get("logits")
    if not isinstance(logits, torch.Tensor):
        raise NoisyLabelsError(f"the model returned {type(output).__name__} without a 'logits' tensor; "
                               "LabelNoiseCallback needs output.logits (keep return_dict=True)")
    return logits


__all__ = ["LabelNoiseCallback"]

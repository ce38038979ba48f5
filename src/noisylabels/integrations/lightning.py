"""Find mislabeled training samples while a PyTorch Lightning ``Trainer`` fits your model.

``LabelNoiseCallback`` records every training sample's cross-entropy loss, logit margin and
p(given label) per epoch (a ``noisylabels.Recorder``) and, after ``fit``, answers
``find_label_issues()``, ``rank_label_issues()`` and ``label_quality_scores()`` over all training
samples. The batches must carry the sample index: wrap the training set in ``WithIndex`` and change
one line of ``training_step``::

    from noisylabels.integrations import WithIndex
    from noisylabels.integrations.lightning import LabelNoiseCallback

    def training_step(self, batch, batch_idx):
        x, y, idx = batch                     # was: x, y = batch
        logits = self(x)                      # recorded by a forward hook (or return {"loss": ..., "logits": ...})
        return F.cross_entropy(logits, y)

    callback = LabelNoiseCallback()
    trainer = Trainer(callbacks=[callback], ...)
    trainer.fit(model, DataLoader(WithIndex(train_set), batch_size=64, shuffle=True))
    issues = callback.find_label_issues()     # (N,) bool, True = likely mislabeled

The logits are the ``"logits"`` entry of ``training_step``'s dict if it returns one, else the output
of the LightningModule's own ``forward`` (``self(x)``) during training. Under DDP each rank records
its shard and the ranks' records are merged by index at every epoch's end, so every rank holds all
of them. The records travel in Lightning checkpoints (``ckpt_path=`` resumes them).
"""
from __future__ import annotations

from typing import Optional

import torch

from ..errors import NoisyLabelsError
from .dynamics import TrainingDynamics, WithIndex

try:
    import lightning.pytorch as pl
except ImportError as error:  # the extra is optional; the rest of noisylabels never imports lightning
    raise NoisyLabelsError("the Lightning integration needs PyTorch Lightning: pip install 'noisylabels[lightning]'") \
        from error

NO_INDEX = ("LabelNoiseCallback needs training batches (x, y, idx): wrap the training set in "
            "noisylabels.integrations.WithIndex(train_set) and unpack x, y, idx = batch in training_step")
NO_LOGITS = ("LabelNoiseCallback saw no logits for this batch: call self(x) in training_step (the module's forward "
             "is recorded) or return {'loss': loss, 'logits': logits}")


class LabelNoiseCallback(TrainingDynamics, pl.Callback):
    """Record training dynamics during ``Trainer.fit`` and flag label issues afterwards.

    Parameters
    ----------
    num_samples : int, optional
        Length of the training set; by default ``len(trainer.train_dataloader.dataset)``.
    num_classes : int, optional
        Number of classes; by default the width of the first logits.
    max_epochs : int, optional
        Epochs the histories hold; needed with ``memmap_dir``, where it defaults to the
        Trainer's ``max_epochs``. In memory the histories grow as needed.
    memmap_dir : str or Path, optional
        Keep the histories as ``.npy`` memmaps in this folder (see ``Recorder``).

    Notes
    -----
    Training batches must be ``(x, y, idx)``: wrap the training set in ``WithIndex``. After
    ``fit``, on every rank, ``label_quality_scores``, ``rank_label_issues`` and
    ``find_label_issues`` return (N,) arrays over all N training samples, and ``recorder`` is the
    underlying ``Recorder``.
    """

    def __init__(self, num_samples: Optional[int] = None, num_classes: Optional[int] = None,
                 max_epochs: Optional[int] = None, memmap_dir=None):
        TrainingDynamics.__init__(self, num_samples, num_classes, max_epochs, memmap_dir)
        self._hook = None
        self._in_step = False
        self._forward_outputs: list[tuple[bool, torch.Tensor]] = []  # (training mode, logits) of this step

    # ------------------------------------------------------------------ Lightning hooks
    def on_train_start(self, trainer: "pl.Trainer", pl_module: "pl.LightningModule") -> None:
        length = _train_set_length(trainer)
        if length is not None:
            self.set_num_samples(length)
        if self.memmap_dir is not None and self.max_epochs is None and (trainer.max_epochs or -1) > 0:
            self.max_epochs = trainer.max_epochs
        self._remove_hook()
        self._hook = pl_module.register_forward_hook(self._capture)

    def _capture(self, module: torch.nn.Module, args, output) -> None:
        # only forwards inside a training step: validation, sanity checks and predict run outside one
        if self._in_step and isinstance(output, torch.Tensor) and output.ndim == 2:
            self._forward_outputs.append((module.training, output.detach()))

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        self._forward_outputs.clear()
        self._in_step = True

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        self._in_step = False
        if not isinstance(batch, (tuple, list)) or len(batch) != 3 or not _is_index(batch[2]):
            raise NoisyLabelsError(NO_INDEX)
        _, labels, indices = batch
        logits = _step_logits(outputs, self._forward_outputs, len(indices))
        self._forward_outputs.clear()
        if logits is None:
            raise NoisyLabelsError(NO_LOGITS)
        self.record(indices, logits, labels)

    def on_validation_start(self, trainer, pl_module) -> None:
        # a checkpoint saved after validation, before on_train_epoch_end, then holds every rank's
        # records of the epoch so far (merging again at the epoch's end changes nothing)
        if trainer.state.fn == "fit" and not trainer.sanity_checking and self.recorder is not None:
            self.recorder.merge_ranks()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.end_epoch()  # collective under DDP: Lightning calls it on every rank

    def on_train_end(self, trainer, pl_module) -> None:
        self._remove_hook()

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        self._remove_hook()

    def _remove_hook(self) -> None:
        if self._hook is not None:
            self._hook.remove()
            self._hook = None
        self._in_step = False
        self._forward_outputs.clear()


def _train_set_length(trainer) -> Optional[int]:
    """len() of the training set behind ``trainer.train_dataloader`` (one DataLoader), else None."""
    dataset = getattr(trainer.train_dataloader, "dataset", None)
    try:
        return None if dataset is None else len(dataset)
    except TypeError:  # an iterable dataset without __len__: the user passes num_samples
        return None


def _is_index(value) -> bool:
    if isinstance(value, torch.Tensor):
        return value.ndim == 1 and not value.is_floating_point() and not value.is_complex()
    return isinstance(value, (list, tuple)) and all(isinstance(v, int) for v in value)


def _step_logits(outputs, forward_outputs: list, batch_size: int) -> Optional[torch.Tensor]:
    """The ``"logits"`` of training_step's dict, else the last forward output of this batch's size,
    preferring training-mode ones (several forward calls per step: the last one that fits)."""
    if isinstance(outputs, dict) and isinstance(outputs.get("logits"), torch.Tensor):
        return outputs["logits"]
    fitting = [(training, output) for training, output in forward_outputs if output.shape[0] == batch_size]
    for training, output in reversed(fitting):
        if training:
            return output
    return fitting[-1][1] if fitting else None


__all__ = ["LabelNoiseCallback", "WithIndex"]

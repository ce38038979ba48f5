"""The method contract. The engine owns the loop; a method says what one step and each epoch do.

Events, in order, for every epoch (see ``Trainer.fit``):
  on_epoch_start(trainer, epoch)  -> selections, schedules, splits made from the statistics store
  batches(trainer, epoch)         -> this epoch's batches (default: the run's loader over all data)
  training_step(trainer, batch)   -> per batch: a StepOutput; the engine runs backward and steps
  after_step(trainer)             -> after every optimiser step (e.g. a weight average)
  on_epoch_end(trainer, epoch)    -> returns extra metrics (a dict) for this epoch
  predict(trainer, x)             -> logits for evaluation
A method may write per-sample values into ``trainer.stats`` (batches carry dataset indices).
Hooks receive the trainer as a ``RunContext``: the part of the trainer methods may use.
A method also carries its metadata (``MethodInfo``): the run records it in metrics.json, and
detection reads its label-quality score from there.
"""
from __future__ import annotations

import functools
import types
from dataclasses import dataclass
from typing import Any, Iterable, Optional, Protocol

import torch

from ..data.device_loader import Batch
from ..quality import LabelQuality
from ..registry import Registry

FUNCTIONS = (types.FunctionType, types.BuiltinFunctionType, types.MethodType, functools.partial)

METHODS = Registry("method")


@dataclass(frozen=True)
class MethodInfo:
    """What a method says about itself, recorded in metrics.json as ``method_info``.

    quality: how detection turns the run's statistics into per-sample label quality.
    selects: whether it trains on a selected (or reweighted) subset of the samples.
    rate_option: the option that takes the noise rate (None: it needs none).
    """

    quality: LabelQuality = LabelQuality(classwise=True)  # class-wise epoch-mean loss
    selects: bool = False
    rate_option: Optional[str] = None

    def to_dict(self) -> dict:
        return {"quality": self.quality.to_dict(), "selects": self.selects, "rate_option": self.rate_option}


class RunContext(Protocol):
    """The trainer as the method hooks see it (``noisylabels.Trainer`` implements it)."""

    config: Any  # the run's Config
    device: torch.device
    data: Any  # the prepared splits: train, val, test
    models: list
    optimizers: list  # one per network (rebuilt by restart_network and on resume)
    history: list  # the finished epochs' rows, validation accuracy included
    loss_fn: Any
    loader: Any  # the run's training loader (index batches over the whole training set)
    stats: Any  # the SampleStats store
    train_x: torch.Tensor
    train_y: torch.Tensor
    true_y: Optional[torch.Tensor]
    num_classes: int
    epoch: int
    shard: Optional[tuple]

    def forward(self, net: int, x: torch.Tensor) -> torch.Tensor: ...
    def logits_on(self, x: torch.Tensor, predict=None) -> torch.Tensor: ...
    def new_model(self, num_outputs: Optional[int] = None) -> torch.nn.Module: ...
    def restart_network(self, net: int, optim=None, num_outputs: Optional[int] = None) -> None: ...
    def set_schedule(self, net: int, start: int, end: int) -> None: ...
    def broadcast(self, obj): ...
    def selection_metrics(self, selected: torch.Tensor) -> dict: ...


@dataclass
class StepOutput:
    loss: torch.Tensor  # scalar to backpropagate (the sum over networks for multi-network methods)
    # Network 0's per-sample loss (B,) on the observed labels and its logits (B, C), for the store
    # and the training accuracy; None for steps on mixed inputs, which have neither.
    losses: Optional[torch.Tensor] = None
    logits: Optional[torch.Tensor] = None


class Method:
    """Base class: one network, no per-epoch work, prediction with network 0."""

    num_networks: int = 1
    info: MethodInfo = MethodInfo()
    # Distributed training: attributes the ranks change for their own batches only, merged at the
    # end of every epoch. ``summed``: accumulators (AUM's margin sums), summed over ranks;
    # ``merged``: (N, ...) per-sample values (a per-batch selection, a prediction average), each
    # sample's row from the rank that set it.
    summed: tuple[str, ...] = ()
    merged: tuple[str, ...] = ()

    @classmethod
    def for_detection(cls, options: dict, epochs: int) -> tuple[dict, int]:
        """The options and epochs to train with when the run only serves to find label errors
        (``noisylabels detect --method NAME``); default: as given."""
        return options, epochs

    def setup(self, trainer: RunContext) -> None:
        """Called once after models, optimisers and the statistics store exist."""

    def on_epoch_start(self, trainer: RunContext, epoch: int) -> None:
        pass

    def batches(self, trainer: RunContext, epoch: int) -> Iterable:
        """This epoch's batches, with a length (for the learning-rate schedule and progress bar)."""
        return trainer.loader

    def training_step(self, trainer: RunContext, batch: Batch) -> StepOutput:
        raise NotImplementedError

    def after_step(self, trainer: RunContext) -> None:
        pass

    def on_epoch_end(self, trainer: RunContext, epoch: int) -> dict:
        return {}

    def predict(self, trainer: RunContext, x: torch.Tensor) -> torch.Tensor:
        return trainer.forward(0, x)

    def report(self, trainer: RunContext) -> dict:
        """Method-level results for metrics.json (e.g. estimated noise rates); JSON-friendly."""
        return {}

    def state_dict(self) -> dict:
        """Everything a resumed run needs: every attribute (moving averages, selections, GMM results,
        EMA weights, threshold sets, step counters) except functions, which ``setup`` rebuilds.
        Checkpoints pickle it whole, so a new attribute is saved without extra bookkeeping."""
        return {k: v for k, v in vars(self).items() if not isinstance(v, FUNCTIONS)}

    def load_state_dict(self, state: dict) -> None:
        vars(self).update(state)

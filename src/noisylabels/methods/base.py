"""The method contract. The engine owns the loop; a method says what one step and each epoch do.

Events, in order, for every epoch (see ``Trainer.fit``):
  on_epoch_start(trainer, epoch)  -> selections, schedules, splits made from the statistics store
  batches(trainer, epoch)         -> this epoch's batches (default: the run's loader over all data)
  training_step(trainer, batch)   -> per batch: a StepOutput; the engine runs backward and steps
  after_step(trainer)             -> after every optimiser step (e.g. a weight average)
  on_epoch_end(trainer, epoch)    -> returns extra metrics (a dict) for this epoch
  predict(trainer, x)             -> logits for evaluation
A method may write per-sample values into ``trainer.stats`` (batches carry dataset indices).
"""
from __future__ import annotations

import functools
import types
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Optional, Sized

import torch

from ..data.device_loader import Batch
from ..registry import Registry

FUNCTIONS = (types.FunctionType, types.BuiltinFunctionType, types.MethodType, functools.partial)

if TYPE_CHECKING:
    from ..engine import Trainer

METHODS = Registry("method")


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
    # Distributed training: attributes the ranks change for their own batches only, merged at the
    # end of every epoch. ``summed``: accumulators (AUM's margin sums), summed over ranks;
    # ``merged``: (N,) per-sample values (a per-batch selection), each sample from the rank that set it.
    summed: tuple[str, ...] = ()
    merged: tuple[str, ...] = ()

    def setup(self, trainer: "Trainer") -> None:
        """Called once after models, optimisers and the statistics store exist."""

    def on_epoch_start(self, trainer: "Trainer", epoch: int) -> None:
        pass

    def batches(self, trainer: "Trainer", epoch: int) -> Iterable:
        """This epoch's batches, with a length (for the learning-rate schedule and progress bar)."""
        return trainer.loader

    def training_step(self, trainer: "Trainer", batch: Batch) -> StepOutput:
        raise NotImplementedError

    def after_step(self, trainer: "Trainer") -> None:
        pass

    def on_epoch_end(self, trainer: "Trainer", epoch: int) -> dict:
        return {}

    def predict(self, trainer: "Trainer", x: torch.Tensor) -> torch.Tensor:
        return trainer.forward(0, x)

    def report(self, trainer: "Trainer") -> dict:
        """Method-level results for metrics.json (e.g. estimated noise rates); JSON-friendly."""
        return {}

    def state_dict(self) -> dict:
        """Everything a resumed run needs: every attribute (moving averages, selections, GMM results,
        EMA weights, threshold sets, step counters) except functions, which ``setup`` rebuilds.
        Checkpoints pickle it whole, so a new attribute is saved without extra bookkeeping."""
        return {k: v for k, v in vars(self).items() if not isinstance(v, FUNCTIONS)}

    def load_state_dict(self, state: dict) -> None:
        vars(self).update(state)

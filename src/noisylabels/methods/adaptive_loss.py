"""Adaptive robust loss (Shu, Zhao, Xu, Meng, arXiv 2002.06482, 2020): a robust loss whose
hyperparameter (GCE's q; SCE's or NCE+RCE's alpha and beta) is meta-learned on a small clean set.

Every step (``meta_every``): a virtual SGD step of the network on the training batch with the
current hyperparameters phi, the clean meta batch's CE after that step, and one step of phi's own
optimiser on that loss's gradient w.r.t. phi (``meta_loss.meta_gradient``); then the real step
trains with the updated phi, held fixed. The meta set is ``meta_per_class`` samples per class
chosen with the true labels (synthetic noise), or the samples of a ``meta_index`` file, whose
observed labels are trusted; it is taken out of the training loader.

What had to be decided: the virtual step is plain SGD at the network's current learning rate (no
momentum or weight decay; the official code of the successor, NARL-Adjuster, replays the momentum
buffer); phi is one global value per hyperparameter, kept in range by a sigmoid (q in (0, 1),
alpha and beta in (0, 20), the official clamp); a run with ``--loss ce`` learns GCE's q from 0.7.
The statistics store records the run's own ``--loss`` at its configured value (as ``run.record:
eval`` does), and the meta samples, not trained on, from an eval-mode pass at the end of each epoch.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch

from .. import distributed
from ..errors import NoisyLabelsError
from ..losses import create_loss
from ..noise.files import load_array
from ..options import PATH, POSITIVE, POSITIVE_INT, Choice
from .base import METHODS, Method, MethodInfo, StepOutput
from .meta_loss import LEARNABLE, RAW_LIMIT, loss_with, meta_gradient

# The meta draws get their own random stream, apart from the loader's and AUM's.
META_SEED_OFFSET = 4099
DEFAULT_PER_CLASS = 10


def read_meta_index(path: str, num_samples: int) -> torch.Tensor:
    """The sorted, distinct training-set indices in a ``meta_index`` file (.npy, .csv, .npz, .pt)."""
    values = np.asarray(load_array(Path(path), None, "meta_index")).reshape(-1)
    if values.size == 0:
        raise NoisyLabelsError(f"meta_index file '{path}' holds no indices; list the clean samples' indices")
    if not np.issubdtype(values.dtype, np.number) or not np.all(np.isfinite(values)) or \
            not np.all(values == np.round(values)):
        raise NoisyLabelsError(f"meta_index file '{path}' must hold whole-number sample indices")
    index = values.astype(np.int64)
    bad = index[(index < 0) | (index >= num_samples)]
    if bad.size:
        raise NoisyLabelsError(f"meta_index file '{path}': index {bad[0]} is out of range for the "
                               f"{num_samples} training samples (0 to {num_samples - 1}, as in samples.csv)")
    if len(np.unique(index)) != len(index):
        raise NoisyLabelsError(f"meta_index file '{path}' lists a sample more than once")
    if len(index) >= num_samples:
        raise NoisyLabelsError(f"meta_index file '{path}' lists every training sample; leave some to train on")
    return torch.from_numpy(np.sort(index))


def per_class_choice(true_y: torch.Tensor, per_class: int, num_classes: int, seed: int) -> torch.Tensor:
    """Sorted indices of ``per_class`` random samples of each true class (CPU, int64)."""
    generator = torch.Generator().manual_seed(seed + META_SEED_OFFSET)
    chosen = []
    for c in range(num_classes):
        members = (true_y.cpu() == c).nonzero().flatten()
        if len(members) <= per_class:
            raise NoisyLabelsError(f"adaptive_loss: class {c} has {len(members)} training samples, too few for "
                                   f"meta_per_class={per_class}; lower meta_per_class")
        chosen.append(members[torch.randperm(len(members), generator=generator)[:per_class]])
    return torch.cat(chosen).sort().values


@METHODS.register("adaptive_loss")
class AdaptiveLoss(Method):
    """Options: ``meta_per_class`` (clean samples per class from the true labels, default 10),
    ``meta_index`` (a file of clean samples' indices instead), ``meta_batch_size`` (default the run's
    batch size), ``meta_lr`` (1e-3), ``meta_optim`` (adam or sgd), ``meta_every`` (1: every step)."""

    info = MethodInfo()  # trains on every non-meta sample, needs no noise rate
    summed = ("meta_loss_sum", "meta_steps")  # each rank adds its own meta steps
    option_constraints = {"meta_per_class": [POSITIVE_INT, None], "meta_index": [PATH, None],
                          "meta_batch_size": [POSITIVE_INT, None], "meta_lr": POSITIVE,
                          "meta_optim": Choice("adam", "sgd"), "meta_every": POSITIVE_INT}

    def __init__(self, meta_per_class: Optional[int] = None, meta_index: Optional[str] = None,
                 meta_batch_size: Optional[int] = None, meta_lr: float = 1e-3, meta_optim: str = "adam",
                 meta_every: int = 1):
        if meta_per_class is not None and meta_index is not None:
            raise NoisyLabelsError("adaptive_loss takes meta_per_class or meta_index, not both")
        self.meta_per_class, self.meta_index = meta_per_class, None if meta_index is None else str(meta_index)
        self.meta_batch_size, self.meta_lr, self.meta_optim = meta_batch_size, float(meta_lr), meta_optim
        self.meta_every = meta_every
        self.step = 0  # steps of this epoch

    # ----------------------------------------------------------------- setup
    def setup(self, trainer):
        self.loss_name, self.loss = self._learned_loss(trainer)
        self.ranges = LEARNABLE[self.loss_name]
        self.initial = {name: float(getattr(self.loss, name)) for name in self.ranges}
        raw = [r.raw(self.initial[name]) for name, r in self.ranges.items()]
        self.raw = torch.tensor(raw, device=trainer.device, requires_grad=True)
        self.meta_optimizer = self._new_meta_optimizer()
        self._take_meta_split(trainer)
        size = self.meta_batch_size or trainer.config.optim.batch_size
        self.meta_batch_size = min(size, len(self.meta_idx))
        self.world = 1 if trainer.shard is None else trainer.shard[1]
        if self.meta_batch_size < self.world:
            raise NoisyLabelsError(f"adaptive_loss: meta_batch_size {self.meta_batch_size} is smaller than the "
                                   f"{self.world} processes; raise it")
        self.meta_generator = torch.Generator().manual_seed(trainer.config.run.seed + META_SEED_OFFSET)
        self.meta_order = torch.zeros(0, dtype=torch.long)
        self.trajectory: dict[str, list[float]] = {name: [] for name in self.ranges}
        self.meta_losses: list[Optional[float]] = []
        self.meta_loss_sum = torch.zeros((), dtype=torch.float64, device=trainer.device)
        self.meta_steps = torch.zeros((), dtype=torch.float64, device=trainer.device)

    @staticmethod
    def _learned_loss(trainer):
        """(name, module) of the loss whose hyperparameters are learned: the run's, or GCE for ce."""
        name = trainer.config.method.loss
        if name == "ce":
            return "gce", create_loss("gce")
        if name not in LEARNABLE:
            raise NoisyLabelsError(f"adaptive_loss learns the hyperparameters of {', '.join(LEARNABLE)} (ce trains "
                                   f"gce); --loss {name} has none it can learn")
        return name, trainer.loss_fn

    def _new_meta_optimizer(self) -> torch.optim.Optimizer:
        if self.meta_optim == "adam":
            return torch.optim.Adam([self.raw], lr=self.meta_lr)
        return torch.optim.SGD([self.raw], lr=self.meta_lr)

    def _take_meta_split(self, trainer) -> None:
        """Choose the clean meta set (the same on every rank) and train on the other samples only."""
        num_samples = len(trainer.train_y)
        if self.meta_index is not None:
            index, self.meta_source = read_meta_index(self.meta_index, num_samples), "meta_index"
        elif trainer.true_y is not None:
            per_class = self.meta_per_class or DEFAULT_PER_CLASS
            index = per_class_choice(trainer.true_y, per_class, trainer.num_classes, trainer.config.run.seed)
            self.meta_source = "true labels"
        else:
            raise NoisyLabelsError("adaptive_loss needs a clean meta set, and this run has no true labels; pass "
                                   "--method-arg meta_index=FILE with the indices of training samples whose "
                                   "labels are clean")
        self.meta_idx = trainer.broadcast(index.to(trainer.device))
        truth = trainer.train_y if self.meta_source == "meta_index" else trainer.true_y
        self.meta_y = truth[self.meta_idx]
        is_meta = torch.zeros(num_samples, dtype=torch.bool, device=trainer.device)
        is_meta[self.meta_idx] = True
        trainer.loader.indices = (~is_meta).nonzero().flatten()
        trainer.stats.set_value("meta_sample", torch.arange(num_samples, device=trainer.device), is_meta.float())
        self.meta_label_errors = None  # trusted labels that the truth contradicts, when it is known
        if self.meta_source == "meta_index" and trainer.true_y is not None:
            self.meta_label_errors = int((self.meta_y != trainer.true_y[self.meta_idx]).sum())

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["meta_optimizer"] = self.meta_optimizer.state_dict()  # its tensors, not the object
        return state

    def load_state_dict(self, state: dict) -> None:
        state = dict(state)
        optimizer_state = state.pop("meta_optimizer")
        super().load_state_dict(state)
        self.raw = self.raw.detach().clone().requires_grad_(True)
        self.meta_optimizer = self._new_meta_optimizer()
        self.meta_optimizer.load_state_dict(optimizer_state)

    # ----------------------------------------------------------------- the hyperparameters
    def values(self, raw: Optional[torch.Tensor] = None) -> dict[str, torch.Tensor]:
        """The hyperparameters, name -> 0-dim tensor, from ``raw`` (default: the current ones)."""
        raw = self.raw if raw is None else raw
        return {name: r.value(raw[i]) for i, (name, r) in enumerate(self.ranges.items())}

    def _train_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The mean training loss at the current raw values, differentiable w.r.t. them."""
        return loss_with(self.loss, self.values())(logits, labels).mean()

    # ----------------------------------------------------------------- events
    def on_epoch_start(self, trainer, epoch):
        """This epoch's meta batches: positions in the meta set, from reshuffles of it."""
        self.step = 0
        self.meta_loss_sum = torch.zeros_like(self.meta_loss_sum)
        self.meta_steps = torch.zeros_like(self.meta_steps)
        updates = -(-len(trainer.loader) // self.meta_every)
        size = len(self.meta_idx)
        draws = -(-updates * self.meta_batch_size // size)
        self.meta_order = torch.cat([torch.randperm(size, generator=self.meta_generator) for _ in range(draws)])

    def training_step(self, trainer, batch):
        if self.step % self.meta_every == 0:
            self._meta_update(trainer, batch, self.step // self.meta_every)
        self.step += 1
        logits = trainer.forward(0, batch.x)
        fixed = {name: value.detach() for name, value in self.values().items()}
        loss = loss_with(self.loss, fixed)(logits, batch.y).mean()
        with torch.no_grad():
            recorded = trainer.loss_fn(logits, batch.y)
        return StepOutput(loss, recorded, logits)

    def _meta_batch(self, trainer, update: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The meta batch of the ``update``-th meta step of the epoch, this rank's share of it."""
        size = self.meta_batch_size
        positions = self.meta_order[update * size:(update + 1) * size]
        if trainer.shard is not None:
            positions = positions[trainer.shard[0]::trainer.shard[1]]
        positions = positions.to(self.meta_idx.device)
        x = self._features(trainer, self.meta_idx[positions])
        if trainer.loader.augment is not None:
            x = trainer.loader.augment(x, self.meta_generator)
        return x, self.meta_y[positions]

    @staticmethod
    def _features(trainer, idx: torch.Tensor) -> torch.Tensor:
        """Training features at ``idx`` on the device (streamed features are read from disk)."""
        in_memory = isinstance(trainer.train_x, torch.Tensor)
        return trainer.to_device(trainer.train_x[idx if in_memory else idx.cpu()])

    def _meta_update(self, trainer, batch, update: int) -> None:
        """One step of phi on the meta loss after a virtual step on ``batch`` (ranks average)."""
        meta = self._meta_batch(trainer, update)
        lr = trainer.optimizers[0].param_groups[0]["lr"]
        amp = trainer.config.run.amp and trainer.device.type == "cuda"
        grad, meta_loss = meta_gradient(trainer.models[0], self._train_loss, self.raw, lr, (batch.x, batch.y),
                                        meta, amp)
        if trainer.shard is not None:  # every rank takes the same step, so phi stays the same everywhere
            grad = distributed.sum_over_ranks(grad) / self.world
        self.meta_optimizer.zero_grad(set_to_none=True)
        self.raw.grad = grad
        self.meta_optimizer.step()
        with torch.no_grad():  # within EDGE of the range's ends, where the gradient still flows
            self.raw.clamp_(-RAW_LIMIT, RAW_LIMIT)
        self.meta_loss_sum = self.meta_loss_sum + meta_loss.double()
        self.meta_steps = self.meta_steps + 1

    def on_epoch_end(self, trainer, epoch):
        if trainer.shard is not None and not distributed.same_on_all_ranks(distributed.digest([self.raw])):
            raise NoisyLabelsError(f"epoch {epoch + 1}: adaptive_loss's learned hyperparameters differ across ranks")
        row = {}
        for name, value in self.values().items():
            row[f"learned_{name}"] = value.item()
            self.trajectory[name].append(row[f"learned_{name}"])
        steps = self.meta_steps.item()
        self.meta_losses.append(self.meta_loss_sum.item() / steps if steps else None)
        row["meta_loss"] = self.meta_losses[-1]
        if trainer.config.run.record == "train":  # the meta samples, not trained on, are measured too
            self._record_meta_samples(trainer, epoch)
        return row

    def _record_meta_samples(self, trainer, epoch: int) -> None:
        labels = trainer.train_y[self.meta_idx]  # the store holds the observed labels' statistics
        logits = trainer.logits_on(self._features(trainer, self.meta_idx))
        trainer.stats.record(epoch, self.meta_idx, trainer.loss_fn(logits, labels), logits, labels)

    def report(self, trainer):
        report = {"loss": self.loss_name, "initial": dict(self.initial),
                  "final": {name: values[-1] for name, values in self.trajectory.items() if values},
                  "trajectory": {name: list(values) for name, values in self.trajectory.items()},
                  "meta_loss": list(self.meta_losses), "meta_samples": len(self.meta_idx),
                  "meta_source": self.meta_source, "meta_batch_size": self.meta_batch_size}
        if self.meta_label_errors is not None:
            report["meta_label_errors"] = self.meta_label_errors
        return report

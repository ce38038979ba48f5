"""The one training loop every method runs in.

Per epoch: method.on_epoch_start -> batches (method.training_step, backward, optimiser and
schedule steps, per-sample recording) -> optional eval-mode recording pass -> method.on_epoch_end
-> evaluation -> callbacks.on_epoch_end. Everything the run writes (metrics.json, checkpoint.pt,
samples.csv, stats.pt, plots, TensorBoard) is a callback (``noisylabels.callbacks``); optimisers
live in ``optim``, checkpoints in ``checkpoint``, the merge across torchrun ranks in ``distributed``.
"""
from __future__ import annotations

import random
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from . import distributed, rundir
from .callbacks import Callback, default_callbacks
from .checkpoint import checkpoint_state, read_checkpoint, restore
from .config import Config
from .data.augment import make_augment
from .data.dataset import LabeledData, Splits
from .data.device_loader import DeviceLoader
from .data.prepare import prepare_data
from .data.streaming import StreamingLoader
from .diagnostics import selection_report
from .errors import NoisyLabelsError
from .losses import create_loss
from .methods import METHODS
from .model_selection import selection_metrics
from .models import create_model
from .optim import make_optimizer, set_learning_rate
from .stats import SampleStats


def resolve_device(name: str) -> torch.device:
    """'auto' picks cuda, then mps, then cpu; an unavailable explicit device is an error."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise NoisyLabelsError(f"unknown device '{name}'; use auto, cpu, cuda, cuda:N or mps")
    available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}
    if not available.get(device.type, False):
        raise NoisyLabelsError(f"device '{name}' is not available on this machine; use --device auto or cpu")
    return device


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class Trainer:
    """Builds everything a run needs from a config, then ``fit()`` trains and writes the run folder.

    All validation (config, data, noise, model, method) happens in the constructor, before any file
    is written, so bad input never leaves a run folder behind.
    """

    def __init__(self, config: Config, splits: Optional[Splits] = None, *, checkpoint: Optional[dict] = None,
                 callbacks: Sequence[Callback] = ()):
        config.validate()
        self.config = config
        seed_everything(config.run.seed)
        self.dist, device_name = distributed.init(config.run.device)  # None unless started by torchrun
        self.is_main = self.dist is None or self.dist.rank == 0  # only the main process writes files
        self.device = resolve_device(device_name)
        self.out = Path(config.run.out) if config.run.out else rundir.default_run_dir(config)
        self.resumed = checkpoint is not None
        if not self.resumed and self.is_main:
            self._check_out_dir()

        self.data = prepare_data(config, splits)
        train = self.data.train
        self.num_classes = train.num_classes
        self.method = METHODS.build(config.method.name, **config.method.options)
        self.loss_fn = create_loss(config.method.loss, **config.method.loss_options)
        # Channels-last images: max-pooling and convolutions run about 2x faster on CPU, and it is
        # the layout GPU tensor cores want.
        self.memory_format = (torch.channels_last if train.is_image and config.run.channels_last
                              else torch.contiguous_format)
        self.models = [self.new_model() for _ in range(self.method.num_networks)]
        self.model_outputs = [self.num_classes] * len(self.models)  # logits per network (aum adds one)

        # Every split lives on the device; training batches are index slices of it. With
        # data.streaming the features stay where they are (on disk) and workers read the batches.
        streaming = config.data.streaming
        for split in (self.data.test, self.data.val):
            if split is not None and isinstance(split.x, torch.Tensor):
                split.x = self.to_device(split.x)
        self.train_x = train.x if streaming else self.to_device(train.x)
        self.train_y = train.labels.to(self.device)
        self.true_y = None if train.true_labels is None else train.true_labels.to(self.device)
        augment = make_augment(config.data.augment, train.in_shape)
        generator = torch.Generator().manual_seed(config.run.seed)
        if streaming:
            self.loader = StreamingLoader(self.train_x, self.train_y, config.optim.batch_size, augment=augment,
                                          generator=generator, workers=config.data.workers,
                                          memory_format=self.memory_format)
        else:
            self.loader = DeviceLoader(self.train_x, self.train_y, config.optim.batch_size, augment=augment,
                                       generator=generator)
        self.shard = None if self.dist is None else (self.dist.rank, self.dist.world)
        self.loader.shard = self.shard
        self.ddp = [self.wrap(m) for m in self.models]  # DistributedDataParallel views (None: one process)
        self.optim_configs = [config.optim] * len(self.models)  # a method may restart a network with another
        self.optimizers = [make_optimizer(m.parameters(), config.optim) for m in self.models]
        # The epochs each network's learning-rate schedule runs over: [start, end), see set_schedule.
        self.schedule_start = [0] * len(self.models)
        self.schedule_end = [config.optim.epochs] * len(self.models)
        self.stats = SampleStats(len(train), config.optim.epochs, self.device, memmap_dir=self._stats_memmap_dir())
        self.epoch = 0
        self.history: list[dict] = []
        self.method.setup(self)
        if checkpoint is not None:
            restore(self, checkpoint)
        # Outputs: only the main process writes. Building them here fails early (e.g. a missing
        # tensorboard package) before any file exists; extra callbacks run after the defaults.
        self.callbacks = [*default_callbacks(config.run), *callbacks] if self.is_main else []

    @classmethod
    def resume(cls, folder: str | Path, splits: Optional[Splits] = None) -> "Trainer":
        """A trainer that continues the run in ``folder`` from its last checkpoint (written at the end
        of every epoch): ``fit()`` then replays the interrupted epoch and goes on, and on CPU ends
        with the same weights, metrics and statistics as a run that was never interrupted."""
        state = read_checkpoint(Path(folder) / rundir.CHECKPOINT)
        config = Config.from_dict(state["config"]).replace(run={"out": str(folder)})
        return cls(config, splits, checkpoint=state)

    # ----------------------------------------------------------------- helpers methods use
    def new_model(self, num_outputs: Optional[int] = None) -> torch.nn.Module:
        """A freshly initialised network of the run's model, on the device, in its memory format.
        ``num_outputs``: logits per sample (default: the number of classes; aum adds a fake class)."""
        cfg = self.config
        outputs = num_outputs or self.num_classes
        model = create_model(cfg.model.name, outputs, self.data.train.in_shape, **cfg.model.options)
        return model.to(self.device, memory_format=self.memory_format)

    def restart_network(self, net: int, optim=None, num_outputs: Optional[int] = None) -> None:
        """Fresh weights, optimiser and learning-rate schedule for network ``net`` from this epoch on
        (for methods that select data, then train a new network on it). ``optim``: an OptimConfig
        for the new optimiser (default: the run's); ``num_outputs``: as in ``new_model``."""
        cfg = self.config
        torch.manual_seed(cfg.run.seed + 1000 * (self.epoch + 1) + net)
        self.models[net] = self.new_model(num_outputs)
        self.ddp[net] = self.wrap(self.models[net])
        self.model_outputs[net] = num_outputs or self.num_classes
        self.optim_configs[net] = optim or cfg.optim
        self.optimizers[net] = make_optimizer(self.models[net].parameters(), self.optim_configs[net])
        self.set_schedule(net, self.epoch, self.config.optim.epochs)

    def set_schedule(self, net: int, start: int, end: int) -> None:
        """Run network ``net``'s learning-rate schedule over epochs [start, end): the whole schedule
        compressed into that window, e.g. a stage that must end annealed (RSL's stage one)."""
        if not 0 <= start < end:
            raise NoisyLabelsError(f"a schedule needs 0 <= start < end, got [{start}, {end})")
        self.schedule_start[net], self.schedule_end[net] = start, end

    def wrap(self, model: torch.nn.Module):
        """The DistributedDataParallel wrapper of ``model`` (None in a single process)."""
        if self.dist is None:
            return None
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)

    def broadcast(self, obj):
        """Rank 0's value of a decision (a selection, clean probabilities, flags) on every rank, so
        all ranks train on the same selection; the value itself in a single process."""
        return obj if self.dist is None else distributed.broadcast(obj, self.device)

    def selection_metrics(self, selected: torch.Tensor) -> dict:
        """Store a (N,) bool selection as the per-sample value ``selected`` and, when the truth is
        known, return its precision (kept samples that are clean) and recall (clean samples kept),
        overall and per observed class."""
        self.stats.set_value("selected", torch.arange(len(selected), device=self.device), selected.float())
        if self.true_y is None:
            return {"selection_size": int(selected.sum())}
        return selection_report(selected, self.train_y, self.true_y, self.num_classes)

    def to_device(self, x: torch.Tensor) -> torch.Tensor:
        """Features on the training device in the run's memory format."""
        return x.to(self.device, memory_format=self.memory_format) if x.ndim == 4 else x.to(self.device)

    def forward(self, net: int, x: torch.Tensor) -> torch.Tensor:
        """Logits of network ``net`` (bfloat16 autocast on CUDA when run.amp is set), as float32."""
        amp = self.config.run.amp and self.device.type == "cuda"
        model = self.models[net]
        if self.dist is not None and model.training and torch.is_grad_enabled():
            model = self.ddp[net]  # a gradient step: DDP averages the gradients over ranks
        with torch.autocast("cuda", dtype=torch.bfloat16) if amp else nullcontext():
            return model(x).float()

    @torch.no_grad()
    def logits_on(self, x: torch.Tensor, predict=None) -> torch.Tensor:
        """(N, C) eval-mode logits over ``x`` in batches; ``predict`` defaults to network 0."""
        predict = predict or (lambda batch: self.forward(0, batch))
        modes = [m.training for m in self.models]
        for m in self.models:
            m.eval()
        size = self.config.run.eval_batch_size
        out = torch.cat([predict(self.to_device(x[i:i + size])) for i in range(0, len(x), size)])
        for m, mode in zip(self.models, modes):
            m.train(mode)
        return out

    def evaluate(self, split: LabeledData) -> dict:
        """Accuracy of the method's prediction on a split, against its observed and true labels."""
        logits = self.logits_on(split.x, lambda x: self.method.predict(self, x))
        pred = logits.argmax(1).cpu()
        result = {"acc": (pred == split.labels).float().mean().item()}
        if split.true_labels is not None and not torch.equal(split.true_labels, split.labels):
            result["clean_acc"] = (pred == split.true_labels).float().mean().item()
        return result

    # ----------------------------------------------------------------- the loop
    def fit(self) -> dict:
        """Train for ``optim.epochs`` epochs; the callbacks write the run folder. Returns the metrics
        dict. Under torchrun every rank trains and only rank 0 writes."""
        try:
            self._emit("on_fit_start")
            for epoch in range(self.epoch, self.config.optim.epochs):
                self.epoch = epoch
                self.history.append(self._run_epoch(epoch))
                self._emit("on_epoch_end", epoch, self.history[-1])
            self._emit("on_fit_end")
        except BaseException as error:
            status = "interrupted" if isinstance(error, (KeyboardInterrupt, SystemExit)) else "failed"  # SystemExit: a requeue
            self._emit("on_fit_failed", status, error)
            raise
        finally:
            self._emit("teardown")
        return self.metrics("complete")

    def _emit(self, event: str, *args) -> None:
        for callback in self.callbacks:
            getattr(callback, event)(self, *args)

    def _run_epoch(self, epoch: int) -> dict:
        start = time.perf_counter()
        self.loss_fn.set_epoch(epoch)  # losses with a schedule (sr's lambda, polysoft's age)
        if self.dist is not None:  # the same epoch order on every rank
            self.loader.generator.set_state(self.broadcast(self.loader.generator.get_state()))
        self.method.on_epoch_start(self, epoch)
        self._emit("on_epoch_start", epoch)
        before = distributed.snapshot(self) if self.dist is not None else None
        loss_sum, correct, counted, num_steps = self._train_steps(epoch)
        if self.config.run.record == "eval":
            logits = self.logits_on(self.train_x)
            idx = torch.arange(len(self.train_y), device=self.device)
            self.stats.record(epoch, idx, self.loss_fn(logits, self.train_y), logits, self.train_y)
        if self.dist is not None:
            ddp_rows = distributed.merge_ranks(self, epoch, before)
            loss_sum, correct = distributed.sum_over_ranks(loss_sum) / self.dist.world, distributed.sum_over_ranks(correct)
            counted = int(distributed.sum_over_ranks(torch.tensor(counted)))
        extra = self.method.on_epoch_end(self, epoch) or {}
        if self.dist is not None:
            extra = {**extra, **ddp_rows, **distributed.check_ranks_agree(self, epoch)}
        self._sync()
        train_time = time.perf_counter() - start

        row = {"epoch": epoch + 1, "lr": self.optimizers[0].param_groups[0]["lr"],
               "train_loss": loss_sum.item() / num_steps,
               "train_acc": correct.item() / counted if counted else None}
        row.update(self._clean_vs_noisy(epoch))
        row["test_acc"] = self.evaluate(self.data.test)["acc"]
        if self.data.val is not None:
            row.update({f"val_{k}": v for k, v in self.evaluate(self.data.val).items()})
        row.update(extra)
        self._sync()
        row["train_time"] = train_time
        row["time"] = time.perf_counter() - start
        return row

    def _train_steps(self, epoch: int) -> tuple[torch.Tensor, torch.Tensor, int, int]:
        """One pass over the method's batches: step, schedule, record. Returns the summed loss, the
        correct and counted training predictions, and the number of steps."""
        cfg = self.config
        for m in self.models:
            m.train()
        loss_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device)
        counted = 0  # samples with logits on their observed labels (mixed-input steps have none)
        record_train = cfg.run.record == "train"
        grad_clip = cfg.optim.grad_clip or self.loss_fn.grad_clip  # sr asks for clipping
        batches = self.method.batches(self, epoch)
        num_steps = max(1, len(batches))
        bar = tqdm(batches, desc=f"epoch {epoch + 1}/{cfg.optim.epochs}", leave=False,
                   disable=not cfg.run.progress, mininterval=0.5)
        show_every = max(1, num_steps // 20)  # .item() syncs the device: only now and then
        for step, batch in enumerate(bar):
            out = self.method.training_step(self, batch)
            for opt in self.optimizers:
                opt.zero_grad(set_to_none=True)
            out.loss.backward()
            if grad_clip:
                for m in self.models:
                    torch.nn.utils.clip_grad_norm_(m.parameters(), grad_clip)
            progress = epoch + (step + 1) / num_steps
            for net, opt in enumerate(self.optimizers):
                set_learning_rate(opt, self.optim_configs[net], progress, self.schedule_start[net],
                                  self.schedule_end[net])
                opt.step()  # a network that got no gradient this step is left unchanged
            self.method.after_step(self)
            self._emit("after_step")
            loss_sum += out.loss.detach()
            if out.logits is not None:
                if record_train:
                    self.stats.record(epoch, batch.idx, out.losses, out.logits, batch.y)
                correct += (out.logits.detach().argmax(1) == batch.y).sum()
                counted += len(batch.y)
            if cfg.run.progress and (step + 1) % show_every == 0:
                bar.set_postfix(loss=f"{loss_sum.item() / (step + 1):.4f}",
                                acc=f"{correct.item() / max(1, counted):.4f}", refresh=False)
        return loss_sum, correct, counted, num_steps

    def _clean_vs_noisy(self, epoch: int) -> dict:
        """When the truth is known: this epoch's mean loss on clean vs mislabeled samples, and how
        many mislabeled samples the model already predicts as their wrong label (memorisation)."""
        if self.true_y is None:
            return {}
        noisy = self.train_y != self.true_y
        if not noisy.any():
            return {}
        loss = self.stats.epoch_values(self.stats.loss, epoch)  # float32 on the device, even memmapped
        pred = self.stats.prediction
        return {"clean_loss": loss[~noisy].nanmean().item(), "noisy_loss": loss[noisy].nanmean().item(),
                "memorized": (pred[noisy] == self.train_y[noisy]).float().mean().item()}

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    # ----------------------------------------------------------------- outputs
    def metrics(self, status: str) -> dict:
        """The run's metrics.json content so far, with ``status`` (running, complete, failed, ...)."""
        accs = [row["test_acc"] for row in self.history]
        best = int(np.argmax(accs)) if accs else None
        train = self.data.train
        return {
            "status": status,
            "method": self.config.method.name,
            "method_info": self.method.info.to_dict(),
            "dataset": self.config.data.name,
            "noise": self.config.noise.type,
            "noise_rate": self.config.noise.rate,
            "actual_noise_rate": self.data.noise.get("actual_rate"),
            "num_train": len(train), "num_test": len(self.data.test),
            "num_val": 0 if self.data.val is None else len(self.data.val),
            "device": str(self.device),
            # What to report: the validation-selected epoch and the last; best_* is the test-set oracle.
            **selection_metrics(self.history, self.data.val),
            "last_test_acc": accs[-1] if accs else None,
            "best_test_acc": accs[best] if accs else None,
            "best_epoch": best + 1 if accs else None,
            "total_time": sum(row["time"] for row in self.history),
            "report": self.method.report(self),
            "epochs": self.history,
        }

    def checkpoint(self) -> dict:
        """Everything ``resume`` needs to continue after the current epoch exactly as if uninterrupted."""
        return checkpoint_state(self)

    def _stats_memmap_dir(self) -> Optional[Path]:
        """Where run.stats_memmap keeps the float16 histories: <out>/stats_memmap (one folder per
        process under torchrun, since every rank holds its own store)."""
        if not self.config.run.stats_memmap:
            return None
        return rundir.stats_memmap_dir(self.out, None if self.is_main else self.dist.rank)

    def _check_out_dir(self) -> None:
        if self.out.exists() and any(self.out.iterdir()) and not self.config.run.overwrite:
            raise NoisyLabelsError(
                f"run folder {self.out} already exists and is not empty; choose another --out or pass --overwrite"
            )


def train(config: Config, splits: Optional[Splits] = None) -> dict:
    """Train one run from a config (and optionally in-memory splits); returns its metrics."""
    return Trainer(config, splits).fit()

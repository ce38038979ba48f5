"""The one training loop every method runs in.

Per epoch: method.on_epoch_start -> batches (method.training_step, backward, optimiser and
schedule steps, per-sample recording) -> optional eval-mode recording pass -> method.on_epoch_end
-> evaluation -> metrics.json and checkpoint, both written atomically.
"""
from __future__ import annotations

import dataclasses
import math
import shutil
import random
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from tqdm.auto import tqdm

from . import distributed
from .config import Config, OptimConfig, save_config
from .data.augment import make_augment
from .data.dataset import LabeledData, Splits
from .data.device_loader import DeviceLoader
from .data.prepare import prepare_data
from .data.streaming import StreamingLoader
from .diagnostics import selection_report
from .errors import NoisyLabelsError
from .io import atomic_path, atomic_torch_save, atomic_write_json
from .losses import create_loss
from .methods import METHODS
from .models import create_model
from .stats import SampleStats


CHECKPOINT_FORMAT = 1  # bump when the checkpoint's contents change
RUN_FILES = ("config.yaml", "noise.json", "metrics.json", "checkpoint.pt", "samples.csv", "stats.pt",
             "loss_histograms.png", "selection.png")


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


def lr_multiplier(optim, progress: float, start: float = 0.0) -> float:
    """The schedule's multiple of the base learning rate after ``progress`` epochs (fractional).

    A network restarted at epoch ``start`` runs the schedule over the remaining epochs.
    """
    total = optim.epochs - start
    progress = progress - start
    if optim.schedule == "onecycle":  # linear up over the first 30%, linear down to 0
        peak = 0.3 * total
        return progress / peak if progress < peak else max(0.0, (total - progress) / (total - peak))
    warm = min(1.0, progress / optim.warmup_epochs) if optim.warmup_epochs > 0 else 1.0
    if optim.schedule == "cosine":
        return warm * 0.5 * (1 + math.cos(math.pi * min(progress, total) / total))
    if optim.schedule == "multistep":
        return warm * optim.gamma ** sum(progress + start >= m for m in optim.milestones)
    return warm


def make_optimizer(params, optim) -> torch.optim.Optimizer:
    if optim.name == "sgd":
        return torch.optim.SGD(params, lr=optim.lr, momentum=optim.momentum, weight_decay=optim.weight_decay,
                               nesterov=optim.nesterov and optim.momentum > 0)
    cls = torch.optim.Adam if optim.name == "adam" else torch.optim.AdamW
    return cls(params, lr=optim.lr, weight_decay=optim.weight_decay)


def default_run_dir(config: Config) -> Path:
    noise = "clean" if config.noise.type == "none" else f"{config.noise.type}{config.noise.rate:g}"
    return Path("runs") / f"{config.data.name}-{noise}-{config.method.name}-s{config.run.seed}"


class Trainer:
    """Builds everything a run needs from a config, then ``fit()`` trains and writes the run folder.

    All validation (config, data, noise, model, method) happens in the constructor, before any file
    is written, so bad input never leaves a run folder behind.
    """

    def __init__(self, config: Config, splits: Optional[Splits] = None, *, checkpoint: Optional[dict] = None):
        config.validate()
        self.config = config
        seed_everything(config.run.seed)
        self.dist, device_name = distributed.init(config.run.device)  # None unless started by torchrun
        self.is_main = self.dist is None or self.dist.rank == 0  # only the main process writes files
        self.device = resolve_device(device_name)
        self.out = Path(config.run.out) if config.run.out else default_run_dir(config)
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
        self.schedule_start = [0] * len(self.models)  # epoch each network's schedule (re)started
        self.stats = SampleStats(len(train), config.optim.epochs, self.device, memmap_dir=self._stats_memmap_dir())
        self.epoch = 0
        self.history: list[dict] = []
        self.method.setup(self)
        if checkpoint is not None:
            self.load_checkpoint(checkpoint)
        if config.run.tensorboard:
            tensorboard_writer_class()  # a missing package is an error before any file is written
        self.tensorboard = None

    @classmethod
    def resume(cls, folder: str | Path, splits: Optional[Splits] = None) -> "Trainer":
        """A trainer that continues the run in ``folder`` from its last checkpoint (written at the end
        of every epoch): ``fit()`` then replays the interrupted epoch and goes on, and on CPU ends
        with the same weights, metrics and statistics as a run that was never interrupted."""
        state = read_checkpoint(Path(folder) / "checkpoint.pt")
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
        self.schedule_start[net] = self.epoch

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
        """Train for ``optim.epochs`` epochs and write the run folder. Returns the metrics dict.
        Under torchrun every rank trains and only rank 0 writes."""
        if not self.is_main:
            return self._fit_worker()
        self.out.mkdir(parents=True, exist_ok=True)
        if not self.resumed:  # no file of an earlier run may pass for this run's
            for name in RUN_FILES:
                (self.out / name).unlink(missing_ok=True)
            shutil.rmtree(self.out / "tensorboard", ignore_errors=True)
        if self.config.run.tensorboard:
            self.tensorboard = tensorboard_writer_class()(str(self.out / "tensorboard"))
        save_config(self.config, self.out / "config.yaml")
        atomic_write_json(self.out / "noise.json", self.data.noise)
        metrics = self._metrics("running")
        try:
            for epoch in range(self.epoch, self.config.optim.epochs):
                self.epoch = epoch
                self.history.append(self._run_epoch(epoch))
                if self.tensorboard is not None:
                    log_scalars(self.tensorboard, self.history[-1])
                metrics = self._metrics("running")
                atomic_write_json(self.out / "metrics.json", metrics)
                if self.config.run.checkpoint:
                    atomic_torch_save(self.out / "checkpoint.pt", self.checkpoint())
            self._write_samples()
            if self.config.run.plots:
                self._write_plots()
            metrics = self._metrics("complete")
        except BaseException as error:
            status = "interrupted" if isinstance(error, KeyboardInterrupt) else "failed"
            atomic_write_json(self.out / "metrics.json", {**self._metrics(status), "error": repr(error)})
            raise
        finally:
            if self.tensorboard is not None:
                self.tensorboard.close()
        atomic_write_json(self.out / "metrics.json", metrics)
        return metrics

    def _fit_worker(self) -> dict:
        """A rank other than 0: the same epochs (every collective in step with rank 0), no files."""
        for epoch in range(self.epoch, self.config.optim.epochs):
            self.epoch = epoch
            self.history.append(self._run_epoch(epoch))
        return self._metrics("complete")

    def _run_epoch(self, epoch: int) -> dict:
        cfg = self.config
        start = time.perf_counter()
        if hasattr(self.loss_fn, "set_epoch"):  # losses with a schedule (sr's lambda, polysoft's age)
            self.loss_fn.set_epoch(epoch)
        if self.dist is not None:  # the same epoch order on every rank
            self.loader.generator.set_state(self.broadcast(self.loader.generator.get_state()))
        self.method.on_epoch_start(self, epoch)
        before = self._distributed_snapshot() if self.dist is not None else None
        for m in self.models:
            m.train()
        loss_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device)
        counted = 0  # samples with logits on their observed labels (mixed-input steps have none)
        record_train = cfg.run.record == "train"
        grad_clip = cfg.optim.grad_clip or getattr(self.loss_fn, "grad_clip", None)  # sr asks for clipping
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
                optim = self.optim_configs[net]
                lr = optim.lr * lr_multiplier(optim, progress, self.schedule_start[net])
                for group in opt.param_groups:
                    group["lr"] = lr
                opt.step()  # a network that got no gradient this step is left unchanged
            self.method.after_step(self)
            loss_sum += out.loss.detach()
            if out.logits is not None:
                if record_train:
                    self.stats.record(epoch, batch.idx, out.losses, out.logits, batch.y)
                correct += (out.logits.detach().argmax(1) == batch.y).sum()
                counted += len(batch.y)
            if cfg.run.progress and (step + 1) % show_every == 0:
                bar.set_postfix(loss=f"{loss_sum.item() / (step + 1):.4f}",
                                acc=f"{correct.item() / max(1, counted):.4f}", refresh=False)
        if cfg.run.record == "eval":
            logits = self.logits_on(self.train_x)
            idx = torch.arange(len(self.train_y), device=self.device)
            self.stats.record(epoch, idx, self.loss_fn(logits, self.train_y), logits, self.train_y)
        if self.dist is not None:
            ddp_rows = self._merge_ranks(epoch, before)
            loss_sum, correct = distributed.sum_over_ranks(loss_sum) / self.dist.world, distributed.sum_over_ranks(correct)
            counted = int(distributed.sum_over_ranks(torch.tensor(counted)))
        extra = self.method.on_epoch_end(self, epoch) or {}
        if self.dist is not None:
            extra = {**extra, **ddp_rows, **self._check_ranks_agree(epoch)}
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
        if cfg.run.progress:
            train_acc = "-" if row["train_acc"] is None else f"{row['train_acc']:.4f}"
            tqdm.write(f"epoch {epoch + 1}/{cfg.optim.epochs}  loss {row['train_loss']:.4f}  "
                       f"train {train_acc}  test {row['test_acc']:.4f}  ({row['time']:.1f}s)")
        return row

    # ----------------------------------------------------------------- several processes
    def _distributed_snapshot(self) -> dict:
        """What a rank changes only for its own samples during an epoch, as it was at the start."""
        method = self.method
        return {"values": {k: v.clone() for k, v in self.stats.values.items()},
                "summed": {name: getattr(method, name).clone() for name in method.summed},
                "merged": {name: getattr(method, name).clone() for name in method.merged}}

    def _merge_ranks(self, epoch: int, before: dict) -> dict:
        """After an epoch's steps: every rank's statistics merged by index on every rank, declared
        accumulators summed over ranks, batch-norm buffers taken from rank 0. Returns how many
        samples one rank recorded and how many several ranks did (padding, or full passes)."""
        recorded = ~torch.isnan(self.stats.loss[epoch])
        rows = {"loss": self.stats.loss[epoch], "margin": self.stats.margin[epoch],
                "prediction": self.stats.prediction}
        merged, counts = distributed.gather_rows(rows, recorded)
        self.stats.loss[epoch], self.stats.margin[epoch] = merged["loss"], merged["margin"]
        self.stats.prediction = merged["prediction"]
        names = [None] * self.dist.world
        torch.distributed.all_gather_object(names, sorted(self.stats.values))
        for name in sorted(set().union(*names)):
            value = self.stats.values.get(name)
            if value is None:
                value = self.stats.values[name] = torch.full((self.stats.num_samples,), float("nan"), device=self.device)
            old = before["values"].get(name, torch.full_like(value, float("nan")))
            changed = ~((value == old) | (torch.isnan(value) & torch.isnan(old)))
            self.stats.values[name] = distributed.gather_rows({name: value}, changed)[0][name]
        for name, start in before["summed"].items():
            added = getattr(self.method, name).double() - start.double()
            setattr(self.method, name, (start.double() + distributed.sum_over_ranks(added)).to(start.dtype))
        for name, start in before["merged"].items():
            value = getattr(self.method, name)
            setattr(self.method, name, distributed.gather_rows({name: value}, value != start)[0][name])
        for model in self.models:  # batch-norm statistics saw only each rank's batches
            for buffer in model.buffers():
                torch.distributed.broadcast(buffer.data, 0)
        return {"ddp_recorded_once": int((counts == 1).sum()), "ddp_recorded_several": int((counts > 1).sum())}

    def _check_ranks_agree(self, epoch: int) -> dict:
        """Every rank must hold the same statistics and selection after an epoch: a cheap digest."""
        values = [self.stats.values[k] for k in sorted(self.stats.values)]
        state = distributed.digest([self.stats.loss[epoch], self.stats.prediction, self.loader.indices,
                                    self.loader.weights, *values])
        if not distributed.same_on_all_ranks(state):
            raise NoisyLabelsError(f"epoch {epoch + 1}: the ranks' statistics or selections differ; "
                                   "a method decision was not broadcast")
        return {"ddp_world_size": self.dist.world}

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
    def _metrics(self, status: str) -> dict:
        accs = [row["test_acc"] for row in self.history]
        best = int(np.argmax(accs)) if accs else None
        train = self.data.train
        return {
            "status": status,
            "method": self.config.method.name,
            "dataset": self.config.data.name,
            "noise": self.config.noise.type,
            "noise_rate": self.config.noise.rate,
            "actual_noise_rate": self.data.noise.get("actual_rate"),
            "num_train": len(train), "num_test": len(self.data.test),
            "num_val": 0 if self.data.val is None else len(self.data.val),
            "device": str(self.device),
            "best_test_acc": accs[best] if accs else None,
            "best_epoch": best + 1 if accs else None,
            "last_test_acc": accs[-1] if accs else None,
            "total_time": sum(row["time"] for row in self.history),
            "report": self.method.report(self),
            "epochs": self.history,
        }

    def _write_samples(self) -> None:
        train = self.data.train
        with atomic_path(self.out / "samples.csv") as tmp:
            self.stats.write_csv(tmp, train.labels, train.true_labels)
        atomic_torch_save(self.out / "stats.pt", self.stats.state_dict())

    def _write_plots(self) -> None:
        """Clean-vs-noisy loss histograms per class, and selection precision/recall over epochs."""
        from .report import plot_loss_histograms, plot_selection_curves

        train = self.data.train
        if train.true_labels is not None and not torch.equal(train.true_labels, train.labels):
            scores = self.stats.values.get("score", self.stats.mean_loss())
            plot_loss_histograms(scores, train.labels, train.true_labels, self.out / "loss_histograms.png",
                                 class_names=train.class_names, title="per-sample score, clean vs. mislabeled")
        if any("selection_precision" in row for row in self.history):
            plot_selection_curves(self.history, self.out / "selection.png", title=self.config.method.name)

    def checkpoint(self) -> dict:
        """Everything ``resume`` needs to continue after the current epoch exactly as if uninterrupted."""
        rng = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate(),
               "loader": self.loader.generator.get_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state_all()
        return {
            "format": CHECKPOINT_FORMAT,
            "epoch": self.epoch,
            "config": self.config.to_dict(),
            "models": [m.state_dict() for m in self.models],
            "model_outputs": self.model_outputs,
            "optim_configs": [dataclasses.asdict(o) for o in self.optim_configs],
            "optimizers": [o.state_dict() for o in self.optimizers],
            "schedule_start": self.schedule_start,
            "loader": {"indices": self.loader.indices, "weights": self.loader.weights},
            "method": self.method.state_dict(),
            "stats": self.stats.state_dict(),
            "history": self.history,
            "rng": rng,
        }

    def load_checkpoint(self, state: dict) -> None:
        """Restore what ``checkpoint`` saved (after the constructor built a fresh run from its config)."""
        for net, outputs in enumerate(state["model_outputs"]):
            if outputs != self.model_outputs[net]:
                self.models[net] = self.new_model(outputs)
                self.model_outputs[net] = outputs
            self.models[net].load_state_dict(state["models"][net])
            self.optim_configs[net] = OptimConfig(**state["optim_configs"][net])
            self.optimizers[net] = make_optimizer(self.models[net].parameters(), self.optim_configs[net])
            self.optimizers[net].load_state_dict(state["optimizers"][net])
            self.ddp[net] = self.wrap(self.models[net])
        self.schedule_start = list(state["schedule_start"])
        self.loader.indices, self.loader.weights = state["loader"]["indices"], state["loader"]["weights"]
        self.method.load_state_dict(state["method"])
        self.stats.load_state_dict(state["stats"])
        self.history = list(state["history"])
        self.epoch = state["epoch"] + 1
        rng = state["rng"]
        torch.set_rng_state(rng["torch"])
        np.random.set_state(rng["numpy"])
        random.setstate(rng["python"])
        self.loader.generator.set_state(rng["loader"])
        if "cuda" in rng and self.device.type == "cuda":
            torch.cuda.set_rng_state_all(rng["cuda"])

    def _stats_memmap_dir(self) -> Optional[Path]:
        """Where run.stats_memmap keeps the float16 histories: <out>/stats_memmap (one folder per
        process under torchrun, since every rank holds its own store)."""
        if not self.config.run.stats_memmap:
            return None
        return self.out / ("stats_memmap" if self.is_main else f"stats_memmap_rank{self.dist.rank}")

    def _check_out_dir(self) -> None:
        if self.out.exists() and any(self.out.iterdir()) and not self.config.run.overwrite:
            raise NoisyLabelsError(
                f"run folder {self.out} already exists and is not empty; choose another --out or pass --overwrite"
            )


def tensorboard_writer_class():
    """torch's TensorBoard ``SummaryWriter``, which needs the optional ``tensorboard`` package."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise NoisyLabelsError("--tensorboard needs the tensorboard package: pip install tensorboard "
                               "(or pip install 'noisylabels[tensorboard]')") from None
    return SummaryWriter


def log_scalars(writer, row: dict) -> None:
    """Every number of an epoch's metrics row as a scalar at step = epoch (train_acc -> train/acc)."""
    for key, value in row.items():
        if key != "epoch" and isinstance(value, (int, float)) and not isinstance(value, bool):
            writer.add_scalar(key.replace("_", "/", 1), value, row["epoch"])
    writer.flush()


def read_checkpoint(path: Path) -> dict:
    """A checkpoint written by ``Trainer.checkpoint``, or a clear error saying what is wrong with it."""
    if not path.is_file():
        raise NoisyLabelsError(f"cannot resume: {path} does not exist (runs write it every epoch unless "
                               f"--no-checkpoint); start the run again instead")
    try:
        # Our own file, written atomically: it pickles the method state (EMA models, moving averages).
        state = torch.load(path, map_location=None if torch.cuda.is_available() else "cpu", weights_only=False)
    except Exception as error:
        raise NoisyLabelsError(f"cannot resume: {path} is corrupt or truncated ({type(error).__name__}); "
                               f"delete it and start the run again") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise NoisyLabelsError(f"cannot resume: {path} is not a noisylabels checkpoint of format "
                               f"{CHECKPOINT_FORMAT}; start the run again")
    return state


def train(config: Config, splits: Optional[Splits] = None) -> dict:
    """Train one run from a config (and optionally in-memory splits); returns its metrics."""
    return Trainer(config, splits).fit()

"""Outputs plug into the loop as callbacks. They observe a run and write files; they never change
training state (weights, optimisers, statistics, random numbers).

Events, in the order ``Trainer.fit`` calls them (the events methods see, plus the run's ends):
  on_fit_start(trainer)                 -> before the first epoch (also of a resumed run)
  on_epoch_start(trainer, epoch)        -> after the method's own on_epoch_start
  after_step(trainer)                   -> after every optimiser step
  on_epoch_end(trainer, epoch, row)     -> after evaluation; ``row`` is the epoch's metrics row
  on_fit_end(trainer)                   -> after the last epoch
  on_fit_failed(trainer, status, error) -> instead of on_fit_end, when training raised
  teardown(trainer)                     -> always, last (close files)
Under torchrun only rank 0 runs callbacks.
"""
from __future__ import annotations

from tqdm.auto import tqdm

from . import rundir
from .config import save_config
from .errors import NoisyLabelsError
from .io import atomic_path, atomic_torch_save, atomic_write_json


class Callback:
    """Base class: every event does nothing."""

    def on_fit_start(self, trainer) -> None:
        pass

    def on_epoch_start(self, trainer, epoch: int) -> None:
        pass

    def after_step(self, trainer) -> None:
        pass

    def on_epoch_end(self, trainer, epoch: int, row: dict) -> None:
        pass

    def on_fit_end(self, trainer) -> None:
        pass

    def on_fit_failed(self, trainer, status: str, error: BaseException) -> None:
        pass

    def teardown(self, trainer) -> None:
        pass


class RunFolder(Callback):
    """Creates the run folder (a fresh run first deletes an earlier run's files in it) and writes
    config.yaml and noise.json."""

    def on_fit_start(self, trainer) -> None:
        trainer.out.mkdir(parents=True, exist_ok=True)
        if not trainer.resumed:  # no file of an earlier run may pass for this run's
            rundir.clear_run_files(trainer.out)
        save_config(trainer.config, trainer.out / rundir.CONFIG)
        atomic_write_json(trainer.out / rundir.NOISE, trainer.data.noise)


class Checkpointer(Callback):
    """checkpoint.pt after every epoch (what ``Trainer.resume`` continues from)."""

    def on_epoch_end(self, trainer, epoch: int, row: dict) -> None:
        atomic_torch_save(trainer.out / rundir.CHECKPOINT, trainer.checkpoint())


class SamplesWriter(Callback):
    """samples.csv (one row per training sample) and stats.pt (the statistics store) at the end."""

    def on_fit_end(self, trainer) -> None:
        train = trainer.data.train
        with atomic_path(trainer.out / rundir.SAMPLES) as tmp:
            trainer.stats.write_csv(tmp, train.labels, train.true_labels)
        atomic_torch_save(trainer.out / rundir.STATS, trainer.stats.state_dict())


class PlotsWriter(Callback):
    """Clean-vs-noisy loss histograms per class, and selection precision/recall over epochs."""

    def on_fit_end(self, trainer) -> None:
        from .figures import plot_loss_histograms, plot_selection_curves  # matplotlib: only when plotting

        train = trainer.data.train
        if train.true_labels is not None and not bool((train.true_labels == train.labels).all()):
            scores = trainer.stats.values.get("score", trainer.stats.mean_loss())
            plot_loss_histograms(scores, train.labels, train.true_labels, trainer.out / rundir.LOSS_HISTOGRAMS,
                                 class_names=train.class_names, title="per-sample score, clean vs. mislabeled")
        if any("selection_precision" in row for row in trainer.history):
            plot_selection_curves(trainer.history, trainer.out / rundir.SELECTION, title=trainer.config.method.name)


class MetricsWriter(Callback):
    """metrics.json after every epoch (status "running"), at the end ("complete") and on failure
    ("failed" or "interrupted", with the error). Listed last, so "complete" means every file is there."""

    def on_epoch_end(self, trainer, epoch: int, row: dict) -> None:
        atomic_write_json(trainer.out / rundir.METRICS, trainer.metrics("running"))

    def on_fit_end(self, trainer) -> None:
        atomic_write_json(trainer.out / rundir.METRICS, trainer.metrics("complete"))

    def on_fit_failed(self, trainer, status: str, error: BaseException) -> None:
        atomic_write_json(trainer.out / rundir.METRICS, {**trainer.metrics(status), "error": repr(error)})


class EpochPrinter(Callback):
    """One line per epoch on the console (with run.progress)."""

    def on_epoch_end(self, trainer, epoch: int, row: dict) -> None:
        train_acc = "-" if row["train_acc"] is None else f"{row['train_acc']:.4f}"
        tqdm.write(f"epoch {epoch + 1}/{trainer.config.optim.epochs}  loss {row['train_loss']:.4f}  "
                   f"train {train_acc}  test {row['test_acc']:.4f}  ({row['time']:.1f}s)")


class TensorBoardLogger(Callback):
    """Every number of an epoch's row as a TensorBoard scalar at step = epoch (train_acc -> train/acc)."""

    def __init__(self):
        self.writer_class = tensorboard_writer_class()  # a missing package fails before any file is written
        self.writer = None

    def on_fit_start(self, trainer) -> None:
        self.writer = self.writer_class(str(trainer.out / rundir.TENSORBOARD))

    def on_epoch_end(self, trainer, epoch: int, row: dict) -> None:
        for key, value in row.items():
            if key != "epoch" and isinstance(value, (int, float)) and not isinstance(value, bool):
                self.writer.add_scalar(key.replace("_", "/", 1), value, row["epoch"])
        self.writer.flush()

    def teardown(self, trainer) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class TrainingSetAccuracy(Callback):
    """After every epoch, the eval-mode accuracy of the method's prediction over the whole training
    set against the labels it is fitted to (the observed, possibly corrupted ones), as the row's
    ``train_eval_acc``: how much of its labels the network has memorised. The row's ``train_acc``
    is measured in train mode while the weights move, so it lags behind and never quite reaches 1.

    Extra callbacks run after the defaults, so the key is in metrics.json from the next epoch's
    write on, and in every epoch of the final one."""

    key = "train_eval_acc"

    def on_epoch_end(self, trainer, epoch: int, row: dict) -> None:
        logits = trainer.logits_on(trainer.train_x, lambda x: trainer.method.predict(trainer, x))
        correct = (logits.argmax(1) == trainer.train_y).sum().item()
        row[self.key] = correct / len(trainer.train_y)  # exactly 1.0 only when every label is fitted


def tensorboard_writer_class():
    """torch's TensorBoard ``SummaryWriter``, which needs the optional ``tensorboard`` package."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise NoisyLabelsError("--tensorboard needs the tensorboard package: pip install tensorboard "
                               "(or pip install 'noisylabels[tensorboard]')") from None
    return SummaryWriter


def default_callbacks(run) -> list[Callback]:
    """The outputs a run's ``RunConfig`` asks for, in the order they must run (metrics.json last)."""
    callbacks: list[Callback] = [RunFolder()]
    if run.tensorboard:
        callbacks.append(TensorBoardLogger())
    if run.checkpoint:
        callbacks.append(Checkpointer())
    callbacks.append(SamplesWriter())
    if run.plots:
        callbacks.append(PlotsWriter())
    callbacks.append(MetricsWriter())
    if run.progress:
        callbacks.append(EpochPrinter())
    return callbacks

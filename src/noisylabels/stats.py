"""Per-sample statistics keyed by dataset index: what every method reads instead of recomputing."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import torch

from .errors import NoisyLabelsError
from .functional import logit_margin
from .histories import column_blocks, nan_memmap, to_float16

HISTORIES = ("loss", "margin")
CSV_CHUNK = 1 << 16  # samples formatted per chunk when writing samples.csv

Epochs = Optional[Union[torch.Tensor, Sequence[int]]]


class SampleStats:
    """Loss and logit-margin history (epochs x samples), last prediction, and method values.

    Histories are NaN where an epoch did not record a sample. Method-specific values (for example
    a GMM clean probability, a selection mask, a per-class prediction average) live in ``values``
    under a name, shape (N,) or (N, ...); only (N,) values become samples.csv columns.

    In memory (``memmap_dir=None``) everything stays on ``device`` as float32, so recording never
    synchronises. With ``memmap_dir`` the two histories are float16 ``.npy`` memmaps in that folder
    (``loss.npy``, ``margin.npy``: N x epochs x 2 bytes each plus a 128-byte header), created on
    first use, exposed as CPU tensors; predictions and values stay on ``device``. Recording then
    copies each batch's rows to the CPU, values saturate at +-65504, and every reduction here
    (means, recorded epochs) upcasts one block of samples at a time and returns float32 on
    ``device``. Read a single epoch with ``epoch_values`` to get it as float32 on ``device`` too.

    ``state_dict`` holds the histories as they are stored (float32, or float16 tensors that read
    straight from the memmaps: ``torch.save`` streams them to the file without a RAM copy), so a
    checkpoint or ``stats.pt`` is self-contained; ``load_state_dict`` accepts either dtype.
    """

    def __init__(self, num_samples: int, num_epochs: int, device: torch.device | str = "cpu",
                 memmap_dir: Optional[Union[str, Path]] = None):
        self.device = torch.device(device)
        self.shape = (num_epochs, num_samples)
        self.memmap_dir = None if memmap_dir is None else Path(memmap_dir)
        self._histories: dict[str, torch.Tensor] = {}
        self._memmaps: dict[str, np.memmap] = {}
        if self.memmap_dir is None:
            for name in HISTORIES:
                self._histories[name] = torch.full(self.shape, float("nan"), device=self.device)
        self.prediction = torch.full((num_samples,), -1, dtype=torch.long, device=self.device)
        self.values: dict[str, torch.Tensor] = {}

    # ------------------------------------------------------------------ storage
    def _history(self, name: str) -> torch.Tensor:
        # Memmaps are created on first use, so a Trainer that fails validation leaves no files.
        if name not in self._histories:
            self._memmaps[name] = nan_memmap(self.memmap_dir / f"{name}.npy", self.shape)
            self._histories[name] = torch.from_numpy(self._memmaps[name])
        return self._histories[name]

    @property
    def loss(self) -> torch.Tensor:
        return self._history("loss")

    @property
    def margin(self) -> torch.Tensor:
        return self._history("margin")

    @property
    def memmapped(self) -> bool:
        return self.memmap_dir is not None

    @property
    def num_samples(self) -> int:
        return self.shape[1]

    def flush(self) -> None:
        """Write memmapped histories to disk (no-op in memory)."""
        for array in self._memmaps.values():
            array.flush()

    # ------------------------------------------------------------------ writing
    @torch.no_grad()
    def record(self, epoch: int, idx: torch.Tensor, losses: torch.Tensor, logits: torch.Tensor,
               labels: torch.Tensor) -> None:
        """Store per-sample loss (B,), margin and prediction from (B, C) logits at ``idx``."""
        logits = logits.detach().float()
        self.prediction[idx] = logits.argmax(1)
        rows = {"loss": losses.detach().float(), "margin": logit_margin(logits, labels)}
        if not self.memmapped:
            for name, value in rows.items():
                self._histories[name][epoch, idx] = value
            return
        idx = idx.cpu()
        for name, value in rows.items():
            self._history(name)[epoch, idx] = to_float16(value.cpu())

    def set_value(self, name: str, idx: torch.Tensor, values: torch.Tensor) -> None:
        """Store a method value (B, ...) for the samples at ``idx`` (NaN for samples never set): a
        scalar per sample, or a row of any shape (a per-class average)."""
        if name not in self.values:
            self.values[name] = torch.full((self.num_samples, *values.shape[1:]), float("nan"), device=self.device)
        self.values[name][idx] = values.detach().float().to(self.device)

    # ------------------------------------------------------------------ reading
    def _reduce(self, history: torch.Tensor, epochs: Epochs, reduce) -> torch.Tensor:
        """(N,) ``reduce`` ((E', b) float32 -> (b,)) over the ``epochs`` rows (default all), on the
        device; a float16 history goes through in blocks of samples, upcast to float32 per block."""
        rows = None if epochs is None else torch.as_tensor(epochs, dtype=torch.long).flatten()
        if history.dtype == torch.float32:
            return reduce(history if rows is None else history[rows.to(history.device)]).to(self.device)
        rows = None if rows is None else rows.cpu()
        parts = [reduce(block) for _, block in column_blocks(history, torch.float32, rows)]
        return torch.cat(parts).to(self.device)

    def recorded_epochs(self) -> torch.Tensor:
        """Indices of the epochs in which at least one sample was recorded."""
        if not self.memmapped:
            return (~torch.isnan(self.loss)).any(1).nonzero().flatten()
        recorded = torch.zeros(self.shape[0], dtype=torch.bool)
        for _, block in column_blocks(self.loss, torch.float32):
            recorded |= (~torch.isnan(block)).any(1)
        return recorded.nonzero().flatten().to(self.device)

    def mean_loss(self, epochs: Epochs = None) -> torch.Tensor:
        """(N,) loss averaged over ``epochs`` (default: all recorded), ignoring unrecorded entries."""
        return self._reduce(self.loss, epochs, lambda block: block.nanmean(0))

    def mean_margin(self, epochs: Epochs = None) -> torch.Tensor:
        return self._reduce(self.margin, epochs, lambda block: block.nanmean(0))

    def epoch_values(self, history: torch.Tensor, epoch: int) -> torch.Tensor:
        """(N,) one epoch's row of a history (``stats.loss`` or ``stats.margin``) as float32 on the
        device, whichever way the history is stored."""
        return history[epoch].to(self.device, torch.float32)

    def last(self, history: torch.Tensor) -> torch.Tensor:
        """(N,) the last recorded epoch's row of a history, NaN if nothing was recorded."""
        epochs = self.recorded_epochs()
        if len(epochs) == 0:
            return torch.full((self.num_samples,), float("nan"), device=self.device)
        return self.epoch_values(history, int(epochs[-1]))

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        self.flush()  # what the checkpoint holds is on disk too
        return {"loss": self.loss, "margin": self.margin, "prediction": self.prediction,
                "values": dict(self.values)}

    def load_state_dict(self, state: dict) -> None:
        for name in HISTORIES:
            if tuple(state[name].shape) != self.shape:
                raise NoisyLabelsError(f"saved {name} history has shape {tuple(state[name].shape)}, this run's is "
                                       f"{self.shape} (epochs, samples); it comes from another run")
            if self.memmapped:
                target = self._history(name)
                for epoch, row in enumerate(state[name]):  # row by row: no second full copy in RAM
                    target[epoch] = to_float16(row.cpu())
            else:
                self._histories[name] = state[name].to(self.device, torch.float32)
        self.flush()
        self.prediction = state["prediction"].to(self.device)
        self.values = {k: v.to(self.device) for k, v in state["values"].items()}

    # ------------------------------------------------------------------ per-sample table
    def _columns(self, labels: torch.Tensor, true_labels: Optional[torch.Tensor]) -> dict[str, torch.Tensor]:
        columns = {
            "index": torch.arange(self.num_samples),
            "label": labels.cpu(),
            "true_label": None if true_labels is None else true_labels.cpu(),
            "mean_loss": self.mean_loss().cpu(),
            "last_loss": self.last(self.loss).cpu(),
            "mean_margin": self.mean_margin().cpu(),
            "last_margin": self.last(self.margin).cpu(),
            "prediction": self.prediction.cpu(),
            **{name: v.cpu() for name, v in self.values.items() if v.ndim == 1},  # wider values: stats.pt only
        }
        return {k: v for k, v in columns.items() if v is not None}

    def rows(self, labels: torch.Tensor, true_labels: Optional[torch.Tensor] = None) -> list[dict]:
        """One dict per sample: index, observed/true label, mean and last loss, margin, prediction."""
        columns = {k: v.tolist() for k, v in self._columns(labels, true_labels).items()}
        return [dict(zip(columns, row)) for row in zip(*columns.values())]

    def write_csv(self, path, labels: torch.Tensor, true_labels: Optional[torch.Tensor] = None) -> None:
        """Write ``rows()`` as CSV (floats with 6 significant digits). Use an atomic path wrapper.
        Rows are formatted a chunk of samples at a time: a million dicts would take gigabytes."""
        columns = self._columns(labels, true_labels)
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(list(columns))
            for start in range(0, self.num_samples, CSV_CHUNK):
                chunk = [v[start:start + CSV_CHUNK].tolist() for v in columns.values()]
                writer.writerows([f"{v:.6g}" if isinstance(v, float) else v for v in row] for row in zip(*chunk))

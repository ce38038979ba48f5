"""Per-sample statistics keyed by dataset index: what every method reads instead of recomputing."""
from __future__ import annotations

import csv
from typing import Optional

import torch

from .functional import logit_margin


class SampleStats:
    """Loss and logit-margin history (epochs x samples), last prediction, and method values.

    Histories are NaN where an epoch did not record a sample. Method-specific values (for example
    a GMM clean probability or a selection mask) live in ``values`` under a name, shape (N,).
    Everything stays on the device it was created on, so recording never synchronises.
    """

    def __init__(self, num_samples: int, num_epochs: int, device: torch.device | str = "cpu"):
        nan = float("nan")
        self.loss = torch.full((num_epochs, num_samples), nan, device=device)
        self.margin = torch.full((num_epochs, num_samples), nan, device=device)
        self.prediction = torch.full((num_samples,), -1, dtype=torch.long, device=device)
        self.values: dict[str, torch.Tensor] = {}

    @property
    def num_samples(self) -> int:
        return self.loss.shape[1]

    @torch.no_grad()
    def record(self, epoch: int, idx: torch.Tensor, losses: torch.Tensor, logits: torch.Tensor,
               labels: torch.Tensor) -> None:
        """Store per-sample loss (B,), margin and prediction from (B, C) logits at ``idx``."""
        logits = logits.detach().float()
        self.loss[epoch, idx] = losses.detach().float()
        self.margin[epoch, idx] = logit_margin(logits, labels)
        self.prediction[idx] = logits.argmax(1)

    def set_value(self, name: str, idx: torch.Tensor, values: torch.Tensor) -> None:
        """Store a method value (B,) for the samples at ``idx`` (NaN for samples never set)."""
        if name not in self.values:
            self.values[name] = torch.full((self.num_samples,), float("nan"), device=self.loss.device)
        self.values[name][idx] = values.detach().float().to(self.loss.device)

    def recorded_epochs(self) -> torch.Tensor:
        """Indices of the epochs in which at least one sample was recorded."""
        return (~torch.isnan(self.loss)).any(1).nonzero().flatten()

    def mean_loss(self, epochs: Optional[torch.Tensor] = None) -> torch.Tensor:
        """(N,) loss averaged over ``epochs`` (default: all recorded), ignoring unrecorded entries."""
        history = self.loss if epochs is None else self.loss[epochs]
        return history.nanmean(0)

    def mean_margin(self, epochs: Optional[torch.Tensor] = None) -> torch.Tensor:
        history = self.margin if epochs is None else self.margin[epochs]
        return history.nanmean(0)

    def last(self, history: torch.Tensor) -> torch.Tensor:
        """(N,) the last recorded epoch's row of a history, NaN if nothing was recorded."""
        epochs = self.recorded_epochs()
        if len(epochs) == 0:
            return torch.full((self.num_samples,), float("nan"), device=history.device)
        return history[epochs[-1]]

    def state_dict(self) -> dict:
        return {"loss": self.loss, "margin": self.margin, "prediction": self.prediction,
                "values": dict(self.values)}

    def load_state_dict(self, state: dict) -> None:
        device = self.loss.device
        self.loss = state["loss"].to(device)
        self.margin = state["margin"].to(device)
        self.prediction = state["prediction"].to(device)
        self.values = {k: v.to(device) for k, v in state["values"].items()}

    def rows(self, labels: torch.Tensor, true_labels: Optional[torch.Tensor] = None) -> list[dict]:
        """One dict per sample: index, observed/true label, mean and last loss, margin, prediction."""
        columns = {
            "index": torch.arange(self.num_samples),
            "label": labels.cpu(),
            "true_label": None if true_labels is None else true_labels.cpu(),
            "mean_loss": self.mean_loss().cpu(),
            "last_loss": self.last(self.loss).cpu(),
            "mean_margin": self.mean_margin().cpu(),
            "last_margin": self.last(self.margin).cpu(),
            "prediction": self.prediction.cpu(),
            **{name: v.cpu() for name, v in self.values.items()},
        }
        columns = {k: v.tolist() for k, v in columns.items() if v is not None}
        return [dict(zip(columns, row)) for row in zip(*columns.values())]

    def write_csv(self, path, labels: torch.Tensor, true_labels: Optional[torch.Tensor] = None) -> None:
        """Write ``rows()`` as CSV (floats with 6 significant digits). Use an atomic path wrapper."""
        rows = self.rows(labels, true_labels)
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            for row in rows:
                writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})

"""The bilevel step of ``adaptive_loss``: how a robust loss's hyperparameters are parametrised, and
the gradient of a clean meta loss after one virtual SGD step with respect to them.

theta'(phi) = theta - lr * grad_theta L_train(theta, phi); meta loss = CE(f(theta', x_meta), y_meta);
its gradient w.r.t. phi flows through grad_theta L_train (a second-order term, create_graph=True).
The virtual passes run through ``torch.func.functional_call`` on cloned buffers, so the real
model's weights, gradients and batch-norm statistics are left as they are.
"""
from __future__ import annotations

import copy
import math
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch.func import functional_call

from ..losses import Loss
from ..losses.common import at_least_float32

# Keeps a value off its range's ends (where the inverse of the sigmoid is infinite, and float32's
# sigmoid rounds to exactly 0 or 1, e.g. GCE's q to 0): raw values stay within +-RAW_LIMIT.
EDGE = 1e-3
RAW_LIMIT = math.log((1 - EDGE) / EDGE)  # logit(1 - EDGE), about 6.9


@dataclass(frozen=True)
class Range:
    """An open interval (low, high); a hyperparameter in it is low + (high - low) * sigmoid(raw),
    so that any step on the unconstrained raw value keeps it valid."""

    low: float
    high: float

    def value(self, raw: torch.Tensor) -> torch.Tensor:
        return self.low + (self.high - self.low) * torch.sigmoid(raw)

    def raw(self, value: float) -> float:
        """The raw value of a starting ``value``, pulled to within EDGE of the range's ends."""
        unit = min(max((value - self.low) / (self.high - self.low), EDGE), 1 - EDGE)
        return math.log(unit / (1 - unit))


UNIT = Range(0.0, 1.0)  # GCE's q: 0 is CE, 1 is MAE
SCALE = Range(0.0, 20.0)  # a loss term's weight, within the official code's clamp to [0, 20]

# The hyperparameters learned for each loss, by attribute name: the loss modules compute with a
# tensor there as they do with a float, so the formulas are the registered losses' own.
LEARNABLE = {"gce": {"q": UNIT}, "ngce": {"q": UNIT},
             "sce": {"alpha": SCALE, "beta": SCALE}, "nce_rce": {"alpha": SCALE, "beta": SCALE}}


def loss_with(loss: Loss, values: dict[str, torch.Tensor]) -> Loss:
    """A shallow copy of ``loss`` computing with the given (0-dim tensor) hyperparameter values,
    through which gradients flow to them; ``loss`` itself is left unchanged."""
    copied = copy.copy(loss)
    for name, value in values.items():
        setattr(copied, name, value)
    return copied


def functional_forward(model: torch.nn.Module, params: dict, buffers: dict, x: torch.Tensor,
                       amp: bool = False) -> torch.Tensor:
    """Logits of ``model`` with the given parameters and buffers, in at least float32 (bfloat16
    autocast on CUDA when ``amp``, as ``Trainer.forward``; float64 stays float64 for checks)."""
    with torch.autocast("cuda", dtype=torch.bfloat16) if amp else nullcontext():
        return at_least_float32(functional_call(model, (params, buffers), (x,)))


def meta_gradient(model: torch.nn.Module, train_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                  raw: torch.Tensor, lr: float, train: tuple[torch.Tensor, torch.Tensor],
                  meta: tuple[torch.Tensor, torch.Tensor], amp: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(d meta loss / d raw, meta loss) after one virtual SGD step of ``model`` at ``lr``.

    train_loss(logits, labels) -> scalar: the training loss, computed from ``raw`` (a leaf tensor
    requiring grad); train, meta: (x, labels) batches. Both virtual passes run in the model's
    current mode on one set of cloned buffers; the real model is not changed.
    """
    params = dict(model.named_parameters())
    buffers = {name: b.clone() for name, b in model.named_buffers()}  # batch norm updates the clones
    trained = [name for name, p in params.items() if p.requires_grad]
    loss = train_loss(functional_forward(model, params, buffers, train[0], amp), train[1])
    grads = torch.autograd.grad(loss, [params[name] for name in trained], create_graph=True, allow_unused=True)
    stepped = dict(params)
    for name, grad in zip(trained, grads):
        if grad is not None:
            stepped[name] = params[name] - lr * grad
    meta_loss = F.cross_entropy(functional_forward(model, stepped, buffers, meta[0], amp), meta[1])
    (grad,) = torch.autograd.grad(meta_loss, [raw], allow_unused=True)
    return (torch.zeros_like(raw) if grad is None else grad), meta_loss.detach()

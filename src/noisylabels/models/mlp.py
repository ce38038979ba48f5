"""``mlp``: a fully connected network; it flattens its input, so any in_shape works."""
from __future__ import annotations

import math

from torch import nn

from ..options import POSITIVE_INT, ListOf
from .factory import DROPOUT, MODELS


@MODELS.register("mlp")
class MLP(nn.Module):
    """Flatten -> [Linear -> ReLU -> Dropout] per hidden size -> Linear."""

    # A single hidden layer may be given as a bare number.
    option_constraints = {"hidden_sizes": [POSITIVE_INT, ListOf(POSITIVE_INT)], "dropout": DROPOUT}

    def __init__(self, num_classes: int, in_shape: tuple[int, ...],
                 hidden_sizes: tuple[int, ...] = (256, 256), dropout: float = 0.0):
        super().__init__()
        sizes = [int(h) for h in (hidden_sizes if isinstance(hidden_sizes, (list, tuple)) else [hidden_sizes])]
        dropout = float(dropout)
        layers: list[nn.Module] = [nn.Flatten()]
        width = math.prod(in_shape)
        for h in sizes:
            layers += [nn.Linear(width, h), nn.ReLU(inplace=True)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*layers)
        self._init()

    def _init(self) -> None:
        # He init for the ReLU layers; torch's default Linear init is scaled for tanh-like units.
        linears = [m for m in self.net if isinstance(m, nn.Linear)]
        for m in linears[:-1]:
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.net(x)

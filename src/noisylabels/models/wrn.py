"""``wrn28_2``: Wide ResNet 28-2 (Zagoruyko & Komodakis 2016), as used by MixMatch and the
realistic semi-supervised learning evaluation (Oliver et al. 2018).

Depth 28 gives (28 - 4) / 6 = 4 pre-activation blocks per stage; widen factor 2 gives stages of
32/64/128 channels after a 16-channel 3x3 stem. As in those papers' code the activations are
LeakyReLU(0.1); the shortcut is a 1x1 conv where the shape changes; ``dropout`` (default 0) sits
between a block's two convolutions.
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from .factory import DROPOUT, MODELS, image_channels, kaiming_init

_SLOPE = 0.1  # LeakyReLU slope of the MixMatch / realistic-SSL implementations


class WideBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, dropout: float):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.act = nn.LeakyReLU(_SLOPE, inplace=True)
        self.dropout = dropout
        self.projection = None
        if stride != 1 or c_in != c_out:
            self.projection = nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False)

    def forward(self, x):
        out = self.act(self.bn1(x))
        shortcut = x if self.projection is None else self.projection(out)
        out = self.act(self.bn2(self.conv1(out)))
        if self.dropout > 0:
            out = F.dropout(out, self.dropout, self.training)
        return self.conv2(out) + shortcut


@MODELS.register("wrn28_2")
class WideResNet28x2(nn.Module):
    option_constraints = {"dropout": DROPOUT}

    def __init__(self, num_classes: int, in_shape: tuple[int, ...], dropout: float = 0.0):
        super().__init__()
        channels = image_channels("wrn28_2", in_shape)
        dropout = float(dropout)
        blocks, c_in = [], 16
        for i, c_out in enumerate((32, 64, 128)):
            for j in range(4):
                stride = 2 if i > 0 and j == 0 else 1
                blocks.append(WideBlock(c_in, c_out, stride, dropout))
                c_in = c_out
        self.stem = nn.Conv2d(channels, 16, 3, padding=1, bias=False)
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.BatchNorm2d(128), nn.LeakyReLU(_SLOPE, inplace=True),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = nn.Linear(128, num_classes)
        kaiming_init(self, nonlinearity="leaky_relu", negative_slope=_SLOPE)

    def forward(self, x):
        return self.classifier(self.head(self.blocks(self.stem(x))))

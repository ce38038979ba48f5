"""ResNets from the noisy-label literature.

``preact_resnet18``: PreAct ResNet-18 (He et al. 2016, "Identity Mappings"), the backbone of
DivideMix and most CIFAR noisy-label papers: 3x3 stem, stages of 64/128/256/512 channels with two
pre-activation blocks each, final BN-ReLU, global average pool, linear.

``resnet32``: the CIFAR ResNet-32 (He et al. 2016, "Deep Residual Learning", section 4.2): 3x3
stem of 16 channels, three stages of 16/32/64 channels with five basic blocks each. Where the
shape changes, the shortcut is a 1x1-conv projection with BatchNorm (the paper's option B) rather
than the zero-padded identity (option A) the paper used on CIFAR.

Both use adaptive average pooling, so inputs other than 32x32 work too.
"""
from __future__ import annotations

from torch import nn

from .factory import MODELS, image_channels, kaiming_init


def _conv3x3(c_in: int, c_out: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)


class PreActBlock(nn.Module):
    """BN-ReLU-conv twice; the shortcut is added to the un-activated sum (identity mapping)."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in)
        self.conv1 = _conv3x3(c_in, c_out, stride)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.conv2 = _conv3x3(c_out, c_out)
        self.relu = nn.ReLU(inplace=True)
        self.projection = None
        if stride != 1 or c_in != c_out:
            self.projection = nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False)

    def forward(self, x):
        out = self.relu(self.bn1(x))
        # A projection reads the pre-activated input, as in the paper's full pre-activation unit.
        shortcut = x if self.projection is None else self.projection(out)
        out = self.conv1(out)
        out = self.conv2(self.relu(self.bn2(out)))
        return out + shortcut


class BasicBlock(nn.Module):
    """conv-BN-ReLU-conv-BN, add the shortcut, then ReLU (the original post-activation block)."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = _conv3x3(c_in, c_out, stride)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = _conv3x3(c_out, c_out)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(c_out))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


def _stages(block, c_in: int, widths: tuple[int, ...], blocks_per_stage: int) -> nn.Sequential:
    """Stages of ``blocks_per_stage`` blocks; every stage after the first halves the resolution."""
    layers = []
    for i, c_out in enumerate(widths):
        for j in range(blocks_per_stage):
            stride = 2 if i > 0 and j == 0 else 1
            layers.append(block(c_in, c_out, stride))
            c_in = c_out
    return nn.Sequential(*layers)


@MODELS.register("preact_resnet18")
class PreActResNet18(nn.Module):
    option_constraints: dict = {}  # no options

    def __init__(self, num_classes: int, in_shape: tuple[int, ...]):
        super().__init__()
        channels = image_channels("preact_resnet18", in_shape)
        self.stem = _conv3x3(channels, 64)
        self.stages = _stages(PreActBlock, 64, (64, 128, 256, 512), blocks_per_stage=2)
        # Pre-activation blocks end un-normalised, so one BN-ReLU precedes the pooling.
        self.head = nn.Sequential(nn.BatchNorm2d(512), nn.ReLU(inplace=True),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = nn.Linear(512, num_classes)
        kaiming_init(self)

    def forward(self, x):
        return self.classifier(self.head(self.stages(self.stem(x))))


@MODELS.register("resnet32")
class ResNet32(nn.Module):
    option_constraints: dict = {}  # no options

    def __init__(self, num_classes: int, in_shape: tuple[int, ...]):
        super().__init__()
        channels = image_channels("resnet32", in_shape)
        self.stem = nn.Sequential(_conv3x3(channels, 16), nn.BatchNorm2d(16), nn.ReLU(inplace=True))
        self.stages = _stages(BasicBlock, 16, (16, 32, 64), blocks_per_stage=5)  # 6*5 + 2 = 32 layers
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = nn.Linear(64, num_classes)
        kaiming_init(self)

    def forward(self, x):
        return self.classifier(self.pool(self.stages(self.stem(x))))

"""Batched augmentations as tensor ops on the training device (no per-sample Python loop)."""
from __future__ import annotations

from typing import Callable, Optional

import torch
import torch.nn.functional as F

from ..errors import NoisyLabelsError

Augment = Callable[[torch.Tensor, Optional[torch.Generator]], torch.Tensor]


def _rand(n: int, x: torch.Tensor, generator: Optional[torch.Generator]) -> torch.Tensor:
    # Draw on the generator's device (CPU by default) so runs are reproducible on any device.
    return torch.rand(n, generator=generator).to(x.device)


def random_flip(x: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Mirror each image (B, C, H, W) left-right with probability 1/2."""
    flip = _rand(len(x), x, generator) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(3), x)


def random_crop(x: torch.Tensor, padding: int, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Zero-pad each image (B, C, H, W) by ``padding`` and cut a random H x W window back out."""
    b, _, h, w = x.shape
    padded = F.pad(x, (padding, padding, padding, padding))
    offsets = (_rand(2 * b, x, generator) * (2 * padding + 1)).long().clamp_max(2 * padding)
    rows = offsets[:b, None] + torch.arange(h, device=x.device)  # (B, H)
    cols = offsets[b:, None] + torch.arange(w, device=x.device)  # (B, W)
    batch = torch.arange(b, device=x.device)[:, None, None]
    # Advanced indexing gathers (B, H, W, C); move channels back to dim 1.
    return padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def feature_noise(x: torch.Tensor, std: float, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Add Gaussian noise of ``std`` times each feature's spread over the batch: an augmentation
    for vectors, where crops and flips mean nothing."""
    noise = torch.randn(x.shape, generator=generator).to(x.device, x.dtype)
    spread = x.std(0, keepdim=True) if len(x) > 1 else torch.ones_like(x)
    return x + std * spread * noise


AUGMENTS = ("auto", "none", "flip", "crop", "crop_flip", "noise")
FEATURE_NOISE_STD = 0.1


def make_augment(name: str, in_shape: tuple[int, ...]) -> Optional[Augment]:
    """The augmentation for a split with per-sample shape ``in_shape``; None means none.

    ``auto`` is crop (padding H/8) + flip for images and none for vectors; ``noise`` is
    feature noise (any shape).
    """
    if name not in AUGMENTS:
        raise NoisyLabelsError(f"unknown augment '{name}'; choose one of: {', '.join(AUGMENTS)}")
    is_image = len(in_shape) == 3
    if name == "auto":
        name = "crop_flip" if is_image else "none"
    if name == "none":
        return None
    if name == "noise":
        return lambda x, generator=None: feature_noise(x, FEATURE_NOISE_STD, generator)
    if not is_image:
        raise NoisyLabelsError(f"augment '{name}' needs images (C, H, W), got shape {in_shape}; use 'none'")
    padding = max(1, in_shape[1] // 8)
    use_crop, use_flip = "crop" in name, "flip" in name

    def augment(x: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        if use_crop:
            x = random_crop(x, padding, generator)
        if use_flip:
            x = random_flip(x, generator)
        return x

    return augment


def view_augment(name: str, in_shape: tuple[int, ...]) -> Augment:
    """The stochastic augmentation that makes the views of semi-supervised methods (MixMatch's
    label guessing needs views that differ): ``auto`` is crop + flip for images, feature noise
    for vectors; ``none`` is not allowed."""
    if name == "auto":
        name = "crop_flip" if len(in_shape) == 3 else "noise"
    augment = make_augment(name, in_shape)
    if augment is None:
        raise NoisyLabelsError("this method needs augmented views; choose augment auto, noise, flip, crop or crop_flip")
    return augment

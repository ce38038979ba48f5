"""Batches from a split that lives on the training device: one randperm per epoch, index slicing."""
from __future__ import annotations

from typing import Iterator, NamedTuple, Optional

import torch

from .augment import Augment


class Batch(NamedTuple):
    idx: torch.Tensor  # (B,) dataset indices, so methods can read and write per-sample statistics
    x: torch.Tensor  # (B, *in_shape) features, augmented when the loader augments
    y: torch.Tensor  # (B,) observed labels


class DeviceLoader:
    """Iterate over (idx, x, y) batches of tensors already on the device.

    No DataLoader and no workers: the whole split is one tensor, so a batch is an index slice.
    The shuffling generator is a CPU ``torch.Generator`` so the order is reproducible on any device.
    """

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        *,
        shuffle: bool = True,
        drop_last: bool = False,
        augment: Optional[Augment] = None,
        generator: Optional[torch.Generator] = None,
    ):
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.shuffle, self.drop_last = shuffle, drop_last
        self.augment = augment
        self.generator = generator if generator is not None else torch.Generator()
        self.indices: Optional[torch.Tensor] = None  # iterate over these samples only (None: all)
        # Per-sample weights over the pool (indices, or all samples): when set, each epoch draws
        # len(pool) samples *with replacement* in proportion to them (a weighted random sampler).
        self.weights: Optional[torch.Tensor] = None
        # Distributed training: (rank, world size). Each rank takes every world-th sample of the
        # epoch's order (padded to a multiple of the world size, like DistributedSampler) in
        # batches of batch_size // world, so the ranks together make the configured batch.
        self.shard: Optional[tuple[int, int]] = None

    def _local(self, n: int) -> tuple[int, int]:
        """This rank's (samples per epoch, batch size) out of a pool of ``n``."""
        if self.shard is None:
            return n, self.batch_size
        world = self.shard[1]
        return -(-n // world), max(1, self.batch_size // world)

    def __len__(self) -> int:
        n, size = self._local(len(self.x) if self.indices is None else len(self.indices))
        return n // size if self.drop_last else -(-n // size)

    def __iter__(self) -> Iterator[Batch]:
        pool = torch.arange(len(self.x), device=self.x.device) if self.indices is None else self.indices
        n = len(pool)
        if self.weights is not None:
            if len(self.weights) != n:
                raise ValueError(f"loader weights have {len(self.weights)} entries for a pool of {n} samples")
            draw = torch.multinomial(self.weights.double().cpu(), n, replacement=True, generator=self.generator)
            order = pool[draw.to(pool.device)]
        elif self.shuffle:
            order = pool[torch.randperm(n, generator=self.generator).to(pool.device)]
        else:
            order = pool
        size = self._local(n)[1]
        if self.shard is not None:
            rank, world = self.shard
            order = torch.cat([order, order[: (-n) % world]])[rank::world]
        for i in range(len(self)):
            idx = order[i * size : (i + 1) * size]
            x = self.x[idx]
            if self.augment is not None:
                x = self.augment(x, self.generator)
            yield Batch(idx, x, self.y[idx])

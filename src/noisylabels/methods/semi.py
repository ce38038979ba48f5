"""What the methods that treat rejected samples as unlabeled data share: labeled/unlabeled batch
pairs drawn from two device loaders over the same training tensors."""
from __future__ import annotations

from typing import Iterator, NamedTuple, Optional

import torch

from ..data.device_loader import Batch, DeviceLoader
from ..data.streaming import loader_like
from ..errors import NoisyLabelsError
from ..functional.mixmatch import mixmatch_mix, soft_cross_entropy, soft_mse


class MixBatch(NamedTuple):
    net: int  # the network this step trains
    labeled: Batch  # raw (unaugmented) inputs: the method makes its own views
    unlabeled: Batch
    clean_prob: Optional[torch.Tensor]  # (B,) per labeled sample (DivideMix's w), or None


def _cycle(loader: DeviceLoader) -> Iterator[Batch]:
    while True:
        yield from loader


class LabeledUnlabeledEpoch:
    """``steps`` pairs of (labeled, unlabeled) batches; each loader restarts when it runs out.

    labeled / unlabeled: (n,) dataset indices; ``weights`` (over the labeled indices) makes the
    labeled draw a weighted sampling with replacement; ``clean_prob`` (N,) is looked up per batch.
    """

    def __init__(self, trainer, labeled: torch.Tensor, unlabeled: torch.Tensor, steps: int, net: int = 0,
                 weights: Optional[torch.Tensor] = None, clean_prob: Optional[torch.Tensor] = None):
        if len(labeled) == 0:
            raise NoisyLabelsError("the labeled set is empty: the selection kept no sample")
        if len(unlabeled) == 0:  # nothing was rejected: the labeled samples double as unlabeled ones
            unlabeled = labeled
        # Loaders of the run's kind (device-resident or streaming) sharing its generator.
        size = trainer.config.optim.batch_size
        self.labeled = loader_like(trainer.loader, min(size, len(labeled)), drop_last=True)
        self.labeled.indices, self.labeled.weights = labeled, weights
        self.unlabeled = loader_like(trainer.loader, min(size, len(unlabeled)), drop_last=True)
        self.unlabeled.indices = unlabeled
        self.labeled.shard = self.unlabeled.shard = trainer.shard  # distributed: this rank's part
        self.steps, self.net, self.clean_prob = max(1, steps), net, clean_prob

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[MixBatch]:
        labeled, unlabeled = _cycle(self.labeled), _cycle(self.unlabeled)
        for _ in range(self.steps):
            batch = next(labeled)
            prob = None if self.clean_prob is None else self.clean_prob[batch.idx]
            yield MixBatch(self.net, batch, next(unlabeled), prob)


class Chain:
    """Several epochs' parts one after another (DivideMix trains network 1, then network 2)."""

    def __init__(self, *parts):
        self.parts = parts

    def __len__(self) -> int:
        return sum(len(p) for p in self.parts)

    def __iter__(self):
        for part in self.parts:
            yield from part


def one_hot(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    return torch.nn.functional.one_hot(labels, num_classes).float()


def mixmatch_losses(trainer, net: int, x_views: list[torch.Tensor], x_targets: torch.Tensor,
                    u_views: list[torch.Tensor], u_targets: torch.Tensor, alpha: float):
    """One MixMatch forward: every labeled view (with ``x_targets``) and unlabeled view (with
    ``u_targets``) is mixed with a random partner from the whole concatenation; one forward pass of
    network ``net`` (its batch norm sees the mixed batch). Returns (soft CE on the labeled part,
    MSE on the unlabeled part, all logits)."""
    inputs = torch.cat(x_views + u_views)
    targets = torch.cat([x_targets] * len(x_views) + [u_targets] * len(u_views))
    mixed, mixed_targets, _ = mixmatch_mix(inputs, targets, alpha, trainer.loader.generator)
    logits = trainer.forward(net, mixed)
    n = len(x_targets) * len(x_views)
    return (soft_cross_entropy(logits[:n], mixed_targets[:n]).mean(),
            soft_mse(logits[n:], mixed_targets[n:]).mean(), logits)

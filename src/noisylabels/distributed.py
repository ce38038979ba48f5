"""Multi-process training on torch.distributed, started by ``torchrun``.

Every rank holds the whole (in-memory) data set and builds the same run from the same config and
seed. Per epoch each rank trains on a disjoint shard of the sample order (``DeviceLoader.shard``)
through DistributedDataParallel; at the end of the epoch the per-sample statistics are gathered by
index so every rank holds the full store, accumulators a method declares (``Method.summed``) are
summed over ranks, and a digest of the store and the selection is compared across ranks. Decisions
made from the store (RSL's selection, DivideMix's GMM, AUM's flags) are computed on rank 0 and
broadcast (``Trainer.broadcast``). Only rank 0 writes files.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Optional

import torch
import torch.distributed as dist

from .errors import NoisyLabelsError


@dataclass(frozen=True)
class Dist:
    rank: int
    world: int


def launched() -> bool:
    """True in a process that torchrun started as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init(device_name: str) -> tuple[Optional[Dist], str]:
    """Join the process group torchrun describes (nccl on CUDA, gloo on CPU); returns the rank
    info (None outside torchrun) and the device this rank trains on."""
    if not launched():
        return None, device_name
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = device_name.startswith("cuda") or (device_name == "auto" and torch.cuda.is_available())
    if cuda:
        if not torch.cuda.is_available():
            raise NoisyLabelsError("distributed training on cuda, but this machine has no CUDA device; use --device cpu")
        torch.cuda.set_device(local_rank)
        device_name = f"cuda:{local_rank}"
    elif device_name == "auto":
        device_name = "cpu"
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    return Dist(dist.get_rank(), dist.get_world_size()), device_name


def broadcast(obj, device: torch.device):
    """Rank 0's ``obj`` (tensors, or containers of them) on every rank, on ``device``."""
    box = [_to(obj, torch.device("cpu"))]
    dist.broadcast_object_list(box, src=0)
    return _to(box[0], device)


def _to(obj, device: torch.device):
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to(o, device) for o in obj)
    if isinstance(obj, dict):
        return {k: _to(v, device) for k, v in obj.items()}
    return obj


def sum_over_ranks(tensor: torch.Tensor) -> torch.Tensor:
    """The elementwise sum of ``tensor`` over ranks (float64 on the way, so sums are exact-ish)."""
    total = tensor.detach().to(torch.float64 if tensor.is_floating_point() else torch.int64).clone()
    if dist.get_backend() == "nccl":
        total = total.cuda()
    dist.all_reduce(total)
    return total.to(tensor.device, tensor.dtype)


def gather_rows(rows: dict[str, torch.Tensor], recorded: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Merge per-sample rows that each rank filled for its own samples.

    rows: name -> (N,) tensor; recorded: (N,) bool, the samples this rank filled. Each sample
    takes the value of the lowest rank that recorded it (equal values where several did). Returns
    the merged rows and, per sample, how many ranks recorded it.
    """
    world = dist.get_world_size()
    device = recorded.device
    comm = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")
    mine = recorded.to(comm, torch.uint8)
    masks = [torch.empty_like(mine) for _ in range(world)]
    dist.all_gather(masks, mine)
    masks = torch.stack(masks).bool()  # (world, N)
    first = torch.where(masks.any(0), masks.float().argmax(0), torch.zeros_like(masks[0], dtype=torch.long))
    merged = {}
    for name, row in rows.items():
        sent = row.to(comm, torch.uint8 if row.dtype == torch.bool else row.dtype).contiguous()
        parts = [torch.empty_like(sent) for _ in range(world)]
        dist.all_gather(parts, sent)
        value = torch.stack(parts).gather(0, first[None]).squeeze(0)
        merged[name] = torch.where(masks.any(0), value, sent).to(device, row.dtype)
    return merged, masks.sum(0).to(device)


def digest(tensors: list[Optional[torch.Tensor]]) -> str:
    """A short hash of tensors' values (None included), to compare state across ranks."""
    h = hashlib.sha1()
    for t in tensors:
        h.update(b"none" if t is None else t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def same_on_all_ranks(value: str) -> bool:
    values = [None] * dist.get_world_size()
    dist.all_gather_object(values, value)
    return len(set(values)) == 1


def shutdown() -> None:
    """Leave the process group (at the end of a torchrun command)."""
    if dist.is_initialized():
        dist.destroy_process_group()

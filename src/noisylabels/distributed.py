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

from .collectives import gather_rows
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


def changed_rows(value: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
    """(N,) bool: the samples whose row of ``value`` differs from ``old`` (NaN equals NaN)."""
    same = (value == old) | (torch.isnan(value) & torch.isnan(old)) if value.is_floating_point() else value == old
    return ~same.reshape(len(value), -1).all(1)


# ---------------------------------------------------------------------- a trainer's epoch across ranks
def snapshot(trainer) -> dict:
    """What a rank changes only for its own samples during an epoch, as it was at the start."""
    method = trainer.method
    return {"values": {k: v.clone() for k, v in trainer.stats.values.items()},
            "summed": {name: getattr(method, name).clone() for name in method.summed},
            "merged": {name: getattr(method, name).clone() for name in method.merged}}


def merge_ranks(trainer, epoch: int, before: dict) -> dict:
    """After an epoch's steps: every rank's statistics merged by index on every rank, declared
    accumulators summed over ranks, batch-norm buffers taken from rank 0. Per-sample values and
    merged method attributes may have any shape (N, ...). Returns how many samples one rank
    recorded and how many several ranks did (padding, or full passes)."""
    stats, method = trainer.stats, trainer.method
    recorded = ~torch.isnan(stats.loss[epoch])
    rows = {"loss": stats.loss[epoch], "margin": stats.margin[epoch], "prediction": stats.prediction}
    merged, counts = gather_rows(rows, recorded)
    stats.loss[epoch], stats.margin[epoch] = merged["loss"], merged["margin"]
    stats.prediction = merged["prediction"]
    shapes = [None] * dist.get_world_size()  # a value one rank never set exists on the others
    dist.all_gather_object(shapes, {k: tuple(v.shape) for k, v in stats.values.items()})
    for name in sorted(set().union(*shapes)):
        value = stats.values.get(name)
        if value is None:
            shape = next(s[name] for s in shapes if name in s)
            value = stats.values[name] = torch.full(shape, float("nan"), device=trainer.device)
        old = before["values"].get(name, torch.full_like(value, float("nan")))
        stats.values[name] = gather_rows({name: value}, changed_rows(value, old))[0][name]
    for name, start in before["summed"].items():
        added = getattr(method, name).double() - start.double()
        setattr(method, name, (start.double() + sum_over_ranks(added)).to(start.dtype))
    for name, start in before["merged"].items():
        value = getattr(method, name)
        setattr(method, name, gather_rows({name: value}, changed_rows(value, start))[0][name])
    for model in trainer.models:  # batch-norm statistics saw only each rank's batches
        for buffer in model.buffers():
            dist.broadcast(buffer.data, 0)
    return {"ddp_recorded_once": int((counts == 1).sum()), "ddp_recorded_several": int((counts > 1).sum())}


def check_ranks_agree(trainer, epoch: int) -> dict:
    """Every rank must hold the same statistics and selection after an epoch: a cheap digest."""
    stats = trainer.stats
    values = [stats.values[k] for k in sorted(stats.values)]
    state = digest([stats.loss[epoch], stats.prediction, trainer.loader.indices, trainer.loader.weights, *values])
    if not same_on_all_ranks(state):
        raise NoisyLabelsError(f"epoch {epoch + 1}: the ranks' statistics or selections differ; "
                               "a method decision was not broadcast")
    return {"ddp_world_size": dist.get_world_size()}


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
    """Leave the process group (at the end of a torchrun command). The barrier first: a rank that
    tears gloo down while another is still in a collective aborts ("terminate called ...")."""
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()

"""torch.distributed collectives on per-sample rows, below every layer: the engine's DDP merge
(``distributed``) and the framework callbacks' Recorder merge (``detection``) both use them."""
from __future__ import annotations

import torch
import torch.distributed as dist


def gather_rows(rows: dict[str, torch.Tensor], recorded: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Merge per-sample rows that each rank filled for its own samples.

    rows: name -> (N, ...) tensor; recorded: (N,) bool, the samples this rank filled. Each sample
    takes the row of the lowest rank that recorded it (equal values where several did). Returns
    the merged rows and, per sample, how many ranks recorded it.
    """
    world = dist.get_world_size()
    device = recorded.device
    comm = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")
    mine = recorded.to(comm, torch.uint8)
    masks = [torch.empty_like(mine) for _ in range(world)]
    dist.all_gather(masks, mine)
    masks = torch.stack(masks).bool()  # (world, N)
    anyone = masks.any(0)
    first = torch.where(anyone, masks.float().argmax(0), torch.zeros_like(masks[0], dtype=torch.long))
    merged = {}
    for name, row in rows.items():
        sent = row.to(comm, torch.uint8 if row.dtype == torch.bool else row.dtype).contiguous()
        parts = [torch.empty_like(sent) for _ in range(world)]
        dist.all_gather(parts, sent)
        trailing = (1,) * (sent.ndim - 1)  # a row of any shape follows its sample's first rank
        index = first.view(1, -1, *trailing).expand(1, *sent.shape)
        value = torch.stack(parts).gather(0, index).squeeze(0)
        merged[name] = torch.where(anyone.view(-1, *trailing), value, sent).to(device, row.dtype)
    return merged, masks.sum(0).to(device)

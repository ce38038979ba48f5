"""(epochs, N) per-sample histories, in memory or as float16 memmaps on disk, read in column blocks.

Shared by the engine's statistics store (``stats.SampleStats``), the user-loop ``Recorder`` and the
detection scores, so a history larger than memory is created, filled and reduced the same way
everywhere: NaN marks an entry that was never recorded, and reductions upcast one block of
samples at a time, never the whole history.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator, Optional

import numpy as np
import torch

BLOCK_COLUMNS = 1 << 14  # (200 epochs x 16384 samples) float64 = 26 MB per block
FLOAT16_MAX = 65504.0  # the largest finite float16


def nan_memmap(path: Path, shape: tuple[int, int], dtype=np.float16) -> np.memmap:
    """A new ``.npy`` memmap at ``path`` (replacing any file there) filled with NaN."""
    path.parent.mkdir(parents=True, exist_ok=True)
    array = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)
    for row in array:  # row by row: never a whole-file buffer in RAM
        row[:] = np.nan
    return array


def to_float16(values: torch.Tensor) -> torch.Tensor:
    """Values as float16, clamped to its finite range: a huge loss or margin saturates instead of
    becoming inf, which would turn every mean it enters into inf. NaN stays NaN."""
    return values.float().clamp(-FLOAT16_MAX, FLOAT16_MAX).half()


NUMPY_DTYPES = {torch.float64: np.float64, torch.float32: np.float32}


def column_blocks(history, dtype: torch.dtype = torch.float64,
                  rows: Optional[torch.Tensor] = None) -> Iterator[tuple[int, torch.Tensor]]:
    """Yield (start, (E, b) CPU tensor of ``dtype``, float64 or float32) blocks of ``BLOCK_COLUMNS``
    columns of an (E, N) history: a numpy array, memmap or tensor on any device. ``rows`` (a CPU
    index tensor) keeps only those epochs, picked before the upcast."""
    for start in range(0, history.shape[1], BLOCK_COLUMNS):
        part = history[:, start:start + BLOCK_COLUMNS]
        if rows is not None:
            part = part[rows if isinstance(part, torch.Tensor) else rows.numpy()]
        if isinstance(part, torch.Tensor):
            yield start, part.detach().to("cpu", dtype)
        else:  # a copy in the target dtype: memmaps may be read-only, and torch wants writable arrays
            yield start, torch.from_numpy(np.array(part, dtype=NUMPY_DTYPES[dtype]))

"""Training data larger than memory: features read from disk on demand, batches from worker processes.

``StreamedFeatures`` stand in for a split's (N, *in_shape) feature tensor: ``len``, ``shape``,
``ndim`` and row indexing (an int, a slice, index tensors/arrays/lists, a boolean mask) work as on
a CPU float32 tensor, and every read returns a standardised CPU float32 tensor of the rows asked
for. So ``Trainer.logits_on(trainer.train_x)`` and index slicing work unchanged, one batch in
memory at a time. ``subset`` is a view (no read), which is how hold-out splits stay on disk.

``StreamingLoader`` is the ``DeviceLoader`` of streamed features: the same attributes (indices,
weights, generator, batch_size, drop_last, augment, shard) and the same epoch order for the same
generator state, drawn in the main process; a ``torch.utils.data.DataLoader`` with ``workers``
processes then reads the batches in that order and the main process moves them to the device.
"""
from __future__ import annotations

import copy
from typing import Iterator, Optional

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ..errors import NoisyLabelsError
from .augment import Augment
from .device_loader import Batch, DeviceLoader

DEFAULT_WORKERS = 2


class StreamedFeaturesError(NoisyLabelsError, AttributeError):
    """A tensor operation that streamed features do not offer (it is an AttributeError for hasattr)."""


class StreamedFeatures:
    """Rows of features read on demand. Subclasses implement ``_read(rows)``: the standardised
    float32 rows (k, *row_shape) at positions ``rows`` (int64) of the whole source."""

    dtype = torch.float32
    device = torch.device("cpu")

    def __init__(self, num_rows: int, row_shape: tuple[int, ...]):
        self.num_rows, self.row_shape = num_rows, tuple(row_shape)
        self.rows: Optional[np.ndarray] = None  # a view's rows of the source (None: all of them)

    def _read(self, rows: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __len__(self) -> int:
        return self.num_rows if self.rows is None else len(self.rows)

    @property
    def shape(self) -> torch.Size:
        return torch.Size((len(self), *self.row_shape))

    @property
    def ndim(self) -> int:
        return 1 + len(self.row_shape)

    def __getitem__(self, key) -> torch.Tensor:
        if isinstance(key, (int, np.integer)) or (isinstance(key, (torch.Tensor, np.ndarray)) and key.ndim == 0):
            return self[[int(key)]][0]
        positions = self._positions(key)
        source = positions if self.rows is None else self.rows[positions]
        return torch.from_numpy(self._read(source))

    def __getattr__(self, name: str):
        # Only reached for attributes the class lacks: tensor methods (.numpy(), .to(), .float())
        # that would need every row in memory at once.
        if name.startswith("__"):
            raise AttributeError(name)
        raise StreamedFeaturesError(f"streamed features (data.streaming) have len, shape, ndim and row indexing "
                                    f"x[rows], not .{name}: read the rows you need with x[i:j] (or drop "
                                    "data.streaming to hold every feature in memory)")

    def subset(self, index) -> "StreamedFeatures":
        """A view of the rows at ``index`` (as in ``__getitem__``), in that order; nothing is read."""
        positions = self._positions(index)
        view = copy.copy(self)
        view.rows = positions if self.rows is None else self.rows[positions]
        return view

    def _positions(self, key) -> np.ndarray:
        """Row positions (int64) of this view that ``key`` selects."""
        n = len(self)
        if isinstance(key, slice):
            return np.arange(*key.indices(n), dtype=np.int64)
        if isinstance(key, tuple):
            raise TypeError("streamed features are indexed by rows only (x[rows]); index the tensor a read returns")
        if isinstance(key, torch.Tensor):
            key = key.cpu().numpy()
        key = np.asarray(key)
        if key.dtype == bool:
            if key.shape != (n,):
                raise IndexError(f"boolean mask of shape {key.shape} for {n} rows")
            return np.flatnonzero(key)
        if key.size == 0:
            return np.zeros(0, dtype=np.int64)
        if key.dtype.kind not in "iu" or key.ndim != 1:
            raise IndexError(f"rows must be an int, a slice, a boolean mask or a 1-D index array, got {key.dtype} "
                             f"of shape {key.shape}")
        positions = np.where(key < 0, key + n, key).astype(np.int64)
        if positions.min() < 0 or positions.max() >= n:
            raise IndexError(f"row index out of range for {n} rows")
        return positions


# --------------------------------------------------------------------------- standardisation


class Moments:
    """Mean and standard deviation per column (vectors (k, D)) or per channel (images (k, C, H, W)),
    added one chunk at a time with Chan et al.'s pairwise update: one pass, stable, float64.
    Also checks that every value is finite, naming the first bad row."""

    def __init__(self, what: str):
        self.what, self.count, self.rows_seen = what, 0, 0
        self.mean = self.m2 = self.low = self.high = None

    def add(self, chunk: np.ndarray) -> None:
        if chunk.dtype.kind == "f" and not np.isfinite(chunk).all():
            bad = np.flatnonzero(~np.isfinite(chunk.reshape(len(chunk), -1)).all(axis=1))[0]
            raise NoisyLabelsError(f"{self.what} contains NaN or inf (first: row {self.rows_seen + bad}); "
                                   "impute or drop those rows")
        self.rows_seen += len(chunk)
        if chunk.ndim == 4:  # images: one column per channel
            chunk = np.moveaxis(chunk, 1, -1).reshape(-1, chunk.shape[1])
        values = chunk.astype(np.float64)
        count, mean = len(values), values.mean(0)
        m2, low, high = ((values - mean) ** 2).sum(0), values.min(0), values.max(0)
        if self.count == 0:
            self.count, self.mean, self.m2, self.low, self.high = count, mean, m2, low, high
            return
        total = self.count + count
        delta = mean - self.mean
        self.mean = self.mean + delta * count / total
        self.m2 = self.m2 + m2 + delta ** 2 * self.count * count / total
        self.low, self.high = np.minimum(self.low, low), np.maximum(self.high, high)
        self.count = total

    def result(self, image: bool) -> tuple[np.ndarray, np.ndarray]:
        """(mean, std) shaped to broadcast over rows: (D,) float64 for vectors, (C, 1, 1) float32
        for images, as the in-memory loaders standardise them. A constant column/channel gets std 1."""
        std = np.sqrt(self.m2 / self.count)
        std[self.low == self.high] = 1.0  # exact test: rounding can leave a variance > 0
        if image:
            return self.mean.astype(np.float32)[:, None, None], std.astype(np.float32)[:, None, None]
        return self.mean, std


def standardise(raw: np.ndarray, mean: np.ndarray, std: np.ndarray, scale: bool) -> np.ndarray:
    """Raw rows -> float32 standardised rows; ``scale``: uint8 pixels, divided by 255 first."""
    if mean.dtype == np.float64:  # vectors: standardised in float64, like the in-memory loaders
        return ((raw.astype(np.float64) - mean) / std).astype(np.float32)
    x = raw.astype(np.float32)
    if scale:
        x /= 255.0
    return (x - mean) / std


# --------------------------------------------------------------------------- batches


class _Rows(Dataset):
    """Map-style dataset over the features; a DataLoader worker fetches a whole batch at once."""

    def __init__(self, x):
        self.x = x

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.x[index]

    def __getitems__(self, indices: list[int]) -> tuple[np.ndarray, np.ndarray]:
        # numpy arrays: a worker pickles them through its pipe, about 5x cheaper per batch than
        # the shared-memory segment a tensor would get
        idx = np.asarray(indices, dtype=np.int64)
        return idx, self.x[torch.from_numpy(idx)].numpy()


def _unchanged(batch):
    return batch  # __getitems__ already made the (idx, x) batch; a module function pickles for workers


class OrderedBatches(Sampler):
    """Index batches in an order drawn beforehand in the main process: workers only read rows, so
    the number of workers never changes the order."""

    def __init__(self, batches: list[torch.Tensor]):
        self.batches = batches

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self.batches:  # lists one batch at a time: a million Python ints take 36 MB
            yield batch.tolist()


class _Positions:
    """Stands in for features and labels while DeviceLoader draws an epoch: indexing gives the indices."""

    device = torch.device("cpu")

    def __init__(self, n: int):
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, idx: torch.Tensor) -> torch.Tensor:
        return idx


class StreamingLoader(DeviceLoader):
    """Iterate over (idx, x, y) batches on the labels' device, with features read by ``workers``
    processes from ``x`` (``StreamedFeatures`` or a CPU tensor); 0 workers read in this process.

    The epoch's order comes from ``DeviceLoader``'s own draw, so for the same generator state both
    loaders give the same batches; augmentation runs on the device, after the read, as there.
    """

    def __init__(self, x, y: torch.Tensor, batch_size: int, *, shuffle: bool = True, drop_last: bool = False,
                 augment: Optional[Augment] = None, generator: Optional[torch.Generator] = None,
                 workers: Optional[int] = None, memory_format: torch.memory_format = torch.contiguous_format):
        super().__init__(x, y, batch_size, shuffle=shuffle, drop_last=drop_last, augment=augment, generator=generator)
        self.workers = DEFAULT_WORKERS if workers is None else workers
        self.memory_format = memory_format
        self.device = y.device

    def index_batches(self) -> list[torch.Tensor]:
        """This epoch's (B,) CPU index batches. DeviceLoader's iteration over index stand-ins draws
        them (indices, weights, shuffle, shard), advancing the shared generator just as it would."""
        plan = copy.copy(self)
        plan.x = plan.y = _Positions(len(self.x))
        plan.augment = None
        return [batch.idx.cpu() for batch in DeviceLoader.__iter__(plan)]

    def __iter__(self) -> Iterator[Batch]:
        batches = self.index_batches()  # in the main process, before any worker starts
        if not batches:
            return
        reader = DataLoader(_Rows(self.x), batch_sampler=OrderedBatches(batches), num_workers=self.workers,
                            collate_fn=_unchanged)
        for idx, x in reader:
            idx, x = torch.from_numpy(idx).to(self.device), torch.from_numpy(x).to(self.device)
            if x.ndim == 4:
                x = x.contiguous(memory_format=self.memory_format)
            if self.augment is not None:
                x = self.augment(x, self.generator)
            yield Batch(idx, x, self.y[idx])


def loader_like(loader: DeviceLoader, batch_size: int, *, drop_last: bool = False) -> DeviceLoader:
    """A loader of the same kind over the same data and generator, shuffled, without augmentation:
    the labeled/unlabeled loaders of the semi-supervised methods."""
    if isinstance(loader, StreamingLoader):
        return StreamingLoader(loader.x, loader.y, batch_size, drop_last=drop_last, generator=loader.generator,
                               workers=loader.workers, memory_format=loader.memory_format)
    return DeviceLoader(loader.x, loader.y, batch_size, drop_last=drop_last, generator=loader.generator)

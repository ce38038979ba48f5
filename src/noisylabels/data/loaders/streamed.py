"""The data sets ``data.streaming`` can leave on disk: arrays (a folder of ``.npy`` files) and
image lists. Same options and checks as their in-memory loaders; the features come back as
``StreamedFeatures`` (read on demand, standardised with the train split's statistics) and only
the labels are loaded.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Optional

import numpy as np

from ...errors import NoisyLabelsError
from ..dataset import Splits
from ..streaming import Moments, StreamedFeatures, standardise
from .common import DATASETS, PathLike, _check_features, _default_num_classes, _existing_path, _make_splits
from .frameworks import stream_hf, stream_torch
from .image_list import _list_file, _read_entries, decode_image
from .tabular import _check_keys, read_npy_folder

CHUNK_BYTES = 32 << 20  # rows read per step of a statistics pass
STATS_IMAGES = 4096  # images decoded for an image list's channel statistics (evenly spaced)


class NpyFeatures(StreamedFeatures):
    """Rows of a C-ordered ``.npy`` array. Contiguous rows (full passes, statistics) come from a
    plain file read, which leaves no mapped pages behind in this process; scattered rows (training
    batches) from a memmap that each process opens on first use."""

    def __init__(self, path: Path, array: np.ndarray, what: str):
        _check_features(array, what)
        if not array.flags.c_contiguous:
            raise NoisyLabelsError(f"{what} is stored in Fortran order; re-save it with "
                                   "np.save(path, np.ascontiguousarray(x)) so each row is one block on disk")
        super().__init__(len(array), (1, *array.shape[1:]) if array.ndim == 3 else array.shape[1:])
        self.path, self.offset, self.raw_dtype = str(path), array.offset, array.dtype
        self.scale = array.dtype == np.uint8 and array.ndim in (3, 4)  # pixels, as the in-memory loader
        self.mean = self.std = None  # set from the train split's statistics
        self._map = None

    def __getstate__(self) -> dict:
        return {**vars(self), "_map": None}  # a worker opens its own map

    def raw(self, rows: np.ndarray) -> np.ndarray:
        """(k, *row_shape) rows as stored."""
        if len(rows) and rows[-1] - rows[0] == len(rows) - 1 and (np.diff(rows) == 1).all():
            return self.raw_range(int(rows[0]), int(rows[-1]) + 1)
        if self._map is None:
            self._map = np.load(self.path, mmap_mode="r", allow_pickle=False)
        return np.asarray(self._map[rows]).reshape(len(rows), *self.row_shape)

    def raw_range(self, start: int, stop: int) -> np.ndarray:
        size = math.prod(self.row_shape)
        flat = np.fromfile(self.path, dtype=self.raw_dtype, count=(stop - start) * size,
                           offset=self.offset + start * size * self.raw_dtype.itemsize)
        return flat.reshape(stop - start, *self.row_shape)

    def _read(self, rows: np.ndarray) -> np.ndarray:
        return standardise(self.raw(rows), self.mean, self.std, self.scale)

    def moments(self) -> tuple[np.ndarray, np.ndarray]:
        """(mean, std) over every row, one chunk at a time; non-finite values are an error."""
        moments = Moments(self.path)
        step = max(1, CHUNK_BYTES // (math.prod(self.row_shape) * self.raw_dtype.itemsize))
        for start in range(0, self.num_rows, step):
            raw = self.raw_range(start, min(start + step, self.num_rows))
            moments.add(raw.astype(np.float32) / 255 if self.scale else raw)
        return moments.result(image=self.ndim == 4)


class ImageListFeatures(StreamedFeatures):
    """Images named in a list file, decoded and resized when read."""

    def __init__(self, files: list[Path], size: int, mode: str):
        super().__init__(len(files), (3 if mode == "RGB" else 1, size, size))
        # One fixed-width bytes array rather than a million Python strings: compact, and worker
        # processes share it without copying pages for reference counts.
        self.files = np.array([os.fsencode(f) for f in files])
        self.size, self.mode = size, mode
        self.mean = self.std = None

    def raw(self, rows: np.ndarray) -> np.ndarray:
        images = np.empty((len(rows), *self.row_shape), dtype=np.uint8)
        for i, row in enumerate(rows):
            images[i] = decode_image(os.fsdecode(self.files[row]), self.size, self.mode, "image_list")
        return images

    def _read(self, rows: np.ndarray) -> np.ndarray:
        return standardise(self.raw(rows), self.mean, self.std, scale=True)

    def moments(self, what: str) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel (mean, std) of all images, or of STATS_IMAGES evenly spaced ones when there
        are more: decoding a million images just for two numbers per channel would take hours."""
        rows = np.unique(np.linspace(0, self.num_rows - 1, min(self.num_rows, STATS_IMAGES)).round().astype(np.int64))
        moments = Moments(what)
        for start in range(0, len(rows), 256):
            moments.add(self.raw(rows[start:start + 256]).astype(np.float32) / 255)
        return moments.result(image=True)


def stream_arrays(path: Optional[PathLike] = None, num_classes: Optional[int] = None, **in_memory) -> Splits:
    """``arrays`` from a folder of ``.npy`` files (x.npy, y.npy; optional y_true.npy, x_test.npy,
    y_test.npy, y_test_true.npy) with the features memory-mapped."""
    if path is None or any(v is not None for v in in_memory.values()):
        raise NoisyLabelsError("data.streaming reads arrays from a folder of .npy files: pass path= a folder with "
                               "x.npy and y.npy (arrays already in memory need no streaming)")
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise NoisyLabelsError(f"data.streaming reads arrays from a folder of .npy files (x.npy, y.npy; optional "
                               f"y_true.npy, x_test.npy, y_test.npy, y_test_true.npy), and {folder} is not a folder; "
                               "save each array with np.save(folder / 'x.npy', x)")
    given = read_npy_folder(folder, mmap_features=True)
    _check_keys(given, str(folder))
    train_x = NpyFeatures(folder / "x.npy", given["x"], str(folder / "x.npy"))
    test_x = None
    if "x_test" in given:
        test_x = NpyFeatures(folder / "x_test.npy", given["x_test"], str(folder / "x_test.npy"))
        if test_x.row_shape != train_x.row_shape:
            raise NoisyLabelsError(f"{folder}: x_test rows have shape {test_x.row_shape} but x rows "
                                   f"{train_x.row_shape}; give both splits the same features")
    if num_classes is None:
        keys = ("y", "y_true", "y_test", "y_test_true")
        num_classes = _default_num_classes([given[k] for k in keys if k in given], str(folder))
    train_x.mean, train_x.std = train_x.moments()
    if test_x is not None:
        test_x.moments()  # only checks that every value is finite, as the in-memory loader does
        test_x.mean, test_x.std = train_x.mean, train_x.std
    return _make_splits(folder.stem, train_x, given["y"], test_x, given.get("y_test"), num_classes, None,
                        given.get("y_true"), given.get("y_test_true"))


def stream_image_list(path: Optional[PathLike] = None, root: Optional[PathLike] = None,
                      test_path: Optional[PathLike] = None, size: int = 32, mode: str = "RGB",
                      num_classes: Optional[int] = None) -> Splits:
    """``image_list`` with the images decoded when a batch is read."""
    list_file = _list_file(path)
    files, labels, _ = _read_entries(list_file, root)
    train_x, test_x, test_labels = ImageListFeatures(files, size, mode), None, None
    if test_path is not None:
        test_file = _existing_path(test_path, "test image list")
        test_files, test_labels, _ = _read_entries(test_file, root)
        test_x = ImageListFeatures(test_files, size, mode)
    if num_classes is None:
        num_classes = 1 + max(int(l.max()) for l in (labels, test_labels) if l is not None)
    train_x.mean, train_x.std = train_x.moments(str(list_file))
    if test_x is not None:
        test_x.mean, test_x.std = train_x.mean, train_x.std
    return _make_splits(list_file.stem, train_x, labels, test_x, test_labels, num_classes)


STREAMING = {"arrays": stream_arrays, "image_list": stream_image_list, "torch": stream_torch, "hf": stream_hf}


def load_streaming(name: str, path: Optional[PathLike] = None, **options) -> Splits:
    """``load_dataset`` for ``data.streaming``: the same options, the features left on disk."""
    DATASETS.get(name)  # an unknown name gets the registry's error, which lists the choices
    if name not in STREAMING:
        raise NoisyLabelsError(f"data.streaming reads the {', '.join(STREAMING)} data sets on demand; '{name}' "
                               "is loaded into memory: drop data.streaming (or save the data as a folder of .npy "
                               "files and use the arrays data set)")
    DATASETS.check_options(name, options, given=("path",))
    return STREAMING[name](path, **options)

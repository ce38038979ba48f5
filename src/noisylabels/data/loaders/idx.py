"""IDX files (the MNIST format) and the MNIST-style datasets built from them."""
from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path
from typing import Optional

import numpy as np

from ...errors import NoisyLabelsError
from ..dataset import Splits
from .common import DATASETS, PathLike, _make_splits, _one_line, _scaled_images, _standardize
from .digits import DIGIT_CLASSES
from .lookup import _existing_file, find_data_dir

FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]

# IDX type codes -> numpy dtypes; multi-byte values are big-endian in the file.
_IDX_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path: PathLike) -> np.ndarray:
    """Read an IDX file (plain or gzip-compressed, detected from its first bytes).

    Returns
    -------
    ndarray with the shape stored in the header (e.g. (N, 28, 28) images or (N,) labels),
    native byte order, writable.

    Raises
    ------
    NoisyLabelsError : missing file, bad magic number, unknown type code, or a length that does
        not match the header (truncated or corrupt download); the message names the file.
    """
    path = Path(path)

    def corrupt(problem: str) -> NoisyLabelsError:
        return NoisyLabelsError(f"{path}: {problem}; the file is truncated or corrupt, re-download or replace it")

    if not path.is_file():
        raise NoisyLabelsError(f"IDX file {path} not found; check the data folder")
    raw = path.read_bytes()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise corrupt(f"cannot decompress ({_one_line(exc)})") from None

    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise corrupt("bad magic number, not an IDX file")
    type_code, ndim = raw[2], raw[3]
    if type_code not in _IDX_DTYPES:
        raise corrupt(f"unknown IDX data type code 0x{type_code:02x}")
    if ndim == 0:
        raise corrupt("IDX header declares 0 dimensions")
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise corrupt("IDX header is cut short")
    shape = struct.unpack(f">{ndim}I", raw[4:header_len])
    dtype = np.dtype(_IDX_DTYPES[type_code])
    expected = header_len + math.prod(shape) * dtype.itemsize
    if len(raw) != expected:
        raise corrupt(f"{len(raw)} bytes where the header (shape {shape}) implies {expected}")
    data = np.frombuffer(raw, dtype=dtype, offset=header_len).reshape(shape)
    return data.astype(dtype.newbyteorder("="))  # astype copies: native order and writable


def _idx_names(stem: str) -> tuple[str, str]:
    return (stem, stem + ".gz")


_IDX_STEMS = {
    "train_x": "train-images-idx3-ubyte",
    "train_y": "train-labels-idx1-ubyte",
    "test_x": "t10k-images-idx3-ubyte",
    "test_y": "t10k-labels-idx1-ubyte",
}


def _load_idx_dataset(dataset_name: str, path, class_names: list[str]) -> Splits:
    """Shared by the MNIST-style datasets: four IDX files -> (N, 1, H, W) images, 10 classes."""
    required = [_idx_names(stem) for stem in _IDX_STEMS.values()]
    folder = find_data_dir(dataset_name, path, required)
    files = {role: _existing_file(folder, _idx_names(stem)) for role, stem in _IDX_STEMS.items()}
    arrays = {role: read_idx(f) for role, f in files.items()}

    for split in ("train", "test"):
        images, labels = arrays[f"{split}_x"], arrays[f"{split}_y"]
        x_file, y_file = files[f"{split}_x"], files[f"{split}_y"]
        if images.ndim != 3 or images.dtype != np.uint8:
            raise NoisyLabelsError(
                f"{x_file}: expected (N, H, W) unsigned-byte images, got {images.dtype} {images.shape}; "
                "re-download or replace it"
            )
        if labels.ndim != 1 or len(labels) != len(images):
            raise NoisyLabelsError(
                f"{y_file}: {labels.shape} labels for {len(images)} images in {x_file.name}; "
                "the files do not belong together, re-download or replace them"
            )
        if labels.dtype.kind not in "iu" or ((labels < 0) | (labels >= 10)).any():
            raise NoisyLabelsError(
                f"{y_file}: labels must be class indices 0..9, got {labels.dtype} values "
                f"{labels.min()}..{labels.max()}; the file is corrupt, re-download or replace it"
            )

    train_x, test_x = _standardize(
        _scaled_images(arrays["train_x"][:, None]), _scaled_images(arrays["test_x"][:, None])
    )
    return _make_splits(
        dataset_name, train_x, arrays["train_y"], test_x, arrays["test_y"], 10, class_names
    )


@DATASETS.register("fashion_mnist", constraints={})
def load_fashion_mnist(path: Optional[PathLike] = None) -> Splits:
    """Fashion-MNIST from IDX files: (60000, 1, 28, 28) train and (10000, 1, 28, 28) test, 10 classes."""
    return _load_idx_dataset("fashion_mnist", path, FASHION_MNIST_CLASSES)


@DATASETS.register("mnist", constraints={})
def load_mnist(path: Optional[PathLike] = None) -> Splits:
    """MNIST from IDX files: (60000, 1, 28, 28) train and (10000, 1, 28, 28) test, 10 classes."""
    return _load_idx_dataset("mnist", path, DIGIT_CLASSES)

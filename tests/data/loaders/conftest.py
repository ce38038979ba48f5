"""Fixtures shared by the dataset-loader tests.

Every test writes its own tiny files under tmp_path, so nothing needs downloading. The file
writers are fixtures (returning the helper function) so test modules need not import this file.
"""
import gzip
import os
import struct

import numpy as np
import pytest
import torch

from noisylabels.data.loaders import lookup

IDX_CODES = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C}


def _idx_bytes(array: np.ndarray) -> bytes:
    """IDX encoding: 0, 0, type code, ndim, big-endian uint32 dims, then big-endian data."""
    header = struct.pack(">BBBB", 0, 0, IDX_CODES[array.dtype], array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def _write_idx(path, array: np.ndarray, compress: bool) -> str:
    data = _idx_bytes(array)
    if compress:
        path = f"{path}.gz"
        data = gzip.compress(data)
    with open(path, "wb") as handle:
        handle.write(data)
    return str(path)


def _write_mnist_folder(folder, n_train=6, n_test=4, compress=True, fill=0):
    """The four MNIST-style files with ``n_train``/``n_test`` 28x28 images; labels cycle 0..9."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(fill)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        _write_idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte"), images, compress)
        _write_idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte"), labels, compress)
    return str(folder)


def _assert_standardised_per_channel(x: torch.Tensor):
    dims = (0, 2, 3) if x.ndim == 4 else (0,)
    assert torch.allclose(x.mean(dim=dims), torch.zeros(1), atol=1e-4)
    assert torch.allclose(x.std(dim=dims, unbiased=False), torch.ones(1), atol=1e-3)


@pytest.fixture
def idx_bytes():
    """``idx_bytes(array) -> bytes``: an array in IDX encoding (uint8 or big-endian int32)."""
    return _idx_bytes


@pytest.fixture
def write_idx():
    """``write_idx(path, array, compress) -> str``: an IDX file (``path.gz`` when compressed)."""
    return _write_idx


@pytest.fixture
def write_mnist_folder():
    """``write_mnist_folder(folder, n_train=6, n_test=4, compress=True, fill=0) -> str``."""
    return _write_mnist_folder


@pytest.fixture
def assert_standardised():
    """``assert_standardised(x)``: mean 0 and std 1 per channel (images) or column (vectors)."""
    return _assert_standardised_per_channel


@pytest.fixture
def no_data_sources(monkeypatch, tmp_path):
    """No environment variable and an empty system location, so lookups see only what a test adds."""
    monkeypatch.delenv(lookup.DATA_ENV_VAR, raising=False)
    empty = tmp_path / "system-empty"
    empty.mkdir()
    monkeypatch.setattr(lookup, "SYSTEM_DATA_DIRS", {"fashion_mnist": (str(empty),)})
    return empty

"""Dataset loaders: files on disk (or arrays in memory) -> standardised train/test ``Splits``.

Every loader is registered in ``DATASETS`` as ``fn(path=None, **options) -> Splits``; use
``load_dataset(name, path, **options)``, which also turns unknown option names into a clear error.

Features come out as float32: images (N, C, H, W) scaled to [0, 1] and then standardised per
channel, vectors (N, D) standardised per column. The statistics always come from the train split
and the same constants are applied to the test split, so nothing about the test set leaks in.

One module per concept: ``common`` (the registry, standardisation, shared helpers), ``lookup``
(finding data folders), and one per format: ``idx`` (MNIST, Fashion-MNIST), ``cifar``,
``tabular`` (arrays/.npz and CSV), ``image_list``, ``digits``, ``frameworks`` (torch and Hugging
Face dataset objects). Importing a format module is what
registers its loaders, hence the explicit imports below. ``streamed`` holds the variants of arrays
and image_list that ``data.streaming`` leaves on disk (``load_streaming``).

The constants re-exported here are the same objects as in their modules; to monkeypatch one,
patch its home module (e.g. ``lookup.SYSTEM_DATA_DIRS``), which is where the code reads it.
"""
from __future__ import annotations

from typing import Optional

from ..dataset import Splits
from . import cifar, digits, frameworks, idx, image_list, tabular  # noqa: F401  (registers the loaders)
from .cifar import load_cifar10, load_cifar100
from .common import DATASETS, PathLike
from .digits import DIGIT_CLASSES, load_digits
from .frameworks import load_hf, load_torch
from .idx import FASHION_MNIST_CLASSES, load_fashion_mnist, load_mnist, read_idx
from .image_list import load_image_list
from .lookup import DATA_ENV_VAR, DOWNLOAD_HINTS, SYSTEM_DATA_DIRS, find_data_dir
from .streamed import STREAMING, load_streaming
from .tabular import load_arrays, load_csv

__all__ = [
    "DATASETS",
    "DATA_ENV_VAR",
    "DIGIT_CLASSES",
    "DOWNLOAD_HINTS",
    "FASHION_MNIST_CLASSES",
    "SYSTEM_DATA_DIRS",
    "STREAMING",
    "PathLike",
    "find_data_dir",
    "load_arrays",
    "load_cifar10",
    "load_cifar100",
    "load_csv",
    "load_dataset",
    "load_digits",
    "load_hf",
    "load_fashion_mnist",
    "load_image_list",
    "load_mnist",
    "load_streaming",
    "load_torch",
    "read_idx",
]


def load_dataset(name: str, path: Optional[PathLike] = None, **options) -> Splits:
    """Load the registered dataset ``name``.

    Parameters
    ----------
    name : a name in ``DATASETS`` (unknown names raise the registry's error listing the choices).
    path : file or folder the loader reads; None lets folder-based loaders search for the data.
    **options : loader-specific keyword options; unknown names raise a NoisyLabelsError.

    Returns
    -------
    Splits with ``train`` and, when the source has one, ``test``.
    """
    DATASETS.check_options(name, options, given=("path",))
    return DATASETS.get(name)(path, **options)

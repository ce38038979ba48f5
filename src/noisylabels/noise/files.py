"""Reading label sets and transition matrices from files (.npy, .csv, .npz, .pt) for the
``matrix`` and ``file`` noise types; .pt files are unpickled without running pickled code."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import NoisyLabelsError


def load_array(path: Path, key: Optional[str], what: str) -> np.ndarray:
    """A numeric array from .npy, .csv (comma separated), .npz (entry ``key``) or .pt (dict entry ``key``)."""
    if not path.is_file():
        raise NoisyLabelsError(f"{what} file '{path}' not found; check the path")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            return np.load(path, allow_pickle=False)
        if suffix == ".csv":
            return np.loadtxt(path, delimiter=",", ndmin=1)
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                return np.asarray(_pick_entry(dict(archive), key, path))
        if suffix in (".pt", ".pth"):
            return _as_numpy(_pick_entry(_torch_load_safely(path), key, path))
    except NoisyLabelsError:
        raise
    except Exception as err:  # a corrupt or mis-typed file: name it instead of a parser traceback
        raise NoisyLabelsError(f"could not read {what} file '{path}': {err}".splitlines()[0]) from err
    raise NoisyLabelsError(f"{what} file '{path}' has an unsupported type; use .npy, .csv, .npz or .pt")


def _pick_entry(contents, key: Optional[str], path: Path):
    """contents[key] for a dict-like file; a lone entry needs no key; non-dicts are returned as they are."""
    if not isinstance(contents, dict):
        return contents
    available = ", ".join(map(str, contents)) or "none"
    if key is None:
        if len(contents) == 1:
            return next(iter(contents.values()))
        raise NoisyLabelsError(f"'{path}' holds several label sets; choose one with key=... (available: {available})")
    if key not in contents:
        raise NoisyLabelsError(f"key '{key}' not in '{path}'; available keys: {available}")
    return contents[key]


def _numpy_safe_globals() -> list:
    """What unpickling plain numpy arrays needs, named as numpy 2 and numpy 1 (CIFAR-N's files) write them."""
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct

    dtype_classes = [type(np.dtype(t)) for t in ("bool", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8")]
    return [
        (_reconstruct, "numpy._core.multiarray._reconstruct"),
        (_reconstruct, "numpy.core.multiarray._reconstruct"),
        np.ndarray,
        np.dtype,
        *dtype_classes,
    ]


def _torch_load_safely(path: Path):
    """torch.load with weights_only=True (never runs pickled code), allowing plain numpy arrays too.

    CIFAR-10N / CIFAR-100N ship dicts of numpy arrays, which weights_only refuses by default; rather
    than fall back to the unsafe loader, we allow only the numpy pieces that rebuild an array.
    """
    import pickle

    import torch

    try:
        with torch.serialization.safe_globals(_numpy_safe_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise NoisyLabelsError(
            f"'{path}' holds objects other than tensors, numpy arrays and plain containers, which are not "
            "unpickled for safety; save the labels as a tensor or numpy array (or as .npy)"
        ) from None


def _as_numpy(value) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor
        return value.detach().cpu().numpy()
    return np.asarray(value)

"""CIFAR-10 and CIFAR-100 from the python-version pickles, read with a restricted unpickler."""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Optional

import numpy as np

from ...errors import NoisyLabelsError
from ...options import Choice
from ..dataset import Splits
from .common import DATASETS, PathLike, _make_splits, _one_line, _scaled_images, _standardize
from .lookup import find_data_dir


class _ArrayUnpickler(pickle.Unpickler):
    """Loads only plain containers and numpy arrays: a pickle can run any code, so refuse the rest."""

    _NUMPY_NAMES = {"_reconstruct", "ndarray", "dtype", "_frombuffer", "scalar"}

    def find_class(self, module: str, name: str):
        allowed = (module.split(".")[0] == "numpy" and name in self._NUMPY_NAMES) or (
            module == "_codecs" and name == "encode"  # how protocol 2 stores bytes
        )
        if not allowed:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def _read_pickle_dict(file: Path, hint: str) -> dict:
    """A CIFAR pickle as a dict with str keys (the files use bytes keys)."""
    try:
        with open(file, "rb") as handle:
            content = _ArrayUnpickler(handle, encoding="bytes").load()
    except Exception as exc:  # unpickling bad bytes can raise nearly anything
        raise NoisyLabelsError(
            f"cannot read {file}: truncated or corrupt pickle ({_one_line(exc)}); {hint}"
        ) from None
    if not isinstance(content, dict):
        raise NoisyLabelsError(f"{file}: expected a pickled dict, got {type(content).__name__}; {hint}")
    return {k.decode("latin1") if isinstance(k, bytes) else str(k): v for k, v in content.items()}


def _cifar_batch(file: Path, label_key: str, hint: str, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR batch file -> uint8 images (N, 3, 32, 32) and labels (N,)."""
    batch = _read_pickle_dict(file, hint)
    for key in ("data", label_key):
        if key not in batch:
            raise NoisyLabelsError(
                f"{file}: no '{key}' entry (found: {', '.join(sorted(batch))}); not a CIFAR batch, {hint}"
            )
    data = np.asarray(batch["data"])
    try:
        labels = np.asarray(batch[label_key])
    except (ValueError, TypeError, OverflowError):  # ragged or huge entries
        labels = np.asarray(None)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or labels.shape != (len(data),):
        raise NoisyLabelsError(
            f"{file}: expected uint8 data (N, 3072) and N labels, got {data.dtype} {data.shape} and "
            f"{labels.shape} labels; {hint}"
        )
    if labels.dtype.kind not in "iu" or (len(labels) and ((labels < 0) | (labels >= num_classes)).any()):
        raise NoisyLabelsError(f"{file}: '{label_key}' must be class indices 0..{num_classes - 1}; {hint}")
    # Rows hold the red plane, then green, then blue, each 32x32 row-major: exactly (3, 32, 32).
    return data.reshape(-1, 3, 32, 32), labels


def _label_names(meta_file: Path, key: str, hint: str, num_classes: int) -> Optional[list[str]]:
    """Class names from a CIFAR meta file, or None when the file is absent."""
    if not meta_file.is_file():
        return None
    names = _read_pickle_dict(meta_file, hint).get(key)
    if names is None:
        return None
    if not isinstance(names, (list, tuple)) or len(names) != num_classes:
        raise NoisyLabelsError(f"{meta_file}: '{key}' must list {num_classes} class names; {hint}")
    return [n.decode("utf-8", errors="replace") if isinstance(n, bytes) else str(n) for n in names]


def _cifar_splits(name: str, train_parts, test_part, num_classes: int, class_names) -> Splits:
    train_images = np.concatenate([images for images, _ in train_parts])
    train_labels = np.concatenate([labels for _, labels in train_parts])
    test_images, test_labels = test_part
    train_x, test_x = _standardize(_scaled_images(train_images), _scaled_images(test_images))
    return _make_splits(name, train_x, train_labels, test_x, test_labels, num_classes, class_names)


@DATASETS.register("cifar10", constraints={})
def load_cifar10(path: Optional[PathLike] = None) -> Splits:
    """CIFAR-10 python pickles: (50000, 3, 32, 32) train and (10000, 3, 32, 32) test, 10 classes.

    ``path`` may be the ``cifar-10-batches-py`` folder or its parent.
    """
    batches = [f"data_batch_{i}" for i in range(1, 6)]
    folder = find_data_dir("cifar10", path, [*batches, "test_batch"], subdirs=("cifar-10-batches-py",))
    hint = "re-download and extract cifar-10-python.tar.gz"
    train_parts = [_cifar_batch(folder / b, "labels", hint, 10) for b in batches]
    test_part = _cifar_batch(folder / "test_batch", "labels", hint, 10)
    class_names = _label_names(folder / "batches.meta", "label_names", hint, 10)
    return _cifar_splits("cifar10", train_parts, test_part, 10, class_names)


@DATASETS.register("cifar100", constraints={"label_type": Choice("fine", "coarse")})
def load_cifar100(path: Optional[PathLike] = None, label_type: str = "fine") -> Splits:
    """CIFAR-100 python pickles: (50000, 3, 32, 32) train and (10000, 3, 32, 32) test.

    ``label_type`` is "fine" (100 classes) or "coarse" (20 superclasses). ``path`` may be the
    ``cifar-100-python`` folder or its parent.
    """
    folder = find_data_dir("cifar100", path, ["train", "test"], subdirs=("cifar-100-python",))
    hint = "re-download and extract cifar-100-python.tar.gz"
    label_key = f"{label_type}_labels"
    num_classes = 100 if label_type == "fine" else 20
    train_part = _cifar_batch(folder / "train", label_key, hint, num_classes)
    test_part = _cifar_batch(folder / "test", label_key, hint, num_classes)
    class_names = _label_names(folder / "meta", f"{label_type}_label_names", hint, num_classes)
    return _cifar_splits("cifar100", [train_part], test_part, num_classes, class_names)

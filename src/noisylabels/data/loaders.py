"""Dataset loaders: files on disk (or arrays in memory) -> standardised train/test ``Splits``.

Every loader is registered in ``DATASETS`` as ``fn(path=None, **options) -> Splits``; use
``load_dataset(name, path, **options)``, which also turns unknown option names into a clear error.

Features come out as float32: images (N, C, H, W) scaled to [0, 1] and then standardised per
channel, vectors (N, D) standardised per column. The statistics always come from the train split
and the same constants are applied to the test split, so nothing about the test set leaks in.
"""
from __future__ import annotations

import csv
import gzip
import math
import os
import pickle
import struct
import zlib
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import torch

from ..errors import NoisyLabelsError
from ..registry import Registry
from .dataset import LabeledData, Splits

DATASETS = Registry("dataset")

DATA_ENV_VAR = "NOISYLABELS_DATA"

# Where distribution packages install datasets; a module constant so tests can monkeypatch it.
SYSTEM_DATA_DIRS: dict[str, tuple[str, ...]] = {
    "fashion_mnist": ("/usr/share/datasets/fashion-mnist",),  # Debian: dataset-fashion-mnist
}

_WHERE_TO_POINT = f"pass --data-path DIR or set {DATA_ENV_VAR}=DIR"
DOWNLOAD_HINTS: dict[str, str] = {
    "fashion_mnist": (
        "install it with `apt-get install dataset-fashion-mnist`, or put the four Fashion-MNIST IDX files "
        f"(train-images-idx3-ubyte[.gz] etc.) in a folder and {_WHERE_TO_POINT}"
    ),
    "mnist": (
        "put the four MNIST IDX files (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], "
        f"t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]) in a folder and {_WHERE_TO_POINT}"
    ),
    "cifar10": (
        "download the CIFAR-10 python version (cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html), "
        f"extract it and {_WHERE_TO_POINT} (the cifar-10-batches-py folder or its parent)"
    ),
    "cifar100": (
        "download the CIFAR-100 python version (cifar-100-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html), "
        f"extract it and {_WHERE_TO_POINT} (the cifar-100-python folder or its parent)"
    ),
}

FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]
DIGIT_CLASSES = [str(d) for d in range(10)]

PathLike = Union[str, os.PathLike]


# --------------------------------------------------------------------------- public entry point


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


# --------------------------------------------------------------------------- finding data folders


def find_data_dir(
    dataset_name: str,
    path: Optional[PathLike],
    required_files: Sequence[Union[str, tuple[str, ...]]],
    subdirs: Sequence[str] = (),
) -> Path:
    """The folder holding all ``required_files`` for ``dataset_name``.

    Looks, in order, in: the explicit ``path``; ``$NOISYLABELS_DATA/<dataset_name>`` (also with
    ``-`` for ``_``) and ``$NOISYLABELS_DATA``; the system locations in ``SYSTEM_DATA_DIRS``.
    Each place is tried as-is and with each of ``subdirs`` appended (e.g. an archive's folder).

    Parameters
    ----------
    required_files : file names; an entry that is a tuple lists acceptable alternatives
        (e.g. plain or ``.gz``).
    subdirs : folder names the files may sit in below each place.

    Raises
    ------
    NoisyLabelsError : an explicit ``path`` that is missing or lacks the files (no fall-through,
        since the user asked for that folder), or nothing found anywhere; the message says
        where it looked and how to get the data.
    """
    hint = DOWNLOAD_HINTS.get(dataset_name, f"put the files in a folder and {_WHERE_TO_POINT}")
    if path is not None:
        root = Path(path).expanduser()
        if not root.exists():
            raise NoisyLabelsError(f"{dataset_name}: data path {root} does not exist; {hint}")
        if not root.is_dir():
            raise NoisyLabelsError(
                f"{dataset_name}: data path {root} is a file; pass the folder that holds "
                f"{_describe_files(required_files)}"
            )
        found = _dir_holding(root, required_files, subdirs)
        if found is None:
            closest = next((root / s for s in subdirs if (root / s).is_dir()), root)
            missing = [f for f in required_files if not _existing_file(closest, f)]
            raise NoisyLabelsError(f"{dataset_name}: {closest} lacks {_describe_files(missing)}; {hint}")
        return found

    candidates: list[Path] = []
    looked: list[str] = []
    env_value = os.environ.get(DATA_ENV_VAR)
    if env_value:
        base = Path(env_value).expanduser()
        for candidate in (base / dataset_name, base / dataset_name.replace("_", "-"), base):
            if candidate not in candidates:
                candidates.append(candidate)
    else:
        looked.append(f"${DATA_ENV_VAR} (not set)")
    candidates += [Path(p) for p in SYSTEM_DATA_DIRS.get(dataset_name, ())]

    for candidate in candidates:
        found = _dir_holding(candidate, required_files, subdirs)
        if found is not None:
            return found
        looked.append(str(candidate))
    raise NoisyLabelsError(f"{dataset_name} data not found (looked in: {', '.join(looked)}); {hint}")


def _alternatives(entry: Union[str, tuple[str, ...]]) -> tuple[str, ...]:
    return entry if isinstance(entry, tuple) else (entry,)


def _existing_file(folder: Path, entry: Union[str, tuple[str, ...]]) -> Optional[Path]:
    """The first alternative of ``entry`` present in ``folder``, or None."""
    for name in _alternatives(entry):
        if (folder / name).is_file():
            return folder / name
    return None


def _dir_holding(root: Path, required_files, subdirs: Sequence[str]) -> Optional[Path]:
    for folder in (root, *(root / s for s in subdirs)):
        if folder.is_dir() and all(_existing_file(folder, f) for f in required_files):
            return folder
    return None


def _describe_files(entries) -> str:
    return ", ".join(" or ".join(_alternatives(e)) for e in entries)


# --------------------------------------------------------------------------- IDX (MNIST format)

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

    train_x, test_x = _standardize(
        _scaled_images(arrays["train_x"][:, None]), _scaled_images(arrays["test_x"][:, None])
    )
    return _make_splits(
        dataset_name, train_x, arrays["train_y"], test_x, arrays["test_y"], 10, class_names
    )


@DATASETS.register("fashion_mnist")
def load_fashion_mnist(path: Optional[PathLike] = None) -> Splits:
    """Fashion-MNIST from IDX files: (60000, 1, 28, 28) train and (10000, 1, 28, 28) test, 10 classes."""
    return _load_idx_dataset("fashion_mnist", path, FASHION_MNIST_CLASSES)


@DATASETS.register("mnist")
def load_mnist(path: Optional[PathLike] = None) -> Splits:
    """MNIST from IDX files: (60000, 1, 28, 28) train and (10000, 1, 28, 28) test, 10 classes."""
    return _load_idx_dataset("mnist", path, DIGIT_CLASSES)


# --------------------------------------------------------------------------- CIFAR (python pickles)


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


def _cifar_batch(file: Path, label_key: str, hint: str) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR batch file -> uint8 images (N, 3, 32, 32) and labels (N,)."""
    batch = _read_pickle_dict(file, hint)
    for key in ("data", label_key):
        if key not in batch:
            raise NoisyLabelsError(
                f"{file}: no '{key}' entry (found: {', '.join(sorted(batch))}); not a CIFAR batch, {hint}"
            )
    data = np.asarray(batch["data"])
    labels = np.asarray(batch[label_key])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or labels.shape != (len(data),):
        raise NoisyLabelsError(
            f"{file}: expected uint8 data (N, 3072) and N labels, got {data.dtype} {data.shape} and "
            f"{labels.shape} labels; {hint}"
        )
    # Rows hold the red plane, then green, then blue, each 32x32 row-major: exactly (3, 32, 32).
    return data.reshape(-1, 3, 32, 32), labels


def _label_names(meta_file: Path, key: str, hint: str) -> Optional[list[str]]:
    """Class names from a CIFAR meta file, or None when the file is absent."""
    if not meta_file.is_file():
        return None
    names = _read_pickle_dict(meta_file, hint).get(key)
    if names is None:
        return None
    return [n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in names]


def _cifar_splits(name: str, train_parts, test_part, num_classes: int, class_names) -> Splits:
    train_images = np.concatenate([images for images, _ in train_parts])
    train_labels = np.concatenate([labels for _, labels in train_parts])
    test_images, test_labels = test_part
    train_x, test_x = _standardize(_scaled_images(train_images), _scaled_images(test_images))
    return _make_splits(name, train_x, train_labels, test_x, test_labels, num_classes, class_names)


@DATASETS.register("cifar10")
def load_cifar10(path: Optional[PathLike] = None) -> Splits:
    """CIFAR-10 python pickles: (50000, 3, 32, 32) train and (10000, 3, 32, 32) test, 10 classes.

    ``path`` may be the ``cifar-10-batches-py`` folder or its parent.
    """
    batches = [f"data_batch_{i}" for i in range(1, 6)]
    folder = find_data_dir("cifar10", path, [*batches, "test_batch"], subdirs=("cifar-10-batches-py",))
    hint = "re-download and extract cifar-10-python.tar.gz"
    train_parts = [_cifar_batch(folder / b, "labels", hint) for b in batches]
    test_part = _cifar_batch(folder / "test_batch", "labels", hint)
    class_names = _label_names(folder / "batches.meta", "label_names", hint)
    return _cifar_splits("cifar10", train_parts, test_part, 10, class_names)


@DATASETS.register("cifar100")
def load_cifar100(path: Optional[PathLike] = None, label_type: str = "fine") -> Splits:
    """CIFAR-100 python pickles: (50000, 3, 32, 32) train and (10000, 3, 32, 32) test.

    ``label_type`` is "fine" (100 classes) or "coarse" (20 superclasses). ``path`` may be the
    ``cifar-100-python`` folder or its parent.
    """
    if label_type not in ("fine", "coarse"):
        raise NoisyLabelsError(f"cifar100 label_type must be 'fine' or 'coarse', got {label_type!r}")
    folder = find_data_dir("cifar100", path, ["train", "test"], subdirs=("cifar-100-python",))
    hint = "re-download and extract cifar-100-python.tar.gz"
    label_key = f"{label_type}_labels"
    train_part = _cifar_batch(folder / "train", label_key, hint)
    test_part = _cifar_batch(folder / "test", label_key, hint)
    class_names = _label_names(folder / "meta", f"{label_type}_label_names", hint)
    num_classes = 100 if label_type == "fine" else 20
    return _cifar_splits("cifar100", [train_part], test_part, num_classes, class_names)


# --------------------------------------------------------------------------- arrays (.npz or in memory)


@DATASETS.register("arrays")
def load_arrays(
    path: Optional[PathLike] = None,
    x=None,
    y=None,
    y_true=None,
    x_test=None,
    y_test=None,
    y_test_true=None,
    num_classes: Optional[int] = None,
) -> Splits:
    """Features and labels from a ``.npz`` file (keys ``x``, ``y``; optional ``y_true``, ``x_test``,
    ``y_test``, ``y_test_true``) or from the same-named options in memory.

    Features may be (N, D) vectors, (N, H, W) or (N, C, H, W) images (uint8 images are scaled by
    1/255). ``num_classes`` defaults to the largest label over all splits + 1.
    """
    in_memory = {"x": x, "y": y, "y_true": y_true, "x_test": x_test, "y_test": y_test, "y_test_true": y_test_true}
    if path is not None:
        if any(v is not None for v in in_memory.values()):
            raise NoisyLabelsError("arrays: give either path= to a .npz file or x=/y= arrays, not both")
        source, given = str(path), _read_npz(Path(path).expanduser())
    elif x is not None and y is not None:
        source, given = "arrays", {k: _to_numpy(v) for k, v in in_memory.items() if v is not None}
    else:
        raise NoisyLabelsError("arrays: pass path= to a .npz file with keys x and y, or both x= and y= arrays")

    if ("x_test" in given) != ("y_test" in given):
        raise NoisyLabelsError(f"{source}: x_test and y_test come together; give both or neither")
    if "y_test_true" in given and "x_test" not in given:
        raise NoisyLabelsError(f"{source}: y_test_true needs x_test and y_test")

    train_x = _feature_tensor(given["x"], f"{source} x")
    test_x = None
    if "x_test" in given:
        test_x = _feature_tensor(given["x_test"], f"{source} x_test")
        if test_x.shape[1:] != train_x.shape[1:]:
            raise NoisyLabelsError(
                f"{source}: x_test rows have shape {tuple(test_x.shape[1:])} but x rows {tuple(train_x.shape[1:])}; "
                "give both splits the same features"
            )
    label_keys = ("y", "y_true", "y_test", "y_test_true")
    if num_classes is None:
        num_classes = _default_num_classes([given[k] for k in label_keys if k in given], source)
    train_x, test_x = _standardize(train_x, test_x)
    name = Path(path).stem if path is not None else "arrays"
    return _make_splits(
        name, train_x, given["y"], test_x, given.get("y_test"), num_classes, None,
        given.get("y_true"), given.get("y_test_true"),
    )


def _read_npz(file: Path) -> dict[str, np.ndarray]:
    if not file.is_file():
        raise NoisyLabelsError(f"arrays file {file} not found; check the path")
    if file.suffix != ".npz":
        raise NoisyLabelsError(
            f"arrays: {file} is not a .npz; save one with np.savez(path, x=features, y=labels)"
        )
    try:
        with np.load(file, allow_pickle=False) as archive:
            given = {key: archive[key] for key in archive.files}
    except Exception as exc:  # zip and format errors come in many types
        raise NoisyLabelsError(f"cannot read {file} ({_one_line(exc)}); re-save it with np.savez") from None
    for key in ("x", "y"):
        if key not in given:
            raise NoisyLabelsError(
                f"{file}: no '{key}' array (keys found: {', '.join(sorted(given)) or 'none'}); "
                "save with np.savez(path, x=features, y=labels)"
            )
    return given


def _to_numpy(values) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().numpy()
    return np.asarray(values)


def _feature_tensor(values: np.ndarray, what: str) -> torch.Tensor:
    """Numeric features -> float tensor: (N, D) vectors or (N, C, H, W) images."""
    if values.dtype.kind not in "iufb":
        raise NoisyLabelsError(f"{what} must be numeric, got dtype {values.dtype}; convert the features to numbers")
    if values.ndim == 3:
        values = values[:, None]  # (N, H, W) grayscale images get their channel axis
    if values.ndim not in (2, 4):
        raise NoisyLabelsError(
            f"{what} has shape {values.shape}; expected (N, D) vectors or (N, C, H, W) images"
        )
    if values.ndim == 4 and values.dtype == np.uint8:
        return _scaled_images(values)
    _check_finite(values, what)
    # Vectors keep float64 until standardised so large offsets lose no precision.
    return torch.from_numpy(np.ascontiguousarray(values, dtype=np.float64 if values.ndim == 2 else np.float32))


def _default_num_classes(label_arrays: list[np.ndarray], source: str) -> int:
    """Largest label over all splits + 1; bad labels are left for LabeledData to report."""
    largest = 0
    for labels in label_arrays:
        labels = np.asarray(labels)
        if labels.dtype.kind not in "iuf":
            raise NoisyLabelsError(f"{source}: labels must be integer class indices, got dtype {labels.dtype}")
        if labels.size and np.all(np.isfinite(labels)):
            largest = max(largest, int(labels.max()))
    return largest + 1


# --------------------------------------------------------------------------- CSV


@DATASETS.register("csv")
def load_csv(
    path: Optional[PathLike] = None,
    label_column: str = "label",
    true_label_column: Optional[str] = None,
    test_path: Optional[PathLike] = None,
    num_classes: Optional[int] = None,
) -> Splits:
    """A CSV with a header row: ``label_column`` (and optionally ``true_label_column``) hold labels,
    every other column is a numeric feature -> (N, D) vectors.

    Labels may be integer class indices or strings; strings are mapped to indices in sorted
    order and kept as ``class_names``. ``test_path`` is an optional CSV with the same columns.
    """
    if path is None:
        raise NoisyLabelsError("csv dataset needs a path; pass --data-path FILE.csv")
    train_file = _existing_path(path, "CSV file")
    columns, train_features, train_labels, train_truth = _read_csv(train_file, label_column, true_label_column)
    test = None
    if test_path is not None:
        test_file = _existing_path(test_path, "test CSV file")
        test = _read_csv(test_file, label_column, true_label_column, feature_columns=columns)[1:]

    label_groups = [train_labels, train_truth] + ([test[1], test[2]] if test else [])
    encoded, class_names = _encode_labels(label_groups)
    if num_classes is None:
        num_classes = len(class_names) if class_names else 1 + max(int(a.max()) for a in encoded if a is not None)
    train_x, test_x = _standardize(
        torch.from_numpy(train_features), None if test is None else torch.from_numpy(test[0])
    )
    return _make_splits(
        train_file.stem, train_x, encoded[0], test_x, encoded[2] if test else None,
        num_classes, class_names, encoded[1], encoded[3] if test else None,
    )


def _read_csv(file: Path, label_column: str, true_label_column: Optional[str], feature_columns=None):
    """-> (feature column names, features (N, D) float64, labels [str], true labels [str] or None)."""
    with open(file, newline="") as handle:
        reader = csv.reader(handle)
        header = [name.strip() for name in next(reader, [])]
        if not header:
            raise NoisyLabelsError(f"{file} is empty; it needs a header row and one row per sample")
        if len(set(header)) != len(header):
            repeated = sorted({h for h in header if header.count(h) > 1})
            raise NoisyLabelsError(f"{file}: column name(s) {', '.join(repeated)} repeated in the header; rename them")
        for option, column in (("label_column", label_column), ("true_label_column", true_label_column)):
            if column is not None and column not in header:
                raise NoisyLabelsError(
                    f"{file}: no column '{column}' (columns: {', '.join(header)}); set {option} to the right one"
                )
        names = [h for h in header if h not in (label_column, true_label_column)]
        if not names:
            raise NoisyLabelsError(f"{file}: no feature columns besides the labels")
        if feature_columns is not None and sorted(names) != sorted(feature_columns):
            raise NoisyLabelsError(
                f"{file}: feature columns {', '.join(names)} differ from the train file's {', '.join(feature_columns)}; "
                "give both files the same columns"
            )
        names = list(feature_columns) if feature_columns is not None else names  # train order
        feature_at = [header.index(n) for n in names]
        label_at = header.index(label_column)
        truth_at = header.index(true_label_column) if true_label_column is not None else None

        rows, labels, truths = [], [], []
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue  # blank line
            line = reader.line_num
            if len(cells) != len(header):
                raise NoisyLabelsError(f"{file} line {line}: {len(cells)} cells for {len(header)} columns; fix the row")
            rows.append(_parse_row(cells, feature_at, names, file, line))
            for column, at, out in ((label_column, label_at, labels), (true_label_column, truth_at, truths)):
                if at is None:
                    continue
                if not cells[at].strip():
                    raise NoisyLabelsError(f"{file} line {line}: empty '{column}' cell; every row needs a label")
                out.append(cells[at].strip())
    if not rows:
        raise NoisyLabelsError(f"{file} has a header but no data rows")
    return names, np.array(rows, dtype=np.float64), labels, (truths if truth_at is not None else None)


def _parse_row(cells: list[str], feature_at: list[int], names: list[str], file: Path, line: int) -> list[float]:
    values = []
    for at, name in zip(feature_at, names):
        try:
            value = float(cells[at])
        except ValueError:
            raise NoisyLabelsError(
                f"{file} line {line}, column '{name}': {cells[at]!r} is not a number; "
                "features must be numeric (encode or drop that column)"
            ) from None
        if not math.isfinite(value):
            raise NoisyLabelsError(f"{file} line {line}, column '{name}': {cells[at]!r} is not finite; impute or drop it")
        values.append(value)
    return values


def _encode_labels(groups: list[Optional[list[str]]]) -> tuple[list[Optional[np.ndarray]], Optional[list[str]]]:
    """Label strings -> int64 arrays. All integers: used as indices. Otherwise: sorted class names."""
    present = [g for g in groups if g is not None]
    if all(_is_int(v) for g in present for v in g):
        return [None if g is None else np.array([int(v) for v in g], dtype=np.int64) for g in groups], None
    class_names = sorted({v for g in present for v in g})
    index = {name: i for i, name in enumerate(class_names)}
    return [None if g is None else np.array([index[v] for v in g], dtype=np.int64) for g in groups], class_names


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- image lists


@DATASETS.register("image_list")
def load_image_list(
    path: Optional[PathLike] = None,
    root: Optional[PathLike] = None,
    test_path: Optional[PathLike] = None,
    size: int = 32,
    mode: str = "RGB",
    num_classes: Optional[int] = None,
) -> Splits:
    """Images named in a list file, one ``relative/path.png label`` per line (the Clothing1M /
    WebVision convention; blank lines and ``#`` comments are skipped).

    Paths are relative to ``root`` (default: the list file's folder). Images are decoded with
    Pillow, converted to ``mode`` ("RGB" or "L") and resized to ``size`` x ``size`` ->
    (N, 3 or 1, size, size). ``num_classes`` defaults to the largest label + 1.
    """
    if path is None:
        raise NoisyLabelsError("image_list dataset needs a path; pass --data-path LIST.txt")
    if mode not in ("RGB", "L"):
        raise NoisyLabelsError(f"image_list mode must be 'RGB' or 'L', got {mode!r}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise NoisyLabelsError(f"image_list size must be a positive integer, got {size!r}")

    list_file = _existing_path(path, "image list")
    train_images, train_labels = _read_image_list(list_file, root, size, mode)
    test_images = test_labels = None
    if test_path is not None:
        test_file = _existing_path(test_path, "test image list")
        test_images, test_labels = _read_image_list(test_file, root, size, mode)

    if num_classes is None:
        num_classes = 1 + max(int(l.max()) for l in (train_labels, test_labels) if l is not None)
    train_x, test_x = _standardize(
        _scaled_images(train_images), None if test_images is None else _scaled_images(test_images)
    )
    return _make_splits(list_file.stem, train_x, train_labels, test_x, test_labels, num_classes)


def _read_image_list(list_file: Path, root: Optional[PathLike], size: int, mode: str):
    """-> uint8 images (N, C, size, size) and int64 labels (N,)."""
    from PIL import Image  # imported here so the other loaders work without Pillow

    base = Path(root).expanduser() if root is not None else list_file.parent
    entries = []
    with open(list_file) as handle:
        for line_no, line in enumerate(handle, start=1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            parts = text.rsplit(maxsplit=1)  # the path itself may contain spaces
            if len(parts) != 2 or not _is_int(parts[1]):
                raise NoisyLabelsError(
                    f"{list_file} line {line_no}: expected '<image path> <integer label>', got {text!r}"
                )
            entries.append((line_no, base / parts[0], int(parts[1])))
    if not entries:
        raise NoisyLabelsError(f"{list_file} lists no images; add '<image path> <label>' lines")

    channels = 3 if mode == "RGB" else 1
    images = np.empty((len(entries), channels, size, size), dtype=np.uint8)
    for i, (line_no, image_file, _) in enumerate(entries):
        if not image_file.is_file():
            raise NoisyLabelsError(
                f"{list_file} line {line_no}: image {image_file} not found; fix the path or set root= "
                "to the folder the paths are relative to"
            )
        try:
            with Image.open(image_file) as image:
                pixels = np.asarray(image.convert(mode).resize((size, size), Image.BILINEAR), dtype=np.uint8)
        except (OSError, ValueError) as exc:  # UnidentifiedImageError is an OSError
            raise NoisyLabelsError(
                f"{list_file} line {line_no}: cannot decode {image_file} ({_one_line(exc)}); replace or drop it"
            ) from None
        images[i] = pixels.transpose(2, 0, 1) if mode == "RGB" else pixels[None]
    labels = np.array([label for _, _, label in entries], dtype=np.int64)
    return images, labels


# --------------------------------------------------------------------------- scikit-learn digits


@DATASETS.register("digits")
def load_digits(path: Optional[PathLike] = None) -> Splits:
    """scikit-learn's bundled 8x8 digits (1797 images, no download): (N, 1, 8, 8), 10 classes.

    A stratified 80/20 train/test split with a fixed seed, so every call gives the same split.
    """
    if path is not None:
        raise NoisyLabelsError("digits ships with scikit-learn and reads no files; drop --data-path")
    from sklearn.datasets import load_digits as sklearn_digits
    from sklearn.model_selection import train_test_split

    bunch = sklearn_digits()
    images = (bunch.images / 16.0).astype(np.float32)[:, None]  # pixel values are 0..16
    train_images, test_images, train_labels, test_labels = train_test_split(
        images, bunch.target, test_size=0.2, stratify=bunch.target, random_state=0
    )
    train_x, test_x = _standardize(torch.from_numpy(train_images), torch.from_numpy(test_images))
    return _make_splits("digits", train_x, train_labels, test_x, test_labels, 10, DIGIT_CLASSES)


# --------------------------------------------------------------------------- shared helpers


def _scaled_images(images: np.ndarray) -> torch.Tensor:
    """uint8 images (N, C, H, W) -> float32 in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).float().div_(255.0)


def _standardize(
    train: torch.Tensor, test: Optional[torch.Tensor]
) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
    """Standardise with the train split's statistics, applied to both splits.

    Images (N, C, H, W): per channel over samples and pixels. Vectors (N, D): per column.
    A constant channel or column (std 0) is only centred. Returns float32 tensors.
    """
    dims = (0, 2, 3) if train.ndim == 4 else (0,)
    variance, mean = torch.var_mean(train, dim=dims, correction=0, keepdim=True)
    constant = train.amax(dim=dims, keepdim=True) == train.amin(dim=dims, keepdim=True)
    std = variance.sqrt().masked_fill(constant, 1.0)  # exact test: rounding can leave variance > 0

    def apply(x: torch.Tensor) -> torch.Tensor:
        return (x - mean).div_(std).float()  # in place after the one copy: image sets are large

    return apply(train), None if test is None else apply(test)


def _check_finite(values: np.ndarray, what: str) -> None:
    """Reject NaN/inf before standardising, which would otherwise smear them over a whole column."""
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        bad_rows = np.flatnonzero(~np.isfinite(values.reshape(len(values), -1)).all(axis=1))
        raise NoisyLabelsError(
            f"{what} contains NaN or inf in {len(bad_rows)} rows (first: row {bad_rows[0]}); impute or drop them"
        )


def _make_splits(
    name: str,
    train_x: torch.Tensor,
    train_labels,
    test_x: Optional[torch.Tensor],
    test_labels,
    num_classes: int,
    class_names: Optional[list[str]] = None,
    train_truth=None,
    test_truth=None,
) -> Splits:
    train = LabeledData(train_x, train_labels, num_classes, train_truth, name, class_names)
    test = None
    if test_x is not None:
        test = LabeledData(test_x, test_labels, num_classes, test_truth, name, class_names)
    return Splits(train, test)


def _existing_path(path: PathLike, what: str) -> Path:
    file = Path(path).expanduser()
    if not file.is_file():
        raise NoisyLabelsError(f"{what} {file} not found; check the path")
    return file


def _one_line(exc: BaseException) -> str:
    """An exception's message squeezed onto one line for our one-line errors."""
    return " ".join(str(exc).split()) or type(exc).__name__

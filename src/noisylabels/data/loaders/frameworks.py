"""Data sets users already hold as objects: any map-style ``torch.utils.data.Dataset`` of
``(x, y)`` items (``torch``) and a Hugging Face ``datasets.Dataset`` (``hf``).

Both come out as the other loaders' ``Splits`` (features standardised with the train split's
statistics), so every method, ``train(config, splits)`` and ``detect(config, ..., splits=splits)``
run on them. ``load_streaming("torch" | "hf", dataset=...)`` leaves the features in the dataset and
reads each batch's rows when it is drawn, for data sets larger than memory.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ...errors import NoisyLabelsError
from ...options import Type
from ..dataset import Splits
from ..streaming import Moments, StreamedFeatures, standardise
from .common import (DATASETS, NUM_CLASSES, PathLike, _check_features, _default_num_classes, _feature_tensor,
                     _make_splits, _one_line, _standardize, _to_numpy)

DATASET = Type(object, name="a dataset object")
STATS_ROWS = 4096  # rows read for a streamed data set's standardisation statistics (evenly spaced)


# --------------------------------------------------------------------------- reading one item


def as_feature_array(value, what: str) -> np.ndarray:
    """One sample's features -> a numeric array: tensors and arrays as they are, a PIL image as
    (C, H, W) uint8 (channels first, as the models expect), a list of numbers as a vector."""
    if hasattr(value, "getbands") and hasattr(value, "size"):  # a PIL image; no PIL import needed
        array = np.asarray(value)
        return array[None] if array.ndim == 2 else np.ascontiguousarray(array.transpose(2, 0, 1))
    try:
        array = _to_numpy(value)
    except Exception as exc:  # whatever np.asarray chokes on
        raise NoisyLabelsError(f"{what}: cannot turn a {type(value).__name__} into numbers ({_one_line(exc)}); "
                               "return tensors, arrays or PIL images") from None
    if array.dtype == object or array.dtype.kind not in "iufb":
        raise NoisyLabelsError(f"{what}: features of dtype {array.dtype} are not numbers; return tensors, arrays "
                               "or PIL images (tokenise text first)")
    return array


def as_label(value, what: str) -> int:
    array = _to_numpy(value)
    whole = array.size == 1 and (array.dtype.kind in "iu" or (array.dtype.kind == "f" and
                                                             float(array.reshape(-1)[0]).is_integer()))
    if not whole:
        raise NoisyLabelsError(f"{what}: a label must be one integer class index, got {value!r}")
    return int(array.reshape(-1)[0])


def _stack(rows: list[np.ndarray], what: str) -> np.ndarray:
    shapes = {row.shape for row in rows}
    if len(shapes) > 1:
        raise NoisyLabelsError(f"{what}: samples have different shapes ({', '.join(map(str, sorted(shapes)[:3]))}); "
                               "resize them to one shape first")
    return np.stack(rows)


# --------------------------------------------------------------------------- torch datasets


def _torch_item(dataset, index: int, what: str):
    try:
        item = dataset[index]
    except Exception as exc:  # the user's __getitem__ may raise anything
        raise NoisyLabelsError(f"{what}[{index}] failed ({type(exc).__name__}: {_one_line(exc)}); fix the dataset "
                               "or pass a different one") from None
    if not isinstance(item, (tuple, list)) or len(item) < 2:
        raise NoisyLabelsError(f"{what}[{index}] is a {type(item).__name__}, not an (x, y) pair; return (features, "
                               "label) from __getitem__")
    return item[0], item[1]


def _check_map_style(dataset, what: str) -> int:
    if dataset is None:
        raise NoisyLabelsError(f"the torch data set needs {what}=: a map-style torch Dataset of (x, y) items")
    if not (hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")):
        raise NoisyLabelsError(f"{what} is a {type(dataset).__name__} without __getitem__ and __len__; pass a "
                               "map-style dataset (an IterableDataset has no sample indices)")
    if len(dataset) == 0:
        raise NoisyLabelsError(f"{what} is empty")
    return len(dataset)


def _torch_labels(dataset, size: int, what: str) -> np.ndarray:
    """All labels; a torchvision-style ``targets`` attribute saves decoding every sample."""
    targets = getattr(dataset, "targets", None)
    if targets is not None and len(targets) == size:
        return np.array([as_label(t, f"{what}.targets") for t in targets], dtype=np.int64)
    return np.array([as_label(_torch_item(dataset, i, what)[1], f"{what}[{i}]") for i in range(size)],
                    dtype=np.int64)


def _read_torch(dataset, what: str) -> tuple[np.ndarray, np.ndarray]:
    size = _check_map_style(dataset, what)
    xs, ys = [], []
    for i in range(size):
        x, y = _torch_item(dataset, i, what)
        xs.append(as_feature_array(x, f"{what}[{i}]"))
        ys.append(as_label(y, f"{what}[{i}]"))
    return _stack(xs, what), np.array(ys, dtype=np.int64)


def _class_names(dataset) -> Optional[list[str]]:
    names = getattr(dataset, "classes", None)
    return [str(n) for n in names] if isinstance(names, (list, tuple)) and names else None


@DATASETS.register("torch", constraints={"dataset": DATASET, "test_dataset": [DATASET, None],
                                         "num_classes": NUM_CLASSES})
def load_torch(path: Optional[PathLike] = None, dataset=None, test_dataset=None,
               num_classes: Optional[int] = None) -> Splits:
    """A map-style ``torch.utils.data.Dataset`` whose items are ``(x, y)`` (more entries are
    ignored): x a tensor, array or PIL image of one shape for every sample, y an integer class.

    ``test_dataset``: an optional test split of the same form. ``num_classes`` defaults to
    ``len(dataset.classes)`` where the dataset has that list (torchvision's convention), else the
    largest label + 1. Every sample is read once, into memory; for larger data use
    ``load_streaming("torch", dataset=...)``.
    """
    _no_path(path, "torch")
    train_x, train_y = _read_torch(dataset, "dataset")
    test = None if test_dataset is None else _read_torch(test_dataset, "test_dataset")
    return _in_memory_splits("torch", train_x, train_y, test, num_classes, _class_names(dataset))


# --------------------------------------------------------------------------- Hugging Face datasets


def _check_hf(dataset, image_column: str, label_column: str, what: str) -> int:
    if dataset is None:
        raise NoisyLabelsError(f"the hf data set needs {what}=: a datasets.Dataset (e.g. load_dataset(...)['train'])")
    columns = getattr(dataset, "column_names", None)
    if isinstance(columns, dict):  # a DatasetDict
        raise NoisyLabelsError(f"{what} is a DatasetDict with splits {', '.join(columns)}; pass one split, e.g. "
                               f"dataset=d['train'], test_dataset=d['test']")
    if not isinstance(columns, list) or not hasattr(dataset, "__getitem__"):
        raise NoisyLabelsError(f"{what} is a {type(dataset).__name__}, not a datasets.Dataset")
    for option, column in (("image_column", image_column), ("label_column", label_column)):
        if column not in columns:
            raise NoisyLabelsError(f"{what} has no column '{column}' (columns: {', '.join(columns)}); set {option}")
    if len(dataset) == 0:
        raise NoisyLabelsError(f"{what} is empty")
    return len(dataset)


def _hf_rows(dataset, rows, column: str, what: str) -> np.ndarray:
    values = dataset[rows][column]  # a batch of rows -> {column: [values]}
    return _stack([as_feature_array(v, f"{what} column '{column}'") for v in values], what)


def _hf_labels(dataset, label_column: str, what: str) -> np.ndarray:
    return np.array([as_label(v, f"{what} column '{label_column}'") for v in dataset[label_column]], dtype=np.int64)


def _hf_class_names(dataset, label_column: str) -> Optional[list[str]]:
    names = getattr(getattr(dataset, "features", {}).get(label_column), "names", None)  # a ClassLabel
    return list(names) if names else None


def _read_hf(dataset, image_column: str, label_column: str, what: str) -> tuple[np.ndarray, np.ndarray]:
    size = _check_hf(dataset, image_column, label_column, what)
    return _hf_rows(dataset, slice(0, size), image_column, what), _hf_labels(dataset, label_column, what)


@DATASETS.register("hf", constraints={"dataset": DATASET, "test_dataset": [DATASET, None],
                                      "image_column": Type(str), "label_column": Type(str),
                                      "num_classes": NUM_CLASSES})
def load_hf(path: Optional[PathLike] = None, dataset=None, test_dataset=None, image_column: str = "image",
            label_column: str = "label", num_classes: Optional[int] = None) -> Splits:
    """A Hugging Face ``datasets.Dataset``: features from ``image_column`` (PIL images, arrays or
    lists of numbers, one shape for every row; the name is the convention, a feature-vector column
    works too) and integer labels from ``label_column``.

    A ``ClassLabel`` label column gives ``num_classes`` and the class names. ``test_dataset``: an
    optional test split with the same columns. For data larger than memory use
    ``load_streaming("hf", dataset=...)``.
    """
    _no_path(path, "hf")
    train_x, train_y = _read_hf(dataset, image_column, label_column, "dataset")
    test = None if test_dataset is None else _read_hf(test_dataset, image_column, label_column, "test_dataset")
    if num_classes is None and _hf_class_names(dataset, label_column):
        num_classes = len(_hf_class_names(dataset, label_column))
    return _in_memory_splits("hf", train_x, train_y, test, num_classes, _hf_class_names(dataset, label_column))


# --------------------------------------------------------------------------- shared


def _no_path(path, name: str) -> None:
    if path is not None:
        raise NoisyLabelsError(f"the {name} data set reads the dataset= object, not a path; drop path=")


def _in_memory_splits(name: str, train_x: np.ndarray, train_y: np.ndarray, test, num_classes, class_names) -> Splits:
    x = _feature_tensor(train_x, f"{name} dataset features")
    test_x = None if test is None else _feature_tensor(test[0], f"{name} test_dataset features")
    if test_x is not None and test_x.shape[1:] != x.shape[1:]:
        raise NoisyLabelsError(f"{name}: test_dataset samples have shape {tuple(test_x.shape[1:])} but dataset "
                               f"samples {tuple(x.shape[1:])}; give both splits the same features")
    if num_classes is None:
        num_classes = len(class_names) if class_names else _default_num_classes(
            [train_y] + ([] if test is None else [test[1]]), name)
    x, test_x = _standardize(x, test_x)
    return _make_splits(name, x, train_y, test_x, None if test is None else test[1], num_classes, class_names)


# --------------------------------------------------------------------------- streamed


class ObjectFeatures(StreamedFeatures):
    """Rows read from a dataset object on demand, standardised with statistics of up to
    ``STATS_ROWS`` evenly spaced training rows. ``read_rows(rows) -> (k, *shape)`` numeric array."""

    def __init__(self, read_rows, size: int, what: str):
        first = read_rows(np.array([0]))
        _check_features(first, what)
        shape = first.shape[1:]
        super().__init__(size, (1, *shape) if len(shape) == 2 else shape)  # (H, W) images get a channel
        self.read_rows, self.what = read_rows, what
        self.scale = first.dtype == np.uint8 and len(self.row_shape) == 3  # pixels, as in memory
        self.mean = self.std = None

    def _read(self, rows: np.ndarray) -> np.ndarray:
        raw = self.read_rows(rows)
        if raw.shape[1:] != self.row_shape:
            raw = raw.reshape(len(rows), *self.row_shape)
        return standardise(raw, self.mean, self.std, self.scale)

    def moments(self) -> tuple[np.ndarray, np.ndarray]:
        rows = np.unique(np.linspace(0, self.num_rows - 1, min(self.num_rows, STATS_ROWS)).round().astype(np.int64))
        moments = Moments(self.what)
        for start in range(0, len(rows), 256):
            raw = self.read_rows(rows[start:start + 256]).reshape(-1, *self.row_shape)
            moments.add(raw.astype(np.float32) / 255 if self.scale else raw)
        return moments.result(image=len(self.row_shape) == 3)


class _TorchRows:
    """Picklable reader of a torch dataset's feature rows (worker processes get a copy)."""

    def __init__(self, dataset, what: str):
        self.dataset, self.what = dataset, what

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        return _stack([as_feature_array(_torch_item(self.dataset, int(i), self.what)[0], f"{self.what}[{i}]")
                       for i in rows], self.what)


class _HfRows:
    def __init__(self, dataset, column: str, what: str):
        self.dataset, self.column, self.what = dataset, column, what

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        return _hf_rows(self.dataset, [int(i) for i in rows], self.column, self.what)


def _streamed_splits(name, train, test, num_classes, class_names) -> Splits:
    (train_x, train_y), test_x = train, None if test is None else test[0]
    if test_x is not None and test_x.row_shape != train_x.row_shape:
        raise NoisyLabelsError(f"{name}: test_dataset samples have shape {test_x.row_shape} but dataset samples "
                               f"{train_x.row_shape}; give both splits the same features")
    if num_classes is None:
        num_classes = len(class_names) if class_names else _default_num_classes(
            [train_y] + ([] if test is None else [test[1]]), name)
    train_x.mean, train_x.std = train_x.moments()
    if test_x is not None:
        test_x.mean, test_x.std = train_x.mean, train_x.std
    return _make_splits(name, train_x, train_y, test_x, None if test is None else test[1], num_classes, class_names)


def stream_torch(path: Optional[PathLike] = None, dataset=None, test_dataset=None,
                 num_classes: Optional[int] = None) -> Splits:
    """``torch`` with the features read from the dataset when a batch is drawn (the labels are
    read once, from ``dataset.targets`` where it exists)."""
    _no_path(path, "torch")

    def split(data, what):
        size = _check_map_style(data, what)
        return ObjectFeatures(_TorchRows(data, what), size, what), _torch_labels(data, size, what)

    test = None if test_dataset is None else split(test_dataset, "test_dataset")
    return _streamed_splits("torch", split(dataset, "dataset"), test, num_classes, _class_names(dataset))


def stream_hf(path: Optional[PathLike] = None, dataset=None, test_dataset=None, image_column: str = "image",
              label_column: str = "label", num_classes: Optional[int] = None) -> Splits:
    """``hf`` with the feature column read (and images decoded) when a batch is drawn."""
    _no_path(path, "hf")

    def split(data, what):
        size = _check_hf(data, image_column, label_column, what)
        return ObjectFeatures(_HfRows(data, image_column, what), size, what), _hf_labels(data, label_column, what)

    names = _hf_class_names(dataset, label_column)
    test = None if test_dataset is None else split(test_dataset, "test_dataset")
    return _streamed_splits("hf", split(dataset, "dataset"), test, num_classes, names)

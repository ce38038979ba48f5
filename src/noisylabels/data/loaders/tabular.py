"""Tabular features: arrays (a ``.npz`` file or arrays in memory) and CSV files."""
from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ...errors import NoisyLabelsError
from ...options import PATH, Type
from ..dataset import Splits
from .common import (
    DATASETS,
    NUM_CLASSES,
    PathLike,
    _default_num_classes,
    _existing_path,
    _feature_tensor,
    _is_int,
    _make_splits,
    _one_line,
    _standardize,
    _to_numpy,
)


# --------------------------------------------------------------------------- arrays (.npz or in memory)


ARRAY = Type(object, name="an array")  # anything np.asarray reads; None: not given


@DATASETS.register("arrays", constraints={"x": ARRAY, "y": ARRAY, "y_true": ARRAY, "x_test": ARRAY, "y_test": ARRAY,
                                          "y_test_true": ARRAY, "num_classes": NUM_CLASSES})
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
    ``y_test``, ``y_test_true``), from a folder of ``.npy`` files named by the same keys (``x.npy``,
    ``y.npy``, ...; the form ``data.streaming`` reads from disk) or from the same-named options in
    memory.

    Features may be (N, D) vectors, (N, H, W) or (N, C, H, W) images (uint8 images are scaled by
    1/255). ``num_classes`` defaults to the largest label over all splits + 1.
    """
    in_memory = {"x": x, "y": y, "y_true": y_true, "x_test": x_test, "y_test": y_test, "y_test_true": y_test_true}
    if path is not None:
        if any(v is not None for v in in_memory.values()):
            raise NoisyLabelsError("arrays: give either path= to a .npz file or x=/y= arrays, not both")
        source, given = str(path), _read_arrays(Path(path).expanduser())
    elif x is not None and y is not None:
        source, given = "arrays", {k: _to_numpy(v) for k, v in in_memory.items() if v is not None}
    else:
        raise NoisyLabelsError("arrays: pass path= to a .npz file with keys x and y, or both x= and y= arrays")
    _check_keys(given, source)

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


ARRAY_KEYS = ("x", "y", "y_true", "x_test", "y_test", "y_test_true")


def _check_keys(given: dict, source: str) -> None:
    if ("x_test" in given) != ("y_test" in given):
        raise NoisyLabelsError(f"{source}: x_test and y_test come together; give both or neither")
    if "y_test_true" in given and "x_test" not in given:
        raise NoisyLabelsError(f"{source}: y_test_true needs x_test and y_test")


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    return read_npy_folder(path) if path.is_dir() else _read_npz(path)


def read_npy_folder(folder: Path, mmap_features: bool = False) -> dict[str, np.ndarray]:
    """The arrays saved as ``<key>.npy`` in ``folder`` for the keys in ``ARRAY_KEYS`` (x and y
    required); ``mmap_features``: x and x_test as read-only memmaps, read only when indexed."""
    given = {}
    for key in ARRAY_KEYS:
        file = folder / f"{key}.npy"
        if file.is_file():
            mode = "r" if mmap_features and key.startswith("x") else None
            try:
                given[key] = np.load(file, mmap_mode=mode, allow_pickle=False)
            except Exception as exc:  # format errors come in many types
                raise NoisyLabelsError(f"cannot read {file} ({_one_line(exc)}); re-save it with np.save") from None
    for key in ("x", "y"):
        if key not in given:
            found = ", ".join(sorted(f.name for f in folder.glob("*.npy"))) or "none"
            raise NoisyLabelsError(f"{folder}: no {key}.npy (.npy files found: {found}); save each array with "
                                   f"np.save(folder / '{key}.npy', array)")
    return given


def _read_npz(file: Path) -> dict[str, np.ndarray]:
    if not file.is_file():
        raise NoisyLabelsError(f"arrays file {file} not found; check the path")
    if file.suffix != ".npz":
        raise NoisyLabelsError(
            f"arrays: {file} is not a .npz; save one with np.savez(path, x=features, y=labels) "
            "(or pass a folder of x.npy, y.npy, ...)"
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


# --------------------------------------------------------------------------- CSV


FRAME = Type(object, name="a pandas DataFrame")


@DATASETS.register("csv", constraints={"label_column": Type(str), "true_label_column": [Type(str), None],
                                       "test_path": [PATH, None], "num_classes": NUM_CLASSES,
                                       "frame": [FRAME, None], "test_frame": [FRAME, None]})
def load_csv(
    path: Optional[PathLike] = None,
    label_column: str = "label",
    true_label_column: Optional[str] = None,
    test_path: Optional[PathLike] = None,
    num_classes: Optional[int] = None,
    frame=None,
    test_frame=None,
) -> Splits:
    """A CSV with a header row: ``label_column`` (and optionally ``true_label_column``) hold labels,
    every other column is a numeric feature -> (N, D) vectors.

    Labels may be integer class indices or strings; strings are mapped to indices in sorted
    order and kept as ``class_names``. ``test_path`` is an optional CSV with the same columns.
    ``frame`` (and ``test_frame``): a pandas DataFrame with the same layout instead of a file.
    """
    if frame is not None or test_frame is not None:
        if path is not None or test_path is not None or frame is None:
            raise NoisyLabelsError("csv: give frame= (and optionally test_frame=) or a path (and test_path), not both")
        columns, train_features, train_labels, train_truth = _read_frame(frame, label_column, true_label_column)
        test = None if test_frame is None else _read_frame(test_frame, label_column, true_label_column, columns)[1:]
        name = "dataframe"
    else:
        if path is None:
            raise NoisyLabelsError("csv dataset needs a path; pass --data-path FILE.csv")
        train_file = _existing_path(path, "CSV file")
        columns, train_features, train_labels, train_truth = _read_csv(train_file, label_column, true_label_column)
        test = None
        if test_path is not None:
            test_file = _existing_path(test_path, "test CSV file")
            test = _read_csv(test_file, label_column, true_label_column, feature_columns=columns)[1:]
        name = train_file.stem

    label_groups = [train_labels, train_truth] + ([test[1], test[2]] if test else [])
    encoded, class_names = _encode_labels(label_groups)
    if num_classes is None:
        num_classes = len(class_names) if class_names else 1 + max(int(a.max()) for a in encoded if a is not None)
    train_x, test_x = _standardize(
        torch.from_numpy(train_features), None if test is None else torch.from_numpy(test[0])
    )
    return _make_splits(
        name, train_x, encoded[0], test_x, encoded[2] if test else None,
        num_classes, class_names, encoded[1], encoded[3] if test else None,
    )


def _read_frame(frame, label_column: str, true_label_column: Optional[str], feature_columns=None):
    """A DataFrame -> what ``_read_csv`` returns: the same checks, the same label encoding."""
    what = "frame" if feature_columns is None else "test_frame"
    if not (hasattr(frame, "columns") and hasattr(frame, "to_numpy")):
        raise NoisyLabelsError(f"csv: {what} is a {type(frame).__name__}, not a pandas DataFrame")
    header = [str(c) for c in frame.columns]
    if len(set(header)) != len(header):
        raise NoisyLabelsError(f"{what}: repeated column names; rename them")
    for option, column in (("label_column", label_column), ("true_label_column", true_label_column)):
        if column is not None and column not in header:
            raise NoisyLabelsError(f"{what}: no column '{column}' (columns: {', '.join(header)}); set {option}")
    names = feature_columns if feature_columns is not None else [h for h in header
                                                                 if h not in (label_column, true_label_column)]
    if not names:
        raise NoisyLabelsError(f"{what}: no feature columns besides the labels")
    if sorted(names) != sorted(h for h in header if h not in (label_column, true_label_column)):
        raise NoisyLabelsError(f"{what}: feature columns differ from the train frame's {', '.join(names)}; "
                               "give both frames the same columns")
    if len(frame) == 0:
        raise NoisyLabelsError(f"{what} has no rows")
    by_name = dict(zip(header, frame.columns))
    try:
        features = frame[[by_name[n] for n in names]].to_numpy(dtype=np.float64, copy=True)
    except (TypeError, ValueError):
        raise NoisyLabelsError(f"{what}: features must be numeric (encode or drop the non-numeric columns)") from None
    if not np.isfinite(features).all():
        row = int(np.flatnonzero(~np.isfinite(features).all(1))[0])
        raise NoisyLabelsError(f"{what} row {row}: a feature is NaN or infinite; impute or drop it")

    def labels(column):
        if column is None:
            return None
        values = frame[by_name[column]]
        if values.isna().any():
            raise NoisyLabelsError(f"{what}: empty '{column}' value in row {int(np.flatnonzero(values.isna())[0])}; "
                                   "every row needs a label")
        # whole floats (a label column with a gap reads as float) are class indices, not names
        return [str(int(v)) if isinstance(v, float) and v.is_integer() else str(v) for v in values.tolist()]

    return names, features, labels(label_column), labels(true_label_column)


def _read_csv(file: Path, label_column: str, true_label_column: Optional[str], feature_columns=None):
    """-> (feature column names, features (N, D) float64, labels [str], true labels [str] or None)."""
    try:
        return _parse_csv(file, label_column, true_label_column, feature_columns)
    except (UnicodeDecodeError, csv.Error) as exc:  # binary or corrupt bytes, a NUL, a runaway quote
        raise NoisyLabelsError(
            f"cannot read {file} as CSV text ({_one_line(exc)}); save it as a UTF-8 CSV with a header row"
        ) from None


def _parse_csv(file: Path, label_column: str, true_label_column: Optional[str], feature_columns=None):
    with open(file, newline="", encoding="utf-8") as handle:
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

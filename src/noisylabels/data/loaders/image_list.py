"""Images named in a list file (``relative/path.png label`` per line), decoded with Pillow."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from ...errors import NoisyLabelsError
from ...options import PATH, Choice, Integral, Interval
from ..dataset import Splits
from .common import (
    DATASETS,
    NUM_CLASSES,
    PathLike,
    _existing_path,
    _is_int,
    _make_splits,
    _one_line,
    _scaled_images,
    _standardize,
)


# Shared with the streamed variant (streamed.py), which takes the same options.
OPTIONS = {"root": [PATH, None], "test_path": [PATH, None], "size": Interval(Integral, 1, None),
           "mode": Choice("RGB", "L"), "num_classes": NUM_CLASSES}


@DATASETS.register("image_list", constraints=OPTIONS)
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
    list_file = _list_file(path)
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


def _list_file(path: Optional[PathLike]) -> Path:
    """The list file, which must exist (the registry has checked the other options)."""
    if path is None:
        raise NoisyLabelsError("image_list dataset needs a path; pass --data-path LIST.txt")
    return _existing_path(path, "image list")


def _read_image_list(list_file: Path, root: Optional[PathLike], size: int, mode: str):
    """-> uint8 images (N, C, size, size) and int64 labels (N,)."""
    files, labels, lines = _read_entries(list_file, root)
    channels = 3 if mode == "RGB" else 1
    images = np.empty((len(files), channels, size, size), dtype=np.uint8)
    for i, (image_file, line_no) in enumerate(zip(files, lines)):
        images[i] = decode_image(image_file, size, mode, f"{list_file} line {line_no}")
    return images, labels


def _read_entries(list_file: Path, root: Optional[PathLike]) -> tuple[list[Path], np.ndarray, list[int]]:
    """-> image files (each checked to exist), int64 labels (N,) and the list file's line numbers."""
    base = Path(root).expanduser() if root is not None else list_file.parent
    entries = []
    try:
        with open(list_file, encoding="utf-8") as handle:
            lines = handle.readlines()
    except UnicodeDecodeError as exc:
        raise NoisyLabelsError(f"cannot read {list_file} as text ({_one_line(exc)}); it must be UTF-8 text, "
                               "one '<image path> <label>' per line") from None
    for line_no, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        parts = text.rsplit(maxsplit=1)  # the path itself may contain spaces
        if len(parts) != 2 or not _is_int(parts[1]):
            raise NoisyLabelsError(
                f"{list_file} line {line_no}: expected '<image path> <integer label>', got {text!r}"
            )
        label = int(parts[1])
        if not 0 <= label < 2**31:
            raise NoisyLabelsError(f"{list_file} line {line_no}: label {label} is not a class index 0, 1, 2, ...")
        entries.append((line_no, base / parts[0], label))
    if not entries:
        raise NoisyLabelsError(f"{list_file} lists no images; add '<image path> <label>' lines")
    for line_no, image_file, _ in entries:
        if not image_file.is_file():
            raise NoisyLabelsError(
                f"{list_file} line {line_no}: image {image_file} not found; fix the path or set root= "
                "to the folder the paths are relative to"
            )
    labels = np.array([label for _, _, label in entries], dtype=np.int64)
    return [f for _, f, _ in entries], labels, [line_no for line_no, _, _ in entries]


def decode_image(image_file, size: int, mode: str, where: str) -> np.ndarray:
    """One image file -> uint8 (C, size, size); ``where`` starts the error message."""
    from PIL import Image  # imported here so the other loaders work without Pillow

    try:
        with Image.open(image_file) as image:
            pixels = np.asarray(image.convert(mode).resize((size, size), Image.BILINEAR), dtype=np.uint8)
    except Exception as exc:  # Pillow's decoders raise OSError, ValueError, DecompressionBombError, TypeError, ...
        raise NoisyLabelsError(f"{where}: cannot decode {image_file} ({_one_line(exc)}); replace or drop it") from None
    return pixels.transpose(2, 0, 1) if mode == "RGB" else pixels[None]

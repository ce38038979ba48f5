"""Images named in a list file (``relative/path.png label`` per line), decoded with Pillow."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from ...errors import NoisyLabelsError
from ..dataset import Splits
from .common import (
    DATASETS,
    PathLike,
    _existing_path,
    _is_int,
    _make_splits,
    _one_line,
    _scaled_images,
    _standardize,
)


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

"""scikit-learn's bundled 8x8 digits, and the digit class names MNIST shares."""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from ...errors import NoisyLabelsError
from ..dataset import Splits
from .common import DATASETS, PathLike, _make_splits, _standardize

DIGIT_CLASSES = [str(d) for d in range(10)]


@DATASETS.register("digits", constraints={})
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

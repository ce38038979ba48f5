"""From a config to the splits a run trains on: load, hold out the test split, subsample, apply label
noise, hold out the (noisy) validation split."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..config import Config
from ..errors import NoisyLabelsError
from ..noise import make_noise, noise_summary
from .dataset import LabeledData, Splits
from .loaders import load_dataset, load_streaming
from .streaming import StreamedFeatures
from .split import stratified_split, stratified_subset


@dataclass
class PreparedData:
    train: LabeledData  # observed (possibly noisy) labels; true_labels set when known
    test: LabeledData
    val: Optional[LabeledData]
    noise: dict  # noise summary (JSON-friendly); empty when the truth is unknown
    transition: Optional[np.ndarray]  # the (C, C) transition matrix the generator used


def prepare_data(config: Config, splits: Optional[Splits] = None) -> PreparedData:
    """Everything here is seeded by ``config.run.seed``; the same config gives the same data."""
    d, noise, seed = config.data, config.noise, config.run.seed
    if splits is None:
        load = load_streaming if d.streaming else load_dataset
        splits = load(d.name, d.path, **d.options)
    train, test = splits.train, splits.test
    if test is None:
        kept, held = stratified_split(train.labels.numpy(), d.test_fraction, seed)
        train, test = train.subset(kept), train.subset(held)
    if d.subset:
        train = train.subset(stratified_subset(train.labels.numpy(), d.subset, seed))
    if d.test_subset:
        test = test.subset(stratified_subset(test.labels.numpy(), d.test_subset, seed))
    # Noise first, hold-out second: the validation labels are the noisy labels a user would hold,
    # and a file of noisy labels matches the whole training pool.
    transition = None
    if noise.type != "none":
        train, transition = _apply_noise(train, config, seed)
    val = None
    if d.val_fraction > 0:
        train, val = _hold_out(train, d.val_fraction, seed)
    summary = {}
    if train.true_labels is not None:
        summary = noise_summary(train.true_labels.numpy(), train.labels.numpy(), train.num_classes, transition)
        summary["type"], summary["requested_rate"] = noise.type, noise.rate
    return PreparedData(train, test, val, summary, transition)


def _hold_out(train: LabeledData, fraction: float, seed: int) -> tuple[LabeledData, LabeledData]:
    """(train, val), stratified on the observed labels; the true labels go along when known."""
    try:
        kept, held = stratified_split(train.labels.numpy(), fraction, seed)
    except NoisyLabelsError:
        raise NoisyLabelsError(f"data.val_fraction {fraction} of {len(train)} training samples leaves the "
                               "validation split or the training split empty; change it, or set "
                               "data.val_fraction: 0 to train without a validation split") from None
    return train.subset(kept), train.subset(held)


def _apply_noise(split: LabeledData, config: Config, seed: int) -> tuple[LabeledData, np.ndarray]:
    noise = config.noise
    clean = split.true_labels if split.true_labels is not None else split.labels
    streamed = isinstance(split.x, StreamedFeatures)
    if streamed and noise.type == "instance":
        raise NoisyLabelsError("instance noise reads every training feature at once; it is not available with "
                               "data.streaming (drop one of the two, or apply the noise offline with noise.type file)")
    noisy, transition = make_noise(noise.type, clean.numpy(), split.num_classes, noise.rate, seed=seed,
                                   features=None if streamed else split.x.numpy(), **noise.options)
    return split.with_labels(noisy), transition

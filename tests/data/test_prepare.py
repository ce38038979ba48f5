"""The splits a run trains on: by default a validation split with the labels as the user has them."""
import numpy as np
import pytest
import torch

from noisylabels import Config, NoisyLabelsError
from noisylabels.data import Splits, stratified_split
from noisylabels.data.prepare import prepare_data


def config(noise="symmetric", rate=0.4, **data) -> Config:
    return Config.from_dict({"data": {"name": "arrays", **data}, "noise": {"type": noise, "rate": rate}})


def test_a_noisy_run_holds_out_a_noisy_validation_split_by_default(make_blobs):
    splits = Splits(make_blobs(3000), make_blobs(90, seed=1))
    data = prepare_data(config(), splits)
    val = data.val
    assert len(val) + len(data.train) == 3000 and abs(len(val) - 300) <= 2  # rounded per observed class
    # The validation labels are noisy at about the noise rate; the truth stays for val_clean_acc.
    assert abs((val.labels != val.true_labels).float().mean().item() - 0.4) < 0.1
    # Noise first, hold-out second: the same noisy labels as the whole pool without a hold-out,
    # and the split is stratified on those observed labels.
    pool = prepare_data(config(val_fraction=0), splits)
    assert pool.val is None and len(pool.train) == 3000
    kept, held = stratified_split(pool.train.labels.numpy(), 0.1, seed=0)
    assert torch.equal(pool.train.labels[held], val.labels) and torch.equal(pool.train.labels[kept],
                                                                           data.train.labels)
    assert torch.equal(pool.train.true_labels[held], val.true_labels)


def test_clean_labels_are_held_out_as_they_are(make_blobs):
    train = make_blobs(300)
    data = prepare_data(config(noise="none", rate=0.0), Splits(train, make_blobs(90, seed=1)))
    assert len(data.val) == 30 and data.val.true_labels is None  # the user's labels, truth unknown
    assert np.bincount(data.val.labels.numpy()).tolist() == [10, 10, 10]
    assert data.noise == {}


def test_test_fraction_comes_first_and_is_unchanged(make_blobs):
    splits = Splits(make_blobs(1200))  # no test split: data.test_fraction holds one out first
    with_val, without = prepare_data(config(), splits), prepare_data(config(val_fraction=0), splits)
    assert torch.equal(with_val.test.x, without.test.x) and len(with_val.test) == 240
    assert len(with_val.train) + len(with_val.val) == len(without.train) == 960


def test_a_split_that_leaves_a_side_empty_says_what_to_change(make_blobs):
    with pytest.raises(NoisyLabelsError, match="data.val_fraction 0.1 of 6 training samples.*data.val_fraction: 0"):
        prepare_data(config(), Splits(make_blobs(6), make_blobs(6, seed=1)))

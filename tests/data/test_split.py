import numpy as np
import pytest

from noisylabels.data import stratified_split, stratified_subset
from noisylabels.errors import NoisyLabelsError


def test_split_is_stratified_seeded_and_a_partition():
    labels = np.repeat(np.arange(4), [100, 200, 300, 400])
    kept, held = stratified_split(labels, 0.1, seed=3)
    assert np.array_equal(np.sort(np.concatenate([kept, held])), np.arange(1000))
    assert np.bincount(labels[held]).tolist() == [10, 20, 30, 40]
    assert np.array_equal(held, stratified_split(labels, 0.1, seed=3)[1])
    assert not np.array_equal(held, stratified_split(labels, 0.1, seed=4)[1])


def test_subset_keeps_class_proportions():
    labels = np.repeat(np.arange(2), [300, 700])
    chosen = stratified_subset(labels, 100, seed=0)
    assert len(chosen) == 100 and np.bincount(labels[chosen]).tolist() == [30, 70]
    assert len(stratified_subset(labels, 5000, seed=0)) == 1000


def test_bad_fraction():
    with pytest.raises(NoisyLabelsError, match=r"in \(0, 1\)"):
        stratified_split(np.zeros(10), 1.0, seed=0)

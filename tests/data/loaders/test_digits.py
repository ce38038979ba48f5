"""scikit-learn's bundled digits."""
import torch

from noisylabels.data.loaders import load_dataset


def test_digits_shapes_standardised_and_deterministic(assert_standardised):
    splits = load_dataset("digits")
    assert splits.train.x.shape == (1437, 1, 8, 8) and splits.test.x.shape == (360, 1, 8, 8)
    assert splits.train.num_classes == 10 and splits.train.class_names == [str(d) for d in range(10)]
    assert_standardised(splits.train.x)
    assert torch.bincount(splits.test.labels, minlength=10).min() >= 35  # stratified: ~36 per class
    again = load_dataset("digits")
    assert torch.equal(again.train.x, splits.train.x) and torch.equal(again.test.labels, splits.test.labels)

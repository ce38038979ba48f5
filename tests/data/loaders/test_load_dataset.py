"""The entry point: option checking and unknown dataset names."""
import pytest

from noisylabels.data.loaders import DATASETS, load_dataset
from noisylabels.errors import NoisyLabelsError


def test_unknown_option_lists_accepted_ones():
    with pytest.raises(NoisyLabelsError, match=r"dataset 'csv' has no option colour; accepted: label_column"):
        load_dataset("csv", "x.csv", colour="red")
    with pytest.raises(NoisyLabelsError, match="accepted: none"):
        load_dataset("digits", size=3)


def test_unknown_dataset_uses_registry_error():
    with pytest.raises(NoisyLabelsError, match="unknown dataset 'imagenet'.*fashion_mnist"):
        load_dataset("imagenet")
    expected = {"fashion_mnist", "mnist", "cifar10", "cifar100", "arrays", "csv", "image_list", "digits"}
    assert expected <= set(DATASETS.names())

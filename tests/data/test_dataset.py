import numpy as np
import pytest
import torch

from noisylabels.data import LabeledData
from noisylabels.errors import NoisyLabelsError


def test_container_holds_labels_and_truth():
    data = LabeledData(np.zeros((4, 2)), [0, 1, 2, 1], 3)
    assert len(data) == 4 and data.in_shape == (2,) and data.x.dtype == torch.float32
    noisy = data.with_labels([1, 1, 2, 0])
    assert noisy.labels.tolist() == [1, 1, 2, 0] and noisy.true_labels.tolist() == [0, 1, 2, 1]
    part = noisy.subset([3, 0])
    assert part.labels.tolist() == [0, 1] and part.true_labels.tolist() == [1, 0]


@pytest.mark.parametrize("x, y, c, message", [
    (np.zeros(4), [0, 1, 0, 1], 2, "shape"),
    (np.zeros((4, 2)), [0, 1, 0], 2, "3 labels for 4 feature rows"),
    (np.zeros((4, 2)), [0, 1, 2, 1], 2, r"contain 2, outside \[0, 2\)"),
    (np.zeros((4, 2)), [0, -1, 0, 1], 2, "contain -1"),
    (np.zeros((4, 2)), [[0], [1], [0], [1]], 2, "1-D array"),
    (np.zeros((4, 2)), [0.5, 1, 0, 1], 2, "whole numbers"),
    (np.array([[0, 1], [np.nan, 0], [0, 0], [1, 1]]), [0, 1, 0, 1], 2, "NaN or inf in 1 rows"),
    (np.zeros((4, 2)), [0, 0, 0, 0], 1, "at least 2 classes"),
])
def test_bad_input_gets_a_clear_error(x, y, c, message):
    with pytest.raises(NoisyLabelsError, match=message):
        LabeledData(x, y, c)

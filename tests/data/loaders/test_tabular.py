"""Tabular loaders: arrays (.npz or in memory) and CSV files, and train-only standardisation."""
import csv

import numpy as np
import pandas
import pytest
import torch

from noisylabels.data.loaders import load_dataset
from noisylabels.errors import NoisyLabelsError

# --------------------------------------------------------------------------- arrays


def test_arrays_from_npz(tmp_path, assert_standardised):
    rng = np.random.default_rng(0)
    path = tmp_path / "toy.npz"
    np.savez(
        path, x=rng.normal(5, 3, size=(20, 4)), y=np.arange(20) % 3, y_true=np.zeros(20, int),
        x_test=rng.normal(size=(6, 4)), y_test=np.full(6, 4), y_test_true=np.arange(6) % 2,
    )
    splits = load_dataset("arrays", path)
    assert splits.train.num_classes == 5  # max label 4 (in y_test) + 1
    assert splits.train.x.shape == (20, 4) and splits.train.x.dtype == torch.float32
    assert splits.train.true_labels.tolist() == [0] * 20
    assert splits.test.true_labels.tolist() == [0, 1, 0, 1, 0, 1]
    assert splits.train.name == "toy"
    assert_standardised(splits.train.x)


def test_arrays_npz_missing_key_names_keys_found(tmp_path):
    np.savez(tmp_path / "bad.npz", features=np.zeros((3, 2)), y=np.zeros(3))
    with pytest.raises(NoisyLabelsError, match=r"no 'x'.*keys found: features, y"):
        load_dataset("arrays", tmp_path / "bad.npz")


def test_arrays_in_memory_images_and_vectors(assert_standardised):
    images = np.random.default_rng(1).integers(0, 256, size=(8, 3, 5, 5), dtype=np.uint8)
    splits = load_dataset("arrays", x=images, y=np.arange(8) % 2, num_classes=4)
    assert splits.train.x.shape == (8, 3, 5, 5) and splits.test is None
    assert splits.train.num_classes == 4
    assert_standardised(splits.train.x)
    vectors = load_dataset("arrays", x=torch.ones(4, 2), y=torch.tensor([0, 1, 0, 1]))
    assert torch.equal(vectors.train.x, torch.zeros(4, 2))  # constant column: std 0 -> 1
    with pytest.raises(NoisyLabelsError, match="x_test and y_test"):
        load_dataset("arrays", x=np.ones((2, 2)), y=[0, 1], x_test=np.ones((2, 2)))
    with pytest.raises(NoisyLabelsError, match="NaN"):
        load_dataset("arrays", x=np.array([[0.0], [np.nan]]), y=[0, 1])


def test_standardisation_uses_train_statistics_for_test():
    x = np.array([[0.0, 10.0], [2.0, 30.0]])  # column means 1, 20; stds 1, 10
    x_test = np.array([[4.0, 20.0]])
    splits = load_dataset("arrays", x=x, y=[0, 1], x_test=x_test, y_test=[1])
    assert splits.train.x.tolist() == [[-1.0, -1.0], [1.0, 1.0]]
    assert splits.test.x.tolist() == [[3.0, 0.0]]


# --------------------------------------------------------------------------- CSV


def write_csv(path, rows):
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def test_csv_string_labels_and_test_file(tmp_path):
    train = write_csv(tmp_path / "train.csv", [
        ["f1", "label", "f2", "clean"], [1, "dog", 2, "dog"], [3, "cat", 4, "cat"], [5, "dog", 6, "cat"],
    ])
    # The test file may order its columns differently; they are matched by name.
    test = write_csv(tmp_path / "test.csv", [["f2", "f1", "label", "clean"], [8, 7, "bird", "bird"]])
    splits = load_dataset("csv", train, test_path=test, true_label_column="clean")
    assert splits.train.class_names == ["bird", "cat", "dog"] and splits.train.num_classes == 3
    assert splits.train.labels.tolist() == [2, 1, 2] and splits.train.true_labels.tolist() == [2, 1, 1]
    assert splits.test.labels.tolist() == [0]
    assert splits.train.x.shape == (3, 2)
    # f1 train mean 3, std sqrt(8/3): the test row's 7 becomes (7 - 3) / std.
    assert splits.test.x[0, 0].item() == pytest.approx(4 / np.sqrt(8 / 3), rel=1e-6)


def test_csv_integer_labels(tmp_path):
    path = write_csv(tmp_path / "ints.csv", [["a", "y"], [0.5, 0], [1.5, 3]])
    splits = load_dataset("csv", path, label_column="y")
    assert splits.train.num_classes == 4 and splits.train.class_names is None


def test_csv_errors_name_row_and_column(tmp_path):
    bad = write_csv(tmp_path / "bad.csv", [["f1", "f2", "label"], [1, 2, 0], [3, "oops", 1]])
    with pytest.raises(NoisyLabelsError, match=r"line 3, column 'f2'.*'oops'"):
        load_dataset("csv", bad)
    with pytest.raises(NoisyLabelsError, match=r"no column 'target'.*f1, f2, label"):
        load_dataset("csv", bad, label_column="target")


def test_csv_frame_equals_the_file(tmp_path):
    rows = [["f1", "label", "f2", "clean"], [1, "dog", 2, "dog"], [3, "cat", 4, "cat"], [5, "dog", 6, "cat"]]
    from_file = load_dataset("csv", write_csv(tmp_path / "train.csv", rows), true_label_column="clean")
    frame = pandas.DataFrame(rows[1:], columns=rows[0])
    test = pandas.DataFrame({"f2": [8], "f1": [7], "label": ["bird"], "clean": ["bird"]})
    from_frame = load_dataset("csv", frame=frame, test_frame=test, true_label_column="clean")
    assert torch.equal(from_frame.train.x, from_file.train.x) and from_frame.train.class_names == ["bird", "cat", "dog"]
    assert from_frame.train.labels.tolist() == [2, 1, 2] and from_frame.train.true_labels.tolist() == [2, 1, 1]
    assert from_frame.test.labels.tolist() == [0]
    # integer (or whole float) labels are class indices, as in a file
    numbers = load_dataset("csv", frame=pandas.DataFrame({"a": [0.5, 1.5], "y": [0.0, 3.0]}), label_column="y")
    assert numbers.train.num_classes == 4 and numbers.train.labels.tolist() == [0, 3]


def test_csv_frame_errors_are_one_line(tmp_path):
    good = pandas.DataFrame({"a": [1.0, 2.0], "label": [0, 1]})
    cases = [
        ({"frame": good, "test_frame": pandas.DataFrame({"b": [1.0], "label": [0]})}, "feature columns differ"),
        ({"frame": pandas.DataFrame({"a": [1.0, None], "label": [0, 1]})}, "row 1: a feature is NaN"),
        ({"frame": pandas.DataFrame({"a": ["x", "y"], "label": [0, 1]})}, "features must be numeric"),
        ({"frame": pandas.DataFrame({"a": [1.0, 2.0], "label": [0, None]})}, "every row needs a label"),
        ({"frame": good, "label_column": "y"}, "no column 'y'"),
        ({"frame": [[1, 0]]}, "not a pandas DataFrame"),
        ({"frame": good.iloc[:0]}, "has no rows"),
        ({"test_frame": good}, "not both"),
    ]
    for options, message in cases:
        with pytest.raises(NoisyLabelsError, match=message) as error:
            load_dataset("csv", **options)
        assert "\n" not in str(error.value)
    with pytest.raises(NoisyLabelsError, match="not both"):
        load_dataset("csv", write_csv(tmp_path / "t.csv", [["a", "label"], [1, 0]]), frame=good)

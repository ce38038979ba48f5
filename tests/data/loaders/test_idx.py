"""IDX reader and the MNIST-style datasets (fashion_mnist, mnist)."""
import gzip

import numpy as np
import pytest
import torch

from noisylabels.data.loaders import load_dataset, read_idx
from noisylabels.errors import NoisyLabelsError

# --------------------------------------------------------------------------- IDX reader


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_round_trip(tmp_path, write_idx, compress):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    wide = np.array([1, -2, 70000], dtype=">i4")
    got_images = read_idx(write_idx(tmp_path / "images", images, compress))
    got_wide = read_idx(write_idx(tmp_path / "wide", wide, compress))
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_wide, [1, -2, 70000])
    assert got_wide.dtype.isnative and got_images.flags.writeable


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_truncated_file_names_file_and_fix(tmp_path, idx_bytes, compress):
    data = idx_bytes(np.zeros((3, 28, 28), dtype=np.uint8))[:-10]
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(gzip.compress(data) if compress else data)
    with pytest.raises(NoisyLabelsError, match="train-images-idx3-ubyte.*re-download"):
        read_idx(path)


def test_read_idx_trailing_bytes(tmp_path, idx_bytes):
    path = tmp_path / "labels"
    path.write_bytes(idx_bytes(np.zeros(5, dtype=np.uint8)) + b"\x00")
    with pytest.raises(NoisyLabelsError, match="header"):
        read_idx(path)


def test_read_idx_cut_gzip_stream(tmp_path, idx_bytes):
    path = tmp_path / "labels.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros(500, dtype=np.uint8)))[:-20])
    with pytest.raises(NoisyLabelsError, match="labels.gz.*re-download"):
        read_idx(path)


def test_read_idx_bad_magic_and_type_code(tmp_path, idx_bytes):
    good = idx_bytes(np.zeros(4, dtype=np.uint8))
    (tmp_path / "magic").write_bytes(b"\x01" + good[1:])
    (tmp_path / "code").write_bytes(good[:2] + b"\x42" + good[3:])
    with pytest.raises(NoisyLabelsError, match="magic"):
        read_idx(tmp_path / "magic")
    with pytest.raises(NoisyLabelsError, match="type code"):
        read_idx(tmp_path / "code")


# --------------------------------------------------------------------------- MNIST-style datasets


@pytest.mark.parametrize("compress", [False, True])
def test_fashion_mnist_from_explicit_path(
    tmp_path, no_data_sources, write_mnist_folder, assert_standardised, compress
):
    folder = write_mnist_folder(tmp_path / "fm", n_train=12, n_test=5, compress=compress)
    splits = load_dataset("fashion_mnist", folder)
    assert splits.train.x.shape == (12, 1, 28, 28) and splits.test.x.shape == (5, 1, 28, 28)
    assert splits.train.x.dtype == torch.float32 and splits.train.labels.dtype == torch.int64
    assert splits.train.labels.tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert splits.train.num_classes == 10 and splits.train.name == "fashion_mnist"
    assert splits.train.class_names[0] == "T-shirt/top" and splits.train.class_names[9] == "Ankle boot"
    assert_standardised(splits.train.x)


def test_mnist_uses_the_same_files(tmp_path, no_data_sources, write_mnist_folder):
    splits = load_dataset("mnist", write_mnist_folder(tmp_path / "m"))
    assert splits.train.name == "mnist" and splits.train.class_names == [str(d) for d in range(10)]


def test_mismatched_idx_files(tmp_path, no_data_sources, write_mnist_folder, write_idx):
    folder = write_mnist_folder(tmp_path / "fm", n_train=6)
    write_idx(folder + "/train-labels-idx1-ubyte", np.zeros(5, dtype=np.uint8), compress=True)
    with pytest.raises(NoisyLabelsError, match="do not belong together"):
        load_dataset("fashion_mnist", folder)

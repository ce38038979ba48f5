"""Dataset loaders: file formats, data-folder lookup, standardisation and error messages.

Every test writes its own tiny files under tmp_path, so nothing needs downloading.
"""
import csv
import gzip
import os
import pickle
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from noisylabels.data import loaders
from noisylabels.data.loaders import DATASETS, find_data_dir, load_dataset, read_idx
from noisylabels.errors import NoisyLabelsError

# --------------------------------------------------------------------------- helpers

IDX_CODES = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C}


def idx_bytes(array: np.ndarray) -> bytes:
    """IDX encoding: 0, 0, type code, ndim, big-endian uint32 dims, then big-endian data."""
    header = struct.pack(">BBBB", 0, 0, IDX_CODES[array.dtype], array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def write_idx(path, array: np.ndarray, compress: bool) -> str:
    data = idx_bytes(array)
    if compress:
        path = f"{path}.gz"
        data = gzip.compress(data)
    with open(path, "wb") as handle:
        handle.write(data)
    return str(path)


def write_mnist_folder(folder, n_train=6, n_test=4, compress=True, fill=0):
    """The four MNIST-style files with ``n_train``/``n_test`` 28x28 images; labels cycle 0..9."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(fill)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        write_idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte"), images, compress)
        write_idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte"), labels, compress)
    return str(folder)


@pytest.fixture
def no_data_sources(monkeypatch, tmp_path):
    """No environment variable and an empty system location, so lookups see only what a test adds."""
    monkeypatch.delenv(loaders.DATA_ENV_VAR, raising=False)
    empty = tmp_path / "system-empty"
    empty.mkdir()
    monkeypatch.setattr(loaders, "SYSTEM_DATA_DIRS", {"fashion_mnist": (str(empty),)})
    return empty


def assert_standardised_per_channel(x: torch.Tensor):
    dims = (0, 2, 3) if x.ndim == 4 else (0,)
    assert torch.allclose(x.mean(dim=dims), torch.zeros(1), atol=1e-4)
    assert torch.allclose(x.std(dim=dims, unbiased=False), torch.ones(1), atol=1e-3)


# --------------------------------------------------------------------------- IDX reader


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_round_trip(tmp_path, compress):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    wide = np.array([1, -2, 70000], dtype=">i4")
    got_images = read_idx(write_idx(tmp_path / "images", images, compress))
    got_wide = read_idx(write_idx(tmp_path / "wide", wide, compress))
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_wide, [1, -2, 70000])
    assert got_wide.dtype.isnative and got_images.flags.writeable


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_truncated_file_names_file_and_fix(tmp_path, compress):
    data = idx_bytes(np.zeros((3, 28, 28), dtype=np.uint8))[:-10]
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(gzip.compress(data) if compress else data)
    with pytest.raises(NoisyLabelsError, match="train-images-idx3-ubyte.*re-download"):
        read_idx(path)


def test_read_idx_trailing_bytes(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(idx_bytes(np.zeros(5, dtype=np.uint8)) + b"\x00")
    with pytest.raises(NoisyLabelsError, match="header"):
        read_idx(path)


def test_read_idx_cut_gzip_stream(tmp_path):
    path = tmp_path / "labels.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros(500, dtype=np.uint8)))[:-20])
    with pytest.raises(NoisyLabelsError, match="labels.gz.*re-download"):
        read_idx(path)


def test_read_idx_bad_magic_and_type_code(tmp_path):
    good = idx_bytes(np.zeros(4, dtype=np.uint8))
    (tmp_path / "magic").write_bytes(b"\x01" + good[1:])
    (tmp_path / "code").write_bytes(good[:2] + b"\x42" + good[3:])
    with pytest.raises(NoisyLabelsError, match="magic"):
        read_idx(tmp_path / "magic")
    with pytest.raises(NoisyLabelsError, match="type code"):
        read_idx(tmp_path / "code")


# --------------------------------------------------------------------------- MNIST-style datasets and lookup


@pytest.mark.parametrize("compress", [False, True])
def test_fashion_mnist_from_explicit_path(tmp_path, no_data_sources, compress):
    folder = write_mnist_folder(tmp_path / "fm", n_train=12, n_test=5, compress=compress)
    splits = load_dataset("fashion_mnist", folder)
    assert splits.train.x.shape == (12, 1, 28, 28) and splits.test.x.shape == (5, 1, 28, 28)
    assert splits.train.x.dtype == torch.float32 and splits.train.labels.dtype == torch.int64
    assert splits.train.labels.tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert splits.train.num_classes == 10 and splits.train.name == "fashion_mnist"
    assert splits.train.class_names[0] == "T-shirt/top" and splits.train.class_names[9] == "Ankle boot"
    assert_standardised_per_channel(splits.train.x)


def test_mnist_uses_the_same_files(tmp_path, no_data_sources):
    splits = load_dataset("mnist", write_mnist_folder(tmp_path / "m"))
    assert splits.train.name == "mnist" and splits.train.class_names == [str(d) for d in range(10)]


def test_lookup_explicit_path_beats_environment(tmp_path, no_data_sources, monkeypatch):
    monkeypatch.setenv(loaders.DATA_ENV_VAR, write_mnist_folder(tmp_path / "env", n_train=7))
    assert len(load_dataset("fashion_mnist", write_mnist_folder(tmp_path / "explicit", n_train=3)).train) == 3


def test_lookup_missing_explicit_path_does_not_fall_through(tmp_path, no_data_sources, monkeypatch):
    monkeypatch.setenv(loaders.DATA_ENV_VAR, write_mnist_folder(tmp_path / "env"))
    with pytest.raises(NoisyLabelsError, match="does not exist"):
        load_dataset("fashion_mnist", tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(NoisyLabelsError, match="lacks train-images-idx3-ubyte"):
        load_dataset("fashion_mnist", empty)


def test_lookup_environment_subfolder_then_itself(tmp_path, no_data_sources, monkeypatch):
    write_mnist_folder(tmp_path / "root" / "fashion_mnist", n_train=4)
    monkeypatch.setenv(loaders.DATA_ENV_VAR, str(tmp_path / "root"))
    assert len(load_dataset("fashion_mnist").train) == 4
    monkeypatch.setenv(loaders.DATA_ENV_VAR, write_mnist_folder(tmp_path / "flat", n_train=5))
    assert len(load_dataset("fashion_mnist").train) == 5


def test_lookup_system_location_after_environment(tmp_path, no_data_sources, monkeypatch):
    system = write_mnist_folder(tmp_path / "usr-share", n_train=8)
    monkeypatch.setattr(loaders, "SYSTEM_DATA_DIRS", {"fashion_mnist": (system,)})
    assert len(load_dataset("fashion_mnist").train) == 8
    monkeypatch.setenv(loaders.DATA_ENV_VAR, write_mnist_folder(tmp_path / "env", n_train=2))
    assert len(load_dataset("fashion_mnist").train) == 2
    # An environment folder without the files is skipped, not an error.
    monkeypatch.setenv(loaders.DATA_ENV_VAR, str(tmp_path / "usr-share" / "nothing-here"))
    assert len(load_dataset("fashion_mnist").train) == 8


def test_lookup_failure_says_where_and_how(no_data_sources):
    with pytest.raises(NoisyLabelsError) as caught:
        load_dataset("fashion_mnist")
    message = str(caught.value)
    assert "apt-get install dataset-fashion-mnist" in message
    assert "NOISYLABELS_DATA" in message and str(no_data_sources) in message
    assert "\n" not in message


def test_find_data_dir_accepts_alternatives_and_subfolders(tmp_path, no_data_sources):
    (tmp_path / "inner").mkdir()
    (tmp_path / "inner" / "a.gz").write_bytes(b"")
    found = find_data_dir("thing", tmp_path, [("a", "a.gz")], subdirs=("inner",))
    assert found == tmp_path / "inner"


def test_mismatched_idx_files(tmp_path, no_data_sources):
    folder = write_mnist_folder(tmp_path / "fm", n_train=6)
    write_idx(folder + "/train-labels-idx1-ubyte", np.zeros(5, dtype=np.uint8), compress=True)
    with pytest.raises(NoisyLabelsError, match="do not belong together"):
        load_dataset("fashion_mnist", folder)


# --------------------------------------------------------------------------- CIFAR


def write_pickle(path, content, protocol=2):
    with open(path, "wb") as handle:
        pickle.dump(content, handle, protocol=protocol)


def cifar_batch(labels, key=b"labels", red=False):
    data = np.zeros((len(labels), 3072), dtype=np.uint8)
    if red:
        data[:, :1024] = 255  # the first 1024 values are the red plane
    return {b"data": data, key: list(labels)}


def write_cifar10(parent):
    folder = parent / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for i in range(1, 6):
        write_pickle(folder / f"data_batch_{i}", cifar_batch([i, i + 1], red=(i == 1)), protocol=2 + i % 4)
    write_pickle(folder / "test_batch", cifar_batch([0, 9, 3]))
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
    write_pickle(folder / "batches.meta", {b"label_names": names})
    return folder


def test_cifar10_from_folder_or_parent(tmp_path, no_data_sources):
    folder = write_cifar10(tmp_path)
    for path in (folder, tmp_path):
        splits = load_dataset("cifar10", path)
        assert splits.train.x.shape == (10, 3, 32, 32) and splits.test.x.shape == (3, 3, 32, 32)
        assert splits.train.labels.tolist() == [1, 2, 2, 3, 3, 4, 4, 5, 5, 6]
        assert splits.test.labels.tolist() == [0, 9, 3]
        assert splits.train.class_names[1] == "automobile" and splits.train.num_classes == 10
    # Only the first batch has a bright red plane: channel 0 of those images, nothing else.
    bright = splits.train.x[:, 0].mean(dim=(1, 2)) > 0
    assert bright.tolist() == [True, True] + [False] * 8
    assert torch.equal(splits.train.x[:, 1], torch.zeros_like(splits.train.x[:, 1]))


def test_cifar10_without_meta_has_no_class_names(tmp_path, no_data_sources):
    folder = write_cifar10(tmp_path)
    (folder / "batches.meta").unlink()
    assert load_dataset("cifar10", folder).train.class_names is None


def test_cifar10_corrupt_pickle(tmp_path, no_data_sources):
    folder = write_cifar10(tmp_path)
    (folder / "data_batch_3").write_bytes((folder / "data_batch_3").read_bytes()[:100])
    with pytest.raises(NoisyLabelsError, match="data_batch_3.*corrupt"):
        load_dataset("cifar10", folder)


def test_cifar_refuses_pickles_that_run_code(tmp_path, no_data_sources):
    folder = write_cifar10(tmp_path)
    write_pickle(folder / "test_batch", {b"data": print, b"labels": []})  # any non-array global
    with pytest.raises(NoisyLabelsError, match="refusing"):
        load_dataset("cifar10", folder)


def test_cifar10_missing_data_hint(no_data_sources):
    with pytest.raises(NoisyLabelsError, match="cifar-10-python.tar.gz"):
        load_dataset("cifar10")


def test_cifar100_fine_and_coarse(tmp_path, no_data_sources):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    for split, fine in (("train", [0, 99, 50, 7]), ("test", [1, 2])):
        batch = cifar_batch(fine, key=b"fine_labels")
        batch[b"coarse_labels"] = [f // 5 for f in fine]
        write_pickle(folder / split, batch)
    write_pickle(folder / "meta", {
        b"fine_label_names": [f"fine{i}".encode() for i in range(100)],
        b"coarse_label_names": [f"coarse{i}".encode() for i in range(20)],
    })
    fine = load_dataset("cifar100", tmp_path)
    assert fine.train.num_classes == 100 and fine.train.labels.tolist() == [0, 99, 50, 7]
    assert fine.train.class_names[99] == "fine99"
    coarse = load_dataset("cifar100", folder, label_type="coarse")
    assert coarse.train.num_classes == 20 and coarse.train.labels.tolist() == [0, 19, 10, 1]
    assert coarse.test.class_names[19] == "coarse19"
    with pytest.raises(NoisyLabelsError, match="label_type"):
        load_dataset("cifar100", folder, label_type="medium")


# --------------------------------------------------------------------------- arrays


def test_arrays_from_npz(tmp_path):
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
    assert_standardised_per_channel(splits.train.x)


def test_arrays_npz_missing_key_names_keys_found(tmp_path):
    np.savez(tmp_path / "bad.npz", features=np.zeros((3, 2)), y=np.zeros(3))
    with pytest.raises(NoisyLabelsError, match=r"no 'x'.*keys found: features, y"):
        load_dataset("arrays", tmp_path / "bad.npz")


def test_arrays_in_memory_images_and_vectors():
    images = np.random.default_rng(1).integers(0, 256, size=(8, 3, 5, 5), dtype=np.uint8)
    splits = load_dataset("arrays", x=images, y=np.arange(8) % 2, num_classes=4)
    assert splits.train.x.shape == (8, 3, 5, 5) and splits.test is None
    assert splits.train.num_classes == 4
    assert_standardised_per_channel(splits.train.x)
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


# --------------------------------------------------------------------------- image lists


def write_png(path, color, size=(6, 4)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)


def test_image_list_loads_resizes_and_splits(tmp_path):
    write_png(tmp_path / "imgs" / "red.png", (255, 0, 0))
    write_png(tmp_path / "imgs" / "blue one.png", (0, 0, 255))
    write_png(tmp_path / "imgs" / "green.png", (0, 255, 0))
    (tmp_path / "train.txt").write_text("# path label\nimgs/red.png 0\n\nimgs/blue one.png 2\n")
    (tmp_path / "test.txt").write_text("imgs/green.png 1\n")
    splits = load_dataset("image_list", tmp_path / "train.txt", test_path=tmp_path / "test.txt", size=8)
    assert splits.train.x.shape == (2, 3, 8, 8) and splits.test.x.shape == (1, 3, 8, 8)
    assert splits.train.labels.tolist() == [0, 2] and splits.train.num_classes == 3
    red, blue = splits.train.x[0], splits.train.x[1]
    assert red[0].mean() > blue[0].mean() and blue[2].mean() > red[2].mean()
    gray = load_dataset("image_list", tmp_path / "train.txt", mode="L", size=4)
    assert gray.train.x.shape == (2, 1, 4, 4)


def test_image_list_root_option(tmp_path):
    write_png(tmp_path / "pics" / "a.png", (10, 20, 30))
    write_png(tmp_path / "pics" / "b.png", (200, 100, 0))
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "train.txt").write_text("a.png 0\nb.png 1\n")
    assert len(load_dataset("image_list", lists / "train.txt", root=tmp_path / "pics").train) == 2


def test_image_list_errors_name_line(tmp_path):
    write_png(tmp_path / "a.png", (1, 2, 3))
    (tmp_path / "missing.txt").write_text("a.png 0\nnot-there.png 1\n")
    with pytest.raises(NoisyLabelsError, match=r"line 2: image .*not-there.png not found"):
        load_dataset("image_list", tmp_path / "missing.txt")
    (tmp_path / "malformed.txt").write_text("a.png 0\n\na.png cat\n")
    with pytest.raises(NoisyLabelsError, match="line 3: expected"):
        load_dataset("image_list", tmp_path / "malformed.txt")
    (tmp_path / "not-an-image.png").write_text("hello")
    (tmp_path / "corrupt.txt").write_text("not-an-image.png 0\n")
    with pytest.raises(NoisyLabelsError, match="line 1: cannot decode"):
        load_dataset("image_list", tmp_path / "corrupt.txt")


# --------------------------------------------------------------------------- digits and the entry point


def test_digits_shapes_standardised_and_deterministic():
    splits = load_dataset("digits")
    assert splits.train.x.shape == (1437, 1, 8, 8) and splits.test.x.shape == (360, 1, 8, 8)
    assert splits.train.num_classes == 10 and splits.train.class_names == [str(d) for d in range(10)]
    assert_standardised_per_channel(splits.train.x)
    assert torch.bincount(splits.test.labels, minlength=10).min() >= 35  # stratified: ~36 per class
    again = load_dataset("digits")
    assert torch.equal(again.train.x, splits.train.x) and torch.equal(again.test.labels, splits.test.labels)


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

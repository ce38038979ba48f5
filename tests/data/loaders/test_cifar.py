"""CIFAR-10 and CIFAR-100 from python-version pickles, including the restricted unpickler."""
import pickle

import numpy as np
import pytest
import torch

from noisylabels.data.loaders import load_dataset
from noisylabels.errors import NoisyLabelsError


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

"""load_dataset("torch" | "hf") and their streamed forms: dataset objects users already hold."""
import re

import datasets
import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import Dataset, TensorDataset

from noisylabels import Config, Trainer
from noisylabels.data.loaders import load_dataset, load_streaming
from noisylabels.data.streaming import StreamedFeatures
from noisylabels.detect import detect
from noisylabels.errors import NoisyLabelsError



def blobs(n=240, dim=5, num_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % num_classes
    centers = np.random.default_rng(100).normal(0, 4, (num_classes, dim))
    return (centers[y] + rng.normal(3, 1, (n, dim))).astype(np.float32), y


class PilImages(Dataset):
    """torchvision-style: PIL images, int labels, ``classes`` and ``targets``."""

    classes = ["dark", "light"]

    def __init__(self, n=20, reads=None):
        rng = np.random.default_rng(1)
        self.targets = [i % 2 for i in range(n)]
        self.pixels = [rng.integers(0, 100, (6, 6, 3)) + 150 * t for t in self.targets]
        self.reads = reads

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, i):
        if self.reads is not None:
            self.reads.append(i)
        return Image.fromarray(self.pixels[i].astype(np.uint8)), self.targets[i]


def config(out, method="ce", epochs=2, loss="ce") -> Config:
    return Config.from_dict({
        "data": {"name": "torch", "val_fraction": 0.0},
        "noise": {"type": "symmetric", "rate": 0.2},
        "model": {"name": "mlp", "options": {"hidden_sizes": [16]}},
        "method": {"name": method, "loss": loss},
        "optim": {"epochs": epochs, "batch_size": 32, "lr": 0.05},
        "run": {"out": str(out), "progress": False, "device": "cpu", "plots": False, "seed": 1},
    })


# --------------------------------------------------------------------------- torch


def test_torch_dataset_matches_the_arrays_loader():
    x, y = blobs()
    test_x, test_y = blobs(60, seed=1)
    ours = load_dataset("torch", dataset=TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
                        test_dataset=TensorDataset(torch.from_numpy(test_x), torch.from_numpy(test_y)))
    reference = load_dataset("arrays", x=x, y=y, x_test=test_x, y_test=test_y)
    assert torch.allclose(ours.train.x, reference.train.x, atol=1e-6)
    assert torch.allclose(ours.test.x, reference.test.x, atol=1e-6)
    assert torch.equal(ours.train.labels, reference.train.labels) and ours.train.num_classes == 3


def test_torch_pil_images_become_channels_first_with_class_names():
    splits = load_dataset("torch", dataset=PilImages())
    assert splits.train.x.shape == (20, 3, 6, 6) and splits.train.class_names == ["dark", "light"]
    assert splits.train.num_classes == 2 and splits.test is None
    dark, light = splits.train.x[0].mean(), splits.train.x[1].mean()  # standardised, order kept
    assert light > dark


def test_streamed_torch_reads_rows_on_demand_and_labels_from_targets():
    reads = []
    memory = load_dataset("torch", dataset=PilImages())
    streamed = load_streaming("torch", dataset=PilImages(reads=reads))
    assert isinstance(streamed.train.x, StreamedFeatures)
    assert torch.equal(streamed.train.labels, memory.train.labels)
    reads.clear()
    rows = torch.tensor([3, 17, 4])
    assert torch.allclose(streamed.train.x[rows], memory.train.x[rows], atol=1e-5)
    assert reads == [3, 17, 4]  # only the rows asked for


def test_torch_errors_are_one_line():
    x, y = blobs(20)
    cases = [
        ({}, "needs dataset="),
        ({"dataset": [1, 2, 3]}, "not an (x, y) pair"),
        ({"dataset": TensorDataset(torch.from_numpy(x))}, "not an (x, y) pair"),
        ({"dataset": TensorDataset(torch.from_numpy(x), torch.from_numpy(y) + 0.5)}, "one integer class index"),
        ({"dataset": [(np.array(["a", "b"]), 0)] * 4}, "not numbers"),
        ({"dataset": [(np.zeros(3), 0), (np.zeros(4), 1)]}, "different shapes"),
        ({"dataset": TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), "num_classes": 2}, "outside [0, 2)"),
        ({"dataset": TensorDataset(torch.empty(0, 3), torch.empty(0))}, "is empty"),
        ({"dataset": object()}, "without __getitem__"),
    ]
    for options, message in cases:
        with pytest.raises(NoisyLabelsError, match=re.escape(message)) as error:
            load_dataset("torch", **options)
        assert "\n" not in str(error.value)
    with pytest.raises(NoisyLabelsError, match="drop path="):
        load_dataset("torch", "some/file", dataset=PilImages())


def test_every_method_entry_point_runs_on_a_torch_dataset(tmp_path):
    """train(config, splits) with a method and detect(..., splits=) both take the loaded splits."""
    x, y = blobs()
    splits = load_dataset("torch", dataset=TensorDataset(torch.from_numpy(x), torch.from_numpy(y)))
    metrics = Trainer(config(tmp_path / "gce", epochs=10, loss="gce"), splits).fit()
    assert metrics["last_test_acc"] > 0.8  # well-separated blobs
    result = detect(config(tmp_path / "rsl", "rsl", epochs=10), "rsl", splits=splits)
    assert result["samples"] == 192 and 0.5 < result["precision"] and 0.5 < result["recall"]


def test_streamed_torch_dataset_trains_like_the_in_memory_one(tmp_path):
    x, y = blobs()
    data = TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    memory = Trainer(config(tmp_path / "memory"), load_dataset("torch", dataset=data)).fit()
    streamed = Trainer(config(tmp_path / "streamed").replace(data={"streaming": True, "workers": 2}),
                       load_streaming("torch", dataset=data)).fit()
    assert streamed["last_test_acc"] == pytest.approx(memory["last_test_acc"], abs=0.02)


# --------------------------------------------------------------------------- Hugging Face


def hf_images(n=20):
    pil = PilImages(n)
    features = datasets.Features({"img": datasets.Image(), "label": datasets.ClassLabel(names=pil.classes)})
    return datasets.Dataset.from_dict({"img": [pil[i][0] for i in range(n)], "label": pil.targets},
                                      features=features)


def test_hf_images_match_the_torch_loader_and_take_class_names():
    ours = load_dataset("hf", dataset=hf_images(), image_column="img")
    reference = load_dataset("torch", dataset=PilImages())
    assert torch.allclose(ours.train.x, reference.train.x, atol=1e-6)
    assert ours.train.class_names == ["dark", "light"] and ours.train.num_classes == 2


def test_hf_feature_vectors_and_streaming():
    x, y = blobs(60)
    data = datasets.Dataset.from_dict({"features": x.tolist(), "label": y.tolist()})
    test = datasets.Dataset.from_dict({"features": x[:9].tolist(), "label": y[:9].tolist()})
    memory = load_dataset("hf", dataset=data, test_dataset=test, image_column="features")
    reference = load_dataset("arrays", x=x, y=y)
    assert torch.allclose(memory.train.x, reference.train.x, atol=1e-5) and len(memory.test) == 9
    streamed = load_streaming("hf", dataset=data, test_dataset=test, image_column="features")
    assert isinstance(streamed.train.x, StreamedFeatures)
    assert torch.allclose(streamed.train.x[:], memory.train.x, atol=1e-5)
    assert torch.allclose(streamed.test.x[:], memory.test.x, atol=1e-5)


def test_hf_errors_are_one_line():
    data = hf_images()
    cases = [
        ({"dataset": data}, "no column 'image'"),
        ({"dataset": data, "image_column": "img", "label_column": "y"}, "no column 'y'"),
        ({"dataset": datasets.DatasetDict({"train": data})}, "pass one split"),
        ({"dataset": [1, 2]}, "not a datasets.Dataset"),
        ({"dataset": datasets.Dataset.from_dict({"image": ["a", "b"], "label": [0, 1]})}, "not numbers"),
    ]
    for options, message in cases:
        with pytest.raises(NoisyLabelsError, match=message) as error:
            load_dataset("hf", **options)
        assert "\n" not in str(error.value)

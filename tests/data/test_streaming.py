"""data.streaming: features read from .npy files / image lists on demand, batches from worker processes."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from noisylabels import Config, Trainer
from noisylabels.data import DeviceLoader
from noisylabels.data.loaders import load_dataset, load_streaming
from noisylabels.data.streaming import StreamedFeatures, StreamingLoader
from noisylabels.errors import NoisyLabelsError


def write_blobs(folder, n=300, dim=6, num_classes=3, test=0, seed=0):
    """Gaussian blobs as x.npy / y.npy (and x_test.npy / y_test.npy); returns the folder."""
    rng = np.random.default_rng(seed)
    centers = np.random.default_rng(100).normal(0, 3, (num_classes, dim))
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, count in (("", n), ("_test", test)):
        if count:
            y = np.arange(count) % num_classes
            np.save(folder / f"x{prefix}.npy", (centers[y] + rng.normal(5, 2, (count, dim))).astype(np.float32))
            np.save(folder / f"y{prefix}.npy", y)
    return folder


def run_config(out, data_path, method="ce", **data) -> Config:
    return Config.from_dict({
        "data": {"name": "arrays", "path": str(data_path), "streaming": True, **data},
        "noise": {"type": "symmetric", "rate": 0.2},
        "model": {"name": "mlp", "options": {"hidden_sizes": [16]}},
        "method": {"name": method},
        "optim": {"epochs": 2, "batch_size": 32, "lr": 0.05},
        "run": {"out": str(out), "progress": False, "device": "cpu", "plots": False, "seed": 1},
    })


def without_times(metrics: dict) -> str:
    epochs = [{k: v for k, v in row.items() if not k.endswith("time")} for row in metrics["epochs"]]
    return json.dumps({**{k: v for k, v in metrics.items() if k not in ("total_time", "epochs")}, "epochs": epochs})


# --------------------------------------------------------------------------- features


def test_streamed_arrays_equal_the_in_memory_loader(tmp_path):
    folder = write_blobs(tmp_path / "blobs", n=50, test=20)
    memory, streamed = load_dataset("arrays", folder), load_streaming("arrays", folder)
    x = streamed.train.x
    assert isinstance(x, StreamedFeatures) and not isinstance(memory.train.x, StreamedFeatures)
    assert len(x) == 50 and x.shape == (50, 6) and x.ndim == 2 and x.dtype == torch.float32
    whole = memory.train.x
    assert torch.allclose(x[:], whole, atol=1e-6)  # standardised with the same (train) statistics
    assert torch.allclose(streamed.test.x[5:9], memory.test.x[5:9], atol=1e-6)
    index = torch.tensor([7, 3, 3, 49])
    assert torch.allclose(x[index], whole[index], atol=1e-6) and torch.allclose(x[-1], whole[-1], atol=1e-6)
    mask = torch.arange(50) % 7 == 0
    assert torch.allclose(x[mask], whole[mask], atol=1e-6) and x[np.array([], dtype=np.int64)].shape == (0, 6)
    view = x.subset(torch.tensor([10, 2, 40]))
    assert len(view) == 3 and torch.allclose(view[1:], whole[[2, 40]], atol=1e-6)
    assert torch.equal(streamed.train.labels, memory.train.labels)
    held = streamed.train.subset(torch.tensor([4, 5]))  # LabeledData.subset keeps features on disk
    assert isinstance(held.x, StreamedFeatures) and torch.allclose(held.x[:], whole[4:6], atol=1e-6)
    with pytest.raises(IndexError):
        x[50]
    with pytest.raises(TypeError, match="rows only"):
        x[:, 0]
    with pytest.raises(NoisyLabelsError, match=r"not .numpy: read the rows you need"):
        x.numpy()
    assert not hasattr(x, "to")


def test_streamed_uint8_images_are_scaled_and_standardised_per_channel(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    np.save(folder / "x.npy", rng.integers(0, 256, size=(12, 5, 5), dtype=np.uint8))  # (N, H, W) grayscale
    np.save(folder / "y.npy", np.arange(12) % 2)
    memory, streamed = load_dataset("arrays", folder), load_streaming("arrays", folder)
    assert streamed.train.x.shape == (12, 1, 5, 5) and streamed.train.is_image
    assert torch.allclose(streamed.train.x[:], memory.train.x, atol=1e-5)


def test_streamed_image_list_equals_the_in_memory_one(tmp_path):
    rng = np.random.default_rng(0)
    lines = []
    for i in range(6):
        Image.fromarray(rng.integers(0, 256, size=(7, 9, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
        lines.append(f"{i}.png {i % 2}")
    (tmp_path / "train.txt").write_text("\n".join(lines[:4]) + "\n")
    (tmp_path / "test.txt").write_text("\n".join(lines[4:]) + "\n")
    options = {"test_path": tmp_path / "test.txt", "size": 8}
    memory = load_dataset("image_list", tmp_path / "train.txt", **options)
    streamed = load_streaming("image_list", tmp_path / "train.txt", **options)
    assert streamed.train.x.shape == (4, 3, 8, 8) and torch.equal(streamed.train.labels, memory.train.labels)
    assert torch.allclose(streamed.train.x[:], memory.train.x, atol=1e-5)
    assert torch.allclose(streamed.test.x[torch.tensor([1, 0])], memory.test.x[[1, 0]], atol=1e-5)


def test_streaming_errors_say_what_to_do(tmp_path):
    folder = write_blobs(tmp_path / "blobs", n=10)
    np.savez(tmp_path / "blobs.npz", x=np.zeros((3, 2)), y=np.zeros(3, int))
    with pytest.raises(NoisyLabelsError, match="folder of .npy files"):
        load_streaming("arrays", tmp_path / "blobs.npz")
    with pytest.raises(NoisyLabelsError, match="folder of .npy files"):
        load_streaming("arrays", x=np.zeros((3, 2)), y=[0, 1, 0])
    with pytest.raises(NoisyLabelsError, match="'digits' is loaded into memory"):
        load_streaming("digits")
    with pytest.raises(NoisyLabelsError, match="unknown dataset"):
        load_streaming("no_such_data")
    with pytest.raises(NoisyLabelsError, match="has no option"):
        load_streaming("arrays", folder, label_column="y")
    (folder / "y.npy").unlink()
    with pytest.raises(NoisyLabelsError, match=r"no y.npy \(.npy files found: x.npy\)"):
        load_streaming("arrays", folder)
    np.save(folder / "y.npy", np.zeros(10, int))
    np.save(folder / "x.npy", np.asfortranarray(np.ones((10, 3))))
    with pytest.raises(NoisyLabelsError, match="Fortran order"):
        load_streaming("arrays", folder)
    bad = np.ones((10, 3))
    bad[7, 1] = np.nan
    np.save(folder / "x.npy", bad)
    with pytest.raises(NoisyLabelsError, match=r"NaN or inf \(first: row 7\)"):
        load_streaming("arrays", folder)


def test_config_checks_the_streaming_keys(tmp_path):
    folder = write_blobs(tmp_path / "blobs", n=30)
    raw = run_config(tmp_path / "run", folder).to_dict()
    for section, key, value, message in [
        ("data", "streaming", "yes", "data.streaming must be true or false"),
        ("run", "stats_memmap", 1, "run.stats_memmap must be true or false"),
        ("data", "workers", -1, "data.workers must be a whole number >= 0"),
        ("data", "workers", True, "data.workers must be a whole number >= 0"),
    ]:
        changed = json.loads(json.dumps(raw))
        changed[section][key] = value
        with pytest.raises(NoisyLabelsError, match=message):
            Config.from_dict(changed)
    with pytest.raises(NoisyLabelsError, match="data.workers sets the reader processes of data.streaming"):
        Config.from_dict({"data": {"workers": 2}})
    with pytest.raises(NoisyLabelsError, match="instance noise reads every training feature"):
        Trainer(run_config(tmp_path / "run", folder).replace(noise={"type": "instance", "rate": 0.2}))
    assert not (tmp_path / "run").exists()  # nothing written before the error


# --------------------------------------------------------------------------- the loader


def loaders(folder, batch_size=32, workers=0, seed=0):
    """A StreamingLoader and a DeviceLoader over the same data, with generators in the same state."""
    streamed = load_streaming("arrays", folder).train
    y = streamed.labels
    stream = StreamingLoader(streamed.x, y, batch_size, workers=workers, generator=torch.Generator().manual_seed(seed))
    device = DeviceLoader(streamed.x[:], y, batch_size, generator=torch.Generator().manual_seed(seed))
    return stream, device


@pytest.mark.parametrize("workers", [0, 2])
def test_every_index_once_per_epoch_in_the_device_loaders_order(tmp_path, workers):
    stream, device = loaders(write_blobs(tmp_path / "blobs", n=100), workers=workers)
    assert len(stream) == len(device) == 4
    for _ in range(2):  # two epochs: the order changes, and stays the device loader's
        batches, expected = list(stream), list(device)
        seen = torch.cat([b.idx for b in batches])
        assert sorted(seen.tolist()) == list(range(100))
        assert torch.equal(seen, torch.cat([b.idx for b in expected]))
        for batch, reference in zip(batches, expected):
            assert torch.allclose(batch.x, reference.x) and torch.equal(batch.y, reference.y)


def test_indices_weights_and_drop_last(tmp_path):
    stream, device = loaders(write_blobs(tmp_path / "blobs", n=100), batch_size=8)
    for loader in (stream, device):
        loader.indices = torch.tensor([5, 17, 42, 99, 63])
    drawn = [b.idx.tolist() for b in stream]
    assert drawn == [b.idx.tolist() for b in device] and sorted(sum(drawn, [])) == [5, 17, 42, 63, 99]
    for loader in (stream, device):
        loader.weights = torch.tensor([0.0, 1.0, 0.0, 3.0, 0.0])
        loader.drop_last, loader.batch_size = True, 2
    assert len(stream) == 2
    drawn = [b.idx.tolist() for b in stream]
    assert drawn == [b.idx.tolist() for b in device] and len(drawn) == 2
    assert set(sum(drawn, [])) <= {17, 99}  # weighted draw with replacement from the pool


# --------------------------------------------------------------------------- runs


def test_streaming_runs_are_reproducible_and_match_in_memory_training(tmp_path):
    folder = write_blobs(tmp_path / "blobs", n=240, test=60)
    first = Trainer(run_config(tmp_path / "a", folder, method="rsl", workers=2)).fit()
    second = Trainer(run_config(tmp_path / "b", folder, method="rsl", workers=0)).fit()
    assert without_times(first) == without_times(second)  # workers never change the order
    memory = run_config(tmp_path / "c", folder, method="rsl").replace(data={"streaming": False, "workers": None})
    in_memory = Trainer(memory).fit()
    for row, reference in zip(first["epochs"], in_memory["epochs"]):
        assert row["train_loss"] == pytest.approx(reference["train_loss"], rel=1e-4)
        assert row["test_acc"] == pytest.approx(reference["test_acc"], abs=1e-6)


def test_streaming_with_memmapped_stats_eval_recording_and_a_semi_supervised_method(tmp_path):
    folder = write_blobs(tmp_path / "blobs", n=160)
    config = run_config(tmp_path / "run", folder, method="dividemix", workers=1).replace(
        method={"options": {"warmup": 1}}, run={"stats_memmap": True, "record": "eval"})
    trainer = Trainer(config)
    assert isinstance(trainer.train_x, StreamedFeatures) and isinstance(trainer.loader, StreamingLoader)
    metrics = trainer.fit()
    assert metrics["status"] == "complete" and len(metrics["epochs"]) == 2
    assert (~torch.isnan(trainer.stats.loss)).all()  # the eval pass recorded every sample, every epoch
    assert trainer.logits_on(trainer.train_x).shape == (len(trainer.train_x), 3)


def test_a_streamed_image_list_trains_with_augmentation(tmp_path):
    rng = np.random.default_rng(0)
    lines = []
    for i in range(24):
        Image.fromarray(rng.integers(0, 256, size=(6, 6, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
        lines.append(f"{i}.png {i % 2}")
    (tmp_path / "train.txt").write_text("\n".join(lines) + "\n")
    config = run_config(tmp_path / "run", tmp_path / "train.txt", workers=1).replace(
        data={"name": "image_list", "options": {"size": 8}, "augment": "crop_flip", "test_fraction": 0.25},
        optim={"epochs": 1, "batch_size": 8})
    trainer = Trainer(config)
    # 24 images: 6 for the test split, then 10% of the rest (rounded per noisy class) for validation
    assert len(trainer.train_x) + len(trainer.data.val) == 18 and trainer.train_x.shape[1:] == (3, 8, 8)
    assert isinstance(trainer.data.test.x, StreamedFeatures) and isinstance(trainer.data.val.x, StreamedFeatures)
    metrics = trainer.fit()
    assert metrics["status"] == "complete" and metrics["selected_epoch"] == 1

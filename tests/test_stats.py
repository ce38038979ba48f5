import csv
import math

import numpy as np
import pytest
import torch

from noisylabels import histories
from noisylabels.errors import NoisyLabelsError
from noisylabels.stats import SampleStats


def test_record_mean_last_and_csv(tmp_path):
    stats = SampleStats(num_samples=4, num_epochs=3)
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    stats.record(0, torch.tensor([0, 2]), torch.tensor([1.0, 2.0]), logits, torch.tensor([0, 0]))
    stats.record(1, torch.tensor([0]), torch.tensor([3.0]), logits[:1], torch.tensor([0]))
    mean = stats.mean_loss()
    assert mean[0].item() == 2.0 and mean[2].item() == 2.0 and math.isnan(mean[1].item())
    assert stats.recorded_epochs().tolist() == [0, 1]
    assert stats.last(stats.loss)[0].item() == 3.0
    assert stats.margin[0, 2].item() == -1.0 and stats.prediction.tolist() == [0, -1, 1, -1]
    stats.set_value("weight", torch.tensor([1]), torch.tensor([0.5]))
    stats.write_csv(tmp_path / "s.csv", torch.tensor([0, 1, 0, 1]), torch.tensor([0, 0, 0, 1]))
    rows = list(csv.DictReader(open(tmp_path / "s.csv")))
    assert rows[0]["mean_loss"] == "2" and rows[1]["weight"] == "0.5" and rows[3]["true_label"] == "1"


def test_state_dict_round_trip():
    stats = SampleStats(3, 2)
    stats.record(0, torch.arange(3), torch.ones(3), torch.randn(3, 4), torch.zeros(3, dtype=torch.long))
    stats.set_value("w", torch.arange(3), torch.ones(3))
    other = SampleStats(3, 2)
    other.load_state_dict(stats.state_dict())
    assert torch.equal(other.loss.nan_to_num(), stats.loss.nan_to_num())
    assert torch.equal(other.values["w"], stats.values["w"])


# --------------------------------------------------------------------------- memmapped histories


def record_some(stats: SampleStats, seed: int = 0) -> None:
    """Three epochs over 5 samples, with gaps (sample 4 never recorded, sample 3 only in epoch 0)."""
    gen = torch.Generator().manual_seed(seed)
    for epoch, idx in enumerate([[0, 1, 2, 3], [2, 0, 1], [1, 2, 0]]):
        idx = torch.tensor(idx)
        logits = torch.randn(len(idx), 3, generator=gen)
        stats.record(epoch, idx, torch.rand(len(idx), generator=gen) * 3, logits, torch.zeros(len(idx), dtype=torch.long))


def test_memmapped_histories_match_memory_within_float16(tmp_path):
    memory, disk = SampleStats(5, 3), SampleStats(5, 3, memmap_dir=tmp_path / "mm")
    assert not (tmp_path / "mm").exists()  # files appear on first use only
    record_some(memory)
    record_some(disk)
    header = 128  # .npy header: the files open with np.load(path, mmap_mode="r")
    for name in ("loss", "margin"):
        assert (tmp_path / "mm" / f"{name}.npy").stat().st_size == header + 5 * 3 * 2  # N x epochs x 2 bytes
        assert getattr(disk, name).dtype == torch.float16
        assert torch.allclose(getattr(disk, name).float(), getattr(memory, name), rtol=1e-3, equal_nan=True)
    assert disk.mean_loss().dtype == torch.float32 and disk.mean_margin().dtype == torch.float32
    assert torch.allclose(disk.mean_loss(), memory.mean_loss(), rtol=1e-3, equal_nan=True)
    assert torch.allclose(disk.mean_loss([1, 2]), memory.mean_loss([1, 2]), rtol=1e-3, equal_nan=True)
    assert torch.allclose(disk.mean_margin(torch.tensor([0])), memory.mean_margin(torch.tensor([0])), rtol=1e-3,
                          equal_nan=True)
    assert disk.recorded_epochs().tolist() == memory.recorded_epochs().tolist() == [0, 1, 2]
    assert disk.epoch_values(disk.loss, 1).dtype == torch.float32
    assert torch.allclose(disk.last(disk.margin), memory.last(memory.margin), rtol=1e-3, equal_nan=True)
    assert torch.equal(disk.prediction, memory.prediction)
    on_disk = np.load(tmp_path / "mm" / "loss.npy", mmap_mode="r")
    assert np.array_equal(on_disk, disk.loss.numpy(), equal_nan=True)


def test_memmapped_means_go_block_by_block(tmp_path, monkeypatch):
    disk = SampleStats(5, 3, memmap_dir=tmp_path)
    record_some(disk)
    whole = disk.mean_loss([0, 2])
    monkeypatch.setattr(histories, "BLOCK_COLUMNS", 2)  # three blocks of samples
    assert torch.equal(disk.mean_loss([0, 2]).nan_to_num(-1), whole.nan_to_num(-1))
    assert disk.recorded_epochs().tolist() == [0, 1, 2]


def test_memmapped_state_dict_round_trips_both_ways(tmp_path):
    disk = SampleStats(5, 3, memmap_dir=tmp_path / "a")
    record_some(disk)
    disk.set_value("w", torch.arange(5), torch.ones(5))
    state = disk.state_dict()
    assert state["loss"].dtype == torch.float16  # the checkpoint holds the float16 history itself
    memory = SampleStats(5, 3)
    memory.load_state_dict(state)
    assert memory.loss.dtype == torch.float32
    assert torch.equal(memory.loss.half().nan_to_num(-1), disk.loss.nan_to_num(-1))
    again = SampleStats(5, 3, memmap_dir=tmp_path / "b")
    again.load_state_dict(memory.state_dict())
    assert torch.equal(again.margin.nan_to_num(-1), disk.margin.nan_to_num(-1))
    assert torch.equal(again.values["w"], disk.values["w"])
    with pytest.raises(NoisyLabelsError, match="shape"):
        SampleStats(4, 3, memmap_dir=tmp_path / "c").load_state_dict(state)


def test_memmapped_csv_and_saturation(tmp_path):
    disk, memory = SampleStats(3, 2, memmap_dir=tmp_path / "mm"), SampleStats(3, 2)
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1e6, 0.0]])
    for stats in (disk, memory):
        stats.record(0, torch.arange(3), torch.tensor([0.5, 2.0, 1e9]), logits, torch.tensor([0, 0, 0]))
    assert disk.loss[0, 2].item() == 65504.0 and disk.margin[0, 2].item() == 65504.0  # no inf
    labels = torch.tensor([0, 1, 0])
    disk.write_csv(tmp_path / "disk.csv", labels)
    memory.write_csv(tmp_path / "memory.csv", labels)
    disk_rows, memory_rows = (list(csv.DictReader(open(tmp_path / name))) for name in ("disk.csv", "memory.csv"))
    assert disk_rows[:2] == memory_rows[:2]  # float16-exact values print the same
    assert disk_rows[0].keys() == memory_rows[0].keys() and len(disk_rows) == 3


def test_a_run_with_memmapped_stats_matches_one_in_memory(tmp_path, tiny_splits, tiny_config):
    from noisylabels import Trainer

    config = tiny_config.replace(method={"name": "rsl", "options": {"stage1_epochs": 1}}, noise={"type": "symmetric",
                                 "rate": 0.2})
    memory = Trainer(config.replace(run={"out": str(tmp_path / "memory")}), tiny_splits)
    memory.fit()
    disk = Trainer(config.replace(run={"out": str(tmp_path / "disk"), "stats_memmap": True}), tiny_splits)
    disk.fit()
    files = sorted(p.name for p in (tmp_path / "disk" / "stats_memmap").iterdir())
    assert files == ["loss.npy", "margin.npy"] and not (tmp_path / "memory" / "stats_memmap").exists()
    assert disk.stats.loss.shape == (2, len(disk.train_y))  # the training split, without validation
    saved = torch.load(tmp_path / "disk" / "stats.pt")
    reference = torch.load(tmp_path / "memory" / "stats.pt")
    assert saved["loss"].dtype == torch.float16
    assert torch.allclose(saved["loss"].float(), reference["loss"], rtol=2e-3, atol=1e-4, equal_nan=True)
    assert torch.allclose(saved["values"]["score"], reference["values"]["score"], rtol=2e-3, atol=1e-4)

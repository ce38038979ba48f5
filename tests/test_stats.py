import csv
import math

import torch

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

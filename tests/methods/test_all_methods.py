"""Every registered method runs end to end on tiny data and writes per-sample statistics."""
import pytest
import torch

from noisylabels import METHODS, Trainer


@pytest.mark.parametrize("name", METHODS.names())
def test_method_runs_two_epochs(name, tiny_config, tiny_splits):
    config = tiny_config.replace(method={"name": name}, noise={"type": "symmetric", "rate": 0.2},
                                 optim={"epochs": 2})
    trainer = Trainer(config, tiny_splits)
    metrics = trainer.fit()
    assert metrics["status"] == "complete" and len(metrics["epochs"]) == 2
    assert not torch.isnan(trainer.stats.loss[0]).any()  # every sample recorded in the first epoch
    assert all(0.0 <= row["test_acc"] <= 1.0 for row in metrics["epochs"])

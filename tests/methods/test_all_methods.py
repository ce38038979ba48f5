"""Every registered method runs end to end on tiny data and writes per-sample statistics."""
import pytest
import torch

from noisylabels import METHODS, Trainer


@pytest.mark.parametrize("name", METHODS.names())
def test_method_runs_two_epochs(name, tiny_config, tiny_splits):
    config = tiny_config.replace(method={"name": name}, noise={"type": "symmetric", "rate": 0.2})
    trainer = Trainer(config, tiny_splits)
    metrics = trainer.fit()
    assert metrics["status"] == "complete" and len(metrics["epochs"]) == 2
    assert not torch.isnan(trainer.stats.loss).any()  # every sample recorded every epoch

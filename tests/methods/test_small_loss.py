import pytest
import torch

from noisylabels import NoisyLabelsError, Trainer
from noisylabels.functional import small_loss_mask


def test_epoch_selection_ranks_the_previous_epochs_loss(tiny_config, tiny_splits):
    config = tiny_config.replace(method={"name": "small_loss", "options": {"num_gradual": 1}},
                                 noise={"type": "symmetric", "rate": 0.4}, optim={"epochs": 4})
    trainer = Trainer(config, tiny_splits)
    metrics = trainer.fit()
    method = trainer.method
    assert method.schedule == [0.0, 0.4, 0.4, 0.4]
    assert torch.equal(method.selected, small_loss_mask(trainer.stats.loss[2], 0.6))
    last = metrics["epochs"][-1]
    assert last["selection_size"] == int(0.6 * len(trainer.train_y)) and last["selection_precision"] > 0.8
    assert len(last["selection_precision_per_class"]) == 3


def test_batch_selection_trains_on_the_kept_samples_only(tiny_config, tiny_splits):
    config = tiny_config.replace(method={"name": "small_loss", "options": {"per": "batch", "forget_rate": 0.5,
                                                                          "num_gradual": 0}})
    trainer = Trainer(config, tiny_splits)
    batch = next(iter(trainer.loader))
    out = trainer.method.training_step(trainer, batch)
    kept = small_loss_mask(out.losses.detach(), 0.5)
    assert torch.isclose(out.loss, out.losses[kept].mean())
    assert torch.equal(trainer.method.selected[batch.idx], kept)


def test_estimates_the_forget_rate_without_synthetic_noise(tiny_config, tiny_splits):
    method = Trainer(tiny_config.replace(method={"name": "small_loss"}), tiny_splits).method  # noise none
    assert method.rate_source == "estimate" and method.schedule == [0.0, 0.0]  # until epoch 1's estimate
    with pytest.raises(NoisyLabelsError, match="per must be"):
        Trainer(tiny_config.replace(method={"name": "small_loss", "options": {"per": "step"}}), tiny_splits)

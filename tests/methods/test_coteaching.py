import pytest
import torch

from noisylabels import NoisyLabelsError, Trainer
from noisylabels.functional import small_loss_mask


def make(tiny_config, tiny_splits, name="coteaching", **options):
    options.setdefault("num_gradual", 0)
    config = tiny_config.replace(method={"name": name, "options": options}, noise={"type": "symmetric", "rate": 0.4})
    return Trainer(config, tiny_splits)


def test_networks_train_on_each_others_small_loss_samples(tiny_config, tiny_splits):
    trainer = make(tiny_config, tiny_splits)
    batch = next(iter(trainer.loader))
    out = trainer.method.training_step(trainer, batch)
    losses1 = trainer.loss_fn(trainer.models[0](batch.x), batch.y)
    losses2 = trainer.loss_fn(trainer.models[1](batch.x), batch.y)
    keep1, keep2 = small_loss_mask(losses1.detach(), 0.6), small_loss_mask(losses2.detach(), 0.6)
    assert torch.isclose(out.loss, losses1[keep2].mean() + losses2[keep1].mean(), atol=1e-5)
    assert not torch.equal(keep1, keep2)  # different initialisations pick differently


def test_plus_without_disagreement_updates_nothing(tiny_config, tiny_splits):
    trainer = make(tiny_config, tiny_splits, "coteaching_plus")
    trainer.models[1].load_state_dict(trainer.models[0].state_dict())  # identical nets agree everywhere
    out = trainer.method.training_step(trainer, next(iter(trainer.loader)))
    assert out.loss.item() == 0.0 and not trainer.method.selected.any()


def test_predict_with_both_averages_softmax(tiny_config, tiny_splits):
    trainer = make(tiny_config, tiny_splits, predict_with="both")
    x = trainer.data.test.x[:5]
    expected = (torch.softmax(trainer.models[0](x), 1) + torch.softmax(trainer.models[1](x), 1)) / 2
    assert torch.allclose(trainer.method.predict(trainer, x).exp(), expected, atol=1e-6)
    with pytest.raises(NoisyLabelsError, match="predict_with"):
        make(tiny_config, tiny_splits, predict_with="net3")


def test_full_run_reports_selection(tiny_config, tiny_splits):
    metrics = make(tiny_config, tiny_splits, "coteaching_plus").fit()
    assert "selection_precision" in metrics["epochs"][-1] and metrics["epochs"][-1]["forget_rate"] == 0.4


@pytest.mark.parametrize("shape, epochs, expected", [
    (None, 20, 0),  # vectors
    ((1, 28, 28), 20, 0),  # MNIST-like: the official MNIST setting
    ((3, 32, 32), 200, 20), ((3, 32, 32), 20, 2),  # colour images: the official CIFAR 20 of 200 epochs
    ((1, 64, 64), 30, 3),  # large grayscale images are not MNIST-like
])
def test_plus_init_epoch_auto_follows_the_data_shape(tiny_config, shape, epochs, expected):
    from noisylabels import LabeledData, Splits

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(40, 6, generator=gen) if shape is None else torch.randn(40, *shape, generator=gen)
    data = LabeledData(x, torch.arange(40) % 2, 2)
    config = tiny_config.replace(method={"name": "coteaching_plus"}, optim={"epochs": epochs})
    trainer = Trainer(config, Splits(data, data))
    assert trainer.method.init_epoch == expected
    assert trainer.method.report(trainer)["init_epoch"] == expected
    explicit = tiny_config.replace(method={"name": "coteaching_plus", "options": {"init_epoch": 5}},
                                   optim={"epochs": epochs}, run={"overwrite": True})
    assert Trainer(explicit, Splits(data, data)).method.init_epoch == 5
    with pytest.raises(NoisyLabelsError, match="init_epoch must be one of 'auto' or a whole number >= 0"):
        Trainer(explicit.replace(method={"options": {"init_epoch": -1}}), Splits(data, data))

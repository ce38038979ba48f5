"""RDI: the loss plus lam ||theta - theta(0)||^2; lam = 0 is plain training."""
import pytest
import torch

from noisylabels import NoisyLabelsError, Trainer


def make(tiny_config, tiny_splits, method="rdi", epochs=2, **options):
    config = tiny_config.replace(method={"name": method, "options": options}, optim={"epochs": epochs},
                                 noise={"type": "symmetric", "rate": 0.4}, run={"overwrite": True})
    return Trainer(config, tiny_splits)


def test_the_penalty_is_the_squared_distance_to_the_initial_weights(tiny_config, tiny_splits):
    trainer = make(tiny_config, tiny_splits, lam=0.5)
    model = trainer.models[0]
    initial = [p.detach().clone() for p in model.parameters()]
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1)
    expected = sum(((p - p0) ** 2).sum() for p, p0 in zip(model.parameters(), initial))
    assert torch.isclose(trainer.method.distance(model), expected)
    batch = next(iter(trainer.loader))
    out = trainer.method.training_step(trainer, batch)
    assert torch.isclose(out.loss, out.losses.mean() + 0.5 * expected)


def test_lam_zero_trains_exactly_as_ce(tiny_config, tiny_splits):
    plain = make(tiny_config, tiny_splits, method="ce").fit()
    rdi = make(tiny_config, tiny_splits, lam=0.0).fit()
    assert [r["test_acc"] for r in rdi["epochs"]] == [r["test_acc"] for r in plain["epochs"]]


def test_a_strong_penalty_keeps_the_weights_near_their_start(tiny_config, tiny_splits):
    free = make(tiny_config, tiny_splits, lam=0.0).fit()["epochs"][-1]["distance_to_init"]
    held = make(tiny_config, tiny_splits, lam=1.0).fit()["epochs"][-1]["distance_to_init"]
    assert held < 0.5 * free


def test_a_negative_lam_is_one_line(tiny_config, tiny_splits):
    with pytest.raises(NoisyLabelsError, match="lam"):
        make(tiny_config, tiny_splits, lam=-1.0)

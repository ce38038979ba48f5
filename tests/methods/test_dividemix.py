import re
from pathlib import Path

import pytest
import torch

from noisylabels import NoisyLabelsError, Trainer
from noisylabels.functional.gmm import gmm_1d
from noisylabels.methods.dividemix import published_lambda_u
from noisylabels.methods.semi import MixBatch


def make(tiny_config, tiny_splits, epochs=3, noise=None, **options):
    config = tiny_config.replace(method={"name": "dividemix", "options": options}, optim={"epochs": epochs},
                                 noise=noise or {"type": "symmetric", "rate": 0.4})
    return Trainer(config, tiny_splits)


def test_each_network_trains_on_the_other_ones_division(tiny_config, tiny_splits):
    trainer = make(tiny_config, tiny_splits, epochs=3, warmup=1)
    method = trainer.method
    seen = []
    step = method.training_step
    method.training_step = lambda t, b: (seen.append((b, [None if p is None else p.clone() for p in method.clean_prob])), step(t, b))[1]
    metrics = trainer.fit()
    mixed = [(b, probs) for b, probs in seen if isinstance(b, MixBatch)]
    assert {b.net for b, _ in mixed} == {0, 1}
    for b, probs in mixed:
        other = probs[1 - b.net]
        assert (other[b.labeled.idx] > 0.5).all() and torch.equal(b.clean_prob, other[b.labeled.idx])
        if (other <= 0.5).any():
            assert (other[b.unlabeled.idx] <= 0.5).all()
    # The clean probability is the GMM posterior of the low-loss component on min-max normalised losses.
    losses = trainer.stats.loss[2]
    normalised = (losses - losses.min()) / (losses.max() - losses.min())
    assert torch.allclose(trainer.stats.values["clean_prob"], gmm_1d(normalised).posterior[:, 0].float(), atol=1e-5)
    assert [row["stage"] for row in metrics["epochs"]] == ["warmup", "mixmatch", "mixmatch"]
    assert "net2_selection_precision" in metrics["epochs"][-1]
    assert metrics["report"]["lambda_u"] == 25.0  # the paper's value for 40% symmetric noise, <= 10 classes


def test_a_mixmatch_step_only_gives_gradients_to_its_network(tiny_config, tiny_splits):
    trainer = make(tiny_config, tiny_splits, epochs=2, warmup=1)
    trainer.fit()
    method = trainer.method
    batch = next(iter(method.batches(trainer, 1)))
    for m in trainer.models:
        m.zero_grad(set_to_none=True)
    method.training_step(trainer, batch).loss.backward()
    trained, other = trainer.models[batch.net], trainer.models[1 - batch.net]
    assert all(p.grad is not None for p in trained.parameters())
    assert all(p.grad is None for p in other.parameters())


def test_prediction_sums_both_networks_logits(tiny_config, tiny_splits):
    trainer = make(tiny_config, tiny_splits, epochs=2, warmup=1)
    trainer.fit()
    x = trainer.data.test.x
    for m in trainer.models:
        m.eval()
    assert torch.allclose(trainer.method.predict(trainer, x), trainer.models[0](x) + trainer.models[1](x))


def test_confidence_penalty_is_on_for_asymmetric_noise(tiny_config, tiny_splits):
    assert make(tiny_config, tiny_splits, noise={"type": "pair", "rate": 0.3}).method.penalty is True
    assert make(tiny_config, tiny_splits).method.penalty is False


def test_published_lambda_u():
    assert published_lambda_u("symmetric", 0.2, 10) == 0.0
    assert published_lambda_u("symmetric", 0.5, 10) == 25.0
    assert published_lambda_u("symmetric", 0.9, 10) == 50.0
    assert published_lambda_u("symmetric", 0.5, 100) == 150.0
    assert published_lambda_u("asymmetric", 0.4, 10) == 0.0
    assert published_lambda_u("file", 0.0, 10) == 25.0


@pytest.mark.parametrize("options, message", [
    ({"warmup": 3}, "warmup must be in"),
    ({"p_threshold": 1.0}, "p_threshold"),
    ({"lambda_u": "high"}, "lambda_u"),
])
def test_bad_options(tiny_config, tiny_splits, options, message):
    with pytest.raises(NoisyLabelsError, match=message):
        make(tiny_config, tiny_splits, epochs=3, **options)


@pytest.mark.parametrize("loss", ["gce", "ce+sr"])
def test_other_losses_are_refused_before_training(tiny_config, tiny_splits, loss):
    """Before: method.loss was silently ignored (every DivideMix loss is cross-entropy)."""
    config = tiny_config.replace(method={"name": "dividemix", "loss": loss}, optim={"epochs": 3},
                                 noise={"type": "symmetric", "rate": 0.4})
    message = re.escape(f"would ignore method.loss={loss}; leave method.loss at ce")
    with pytest.raises(NoisyLabelsError, match=message) as error:
        Trainer(config, tiny_splits)
    assert "\n" not in str(error.value)
    assert not Path(tiny_config.run.out).exists()  # refused before any file is written

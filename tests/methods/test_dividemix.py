import re
from pathlib import Path

import pytest
import torch

from noisylabels import NoisyLabelsError, Trainer
from noisylabels.functional.gmm import gmm_1d
from noisylabels.methods import dividemix as dividemix_module
from noisylabels.methods.dividemix import ashman_d, published_lambda_u
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


def fake_separation(monkeypatch, per_check):
    """Ashman's D per auto check (the smaller network's); the second network always separated."""
    values = iter(d for check in per_check for d in (check, 99.0))
    monkeypatch.setattr(dividemix_module, "ashman_d", lambda gmm: next(values))


def test_auto_warmup_stops_when_the_separation_stops_growing(tiny_config, tiny_splits, monkeypatch):
    # D per check (epochs 1, 2, ...): separated at epoch 2, best at 3, then two checks below the best.
    fake_separation(monkeypatch, [0.5, 2.1, 3.0, 2.5, 2.8] + [3.5] * 20)
    metrics = make(tiny_config, tiny_splits, epochs=20).fit()  # cap: 30% of 20 = 6 epochs
    rows = metrics["epochs"]
    assert [row["stage"] for row in rows[:6]] == ["warmup"] * 5 + ["mixmatch"]
    assert "gmm_separation" not in rows[0]  # at least one epoch: nothing checked before epoch 1
    assert [rows[e]["gmm_separation"] for e in range(1, 6)] == [0.5, 2.1, 3.0, 2.5, 2.8]
    report = metrics["report"]
    assert (report["warmup"], report["warmup_source"], report["warmup_separation"]) == (5, "auto", 2.8)


def test_auto_warmup_goes_on_while_the_separation_grows(tiny_config, tiny_splits, monkeypatch):
    fake_separation(monkeypatch, [2.5, 2.4, 2.6, 2.5, 2.7, 2.8] + [1.0] * 20)  # never 2 checks below the best
    metrics = make(tiny_config, tiny_splits, epochs=20).fit()
    assert metrics["report"]["warmup"] == 6  # the cap


def test_auto_warmup_stops_at_30_percent_of_the_budget(tiny_config, tiny_splits, monkeypatch):
    fake_separation(monkeypatch, [0.1] * 20)
    metrics = make(tiny_config, tiny_splits, epochs=10).fit()
    assert [row["stage"] for row in metrics["epochs"]][:4] == ["warmup"] * 3 + ["mixmatch"]
    assert metrics["report"]["warmup"] == 3 and metrics["report"]["warmup_separation"] == 0.1


def test_auto_warmup_on_real_losses_reports_ashmans_d(tiny_config, tiny_splits):
    trainer = make(tiny_config, tiny_splits, epochs=20)
    metrics = trainer.fit()
    warmup, rows = trainer.method.warmup, metrics["epochs"]
    assert 1 <= warmup <= 6
    checked = [rows[e]["gmm_separation"] for e in range(1, warmup + 1)]
    if warmup < 6:  # stopped before the cap: separated, then two checks without a new best
        assert max(checked) >= 2 and max(checked[-2:]) <= max(checked[:-2])
    # Network 1's D, from the losses the division recorded, is at least the reported (smaller) one.
    losses = trainer.stats.loss[warmup]
    d = ashman_d(gmm_1d((losses - losses.min()) / (losses.max() - losses.min())))
    assert d >= rows[warmup]["gmm_separation"] - 1e-4
    # Two bumps are separated; one (normal or skewed, as early-training losses) is not, even after the fit.
    gen = torch.Generator().manual_seed(0)
    bumps = torch.cat([0.3 * torch.randn(600, generator=gen), 3 + 0.5 * torch.randn(400, generator=gen)])
    one = torch.randn(2000, generator=gen)
    assert ashman_d(gmm_1d(bumps)) > 2 > max(ashman_d(gmm_1d(one)), ashman_d(gmm_1d(one.exp())))


def test_lambda_u_ramps_over_its_fraction_of_the_stage_steps(tiny_config, tiny_splits):
    trainer = make(tiny_config, tiny_splits, epochs=5, warmup=1, lambda_u=25, rampup=0.5)
    method, seen = trainer.method, {0: [], 1: []}
    step = method.training_step

    def spy(t, b):
        out = step(t, b)
        if isinstance(b, MixBatch):
            seen[b.net].append((t.epoch, method.weight_u[b.net]))
        return out

    method.training_step = spy
    metrics = trainer.fit()
    for net in (0, 1):
        # Half of the 4 MixMatch epochs, in steps, as planned from the first one's length.
        first = sum(epoch == 1 for epoch, _ in seen[net])
        ramp = method.ramp_steps[net]
        assert ramp == 0.5 * 4 * first
        weights = [w for _, w in seen[net]]
        assert weights == pytest.approx([25 * min(1.0, k / ramp) for k in range(len(weights))])
        assert len(weights) > ramp and weights[-1] == 25 and max(weights[:int(ramp)]) < 25
    assert metrics["report"]["lambda_u_ramp_steps"] == method.ramp_steps
    assert metrics["epochs"][-1]["lambda_u_weight"] == 25


def test_rampup_epochs_is_gone(tiny_config, tiny_splits):
    with pytest.raises(NoisyLabelsError, match="rampup_epochs"):
        make(tiny_config, tiny_splits, rampup_epochs=16)
    with pytest.raises(NoisyLabelsError, match=r"rampup must be in \[0, 1\]"):
        make(tiny_config, tiny_splits, rampup=2)

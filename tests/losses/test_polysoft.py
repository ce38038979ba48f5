import math

import pytest
import torch

from noisylabels.errors import NoisyLabelsError
from noisylabels.losses import create_loss


def ce_row(row: list[float], label: int) -> float:
    top = max(row)
    return top + math.log(sum(math.exp(v - top) for v in row)) - row[label]


@pytest.mark.parametrize("t, lam", [(2.0, 2.0), (1.5, 3.0), (4.0, 1.0)])
def test_matches_reference(batch, t, lam):
    logits, labels = batch
    expected = []
    for row, y in zip(logits.tolist(), labels.tolist()):
        loss = ce_row(row, y)
        weight = (1 - loss / lam) ** (1 / (t - 1)) if loss < lam else 0.0
        expected.append(weight * loss)
    out = create_loss("polysoft", t=t, lam=lam)(logits, labels)
    assert out.shape == (20,) and out.dtype == torch.float32
    assert torch.allclose(out, torch.tensor(expected), atol=1e-5)


def test_samples_at_or_above_lambda_get_zero_weight(batch):
    logits, labels = batch
    ce = create_loss("ce")(logits, labels)
    out = create_loss("polysoft", lam=2.0)(logits, labels)
    hard = ce >= 2.0
    assert hard.any() and (~hard).any()
    assert torch.all(out[hard] == 0) and torch.all(out[~hard] > 0)


def test_gradient_is_weight_times_ce_gradient(batch):
    """The weight is held constant: d(v l)/dz = v dl/dz, not v dl/dz + l dv/dz."""
    logits, labels = batch
    logits = logits.double().requires_grad_()
    create_loss("polysoft", t=1.5, lam=3.0)(logits, labels).sum().backward()
    z = logits.detach().requires_grad_()
    ce = torch.nn.functional.cross_entropy(z, labels, reduction="none")
    weights = (1 - ce.detach() / 3.0).clamp_min(0) ** 2
    (weights * ce).sum().backward()
    assert torch.allclose(logits.grad, z.grad, atol=1e-12)


def test_set_epoch_grows_lambda():
    loss = create_loss("polysoft", lam=2.0, growth=1.5)
    assert loss.current_lam == 2.0
    loss.set_epoch(2)
    assert loss.current_lam == pytest.approx(4.5)
    loss.set_epoch(0)
    assert loss.current_lam == 2.0
    fixed = create_loss("polysoft", lam=2.0)
    fixed.set_epoch(10)
    assert fixed.current_lam == 2.0


def test_growing_lambda_admits_harder_samples(batch):
    logits, labels = batch
    loss = create_loss("polysoft", lam=1.0, growth=2.0)
    before = (loss(logits, labels) > 0).sum()
    loss.set_epoch(3)  # lam 8
    assert (loss(logits, labels) > 0).sum() > before


def test_losses_without_a_schedule_ignore_set_epoch():
    ce = create_loss("ce")
    ce.set_epoch(5)  # the engine calls it on every loss; a no-op here
    assert ce.grad_clip is None


@pytest.mark.parametrize("options, message", [
    ({"t": 1.0}, "t must be > 1"), ({"t": 0.5}, "t must be > 1"), ({"lam": 0.0}, "lam must be > 0"),
    ({"growth": 0.9}, "growth must be >= 1"),
])
def test_bad_options(options, message):
    with pytest.raises(NoisyLabelsError, match=message):
        create_loss("polysoft", **options)


def test_default_age_lets_an_untrained_network_learn():
    loss = create_loss("polysoft")
    uniform = torch.zeros(4, 10)  # loss ln 10 for every sample
    out = loss(uniform, torch.arange(4))
    assert loss.current_lam == pytest.approx(1.5 * math.log(10)) and (out > 0).all()

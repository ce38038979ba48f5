import math

import pytest
import torch

from noisylabels.errors import NoisyLabelsError
from noisylabels.losses import create_loss
from noisylabels.losses.normalized import log_one_minus_probs


def softmax_row(row: list[float]) -> list[float]:
    top = max(row)
    exps = [math.exp(v - top) for v in row]
    return [e / sum(exps) for e in exps]


def focal_row(p: list[float], gamma: float) -> list[float]:
    return [-(1 - pk) ** gamma * math.log(pk) for pk in p]


def reference(logits: torch.Tensor, labels: torch.Tensor, per_sample) -> torch.Tensor:
    """per_sample(probabilities, label) row by row in python floats."""
    return torch.tensor([per_sample(softmax_row(row), y) for row, y in zip(logits.tolist(), labels.tolist())])


def nce_ref(p, y):
    return -math.log(p[y]) / -sum(math.log(pk) for pk in p)


def test_nce_matches_reference_and_lies_in_unit_interval(batch):
    logits, labels = batch
    out = create_loss("nce")(logits, labels)
    assert out.shape == (20,) and out.dtype == torch.float32
    assert torch.allclose(out, reference(logits, labels, nce_ref), atol=1e-5)
    assert torch.all((out >= 0) & (out <= 1))


def test_nce_rce_matches_reference(batch):
    logits, labels = batch
    expected = reference(logits, labels, lambda p, y: 10 * nce_ref(p, y) + 0.1 * -math.log(1e-4) * (1 - p[y]))
    assert torch.allclose(create_loss("nce_rce", alpha=10.0, beta=0.1)(logits, labels), expected, atol=1e-5)


@pytest.mark.parametrize("gamma", [0.5, 1.0, 2.0])
def test_focal_matches_reference(batch, gamma):
    logits, labels = batch
    expected = reference(logits, labels, lambda p, y: focal_row(p, gamma)[y])
    assert torch.allclose(create_loss("focal", gamma=gamma)(logits, labels), expected, atol=1e-5)


@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_nfl_matches_reference_and_lies_in_unit_interval(batch, gamma):
    logits, labels = batch
    expected = reference(logits, labels, lambda p, y: focal_row(p, gamma)[y] / sum(focal_row(p, gamma)))
    out = create_loss("nfl", gamma=gamma)(logits, labels)
    assert torch.allclose(out, expected, atol=1e-5)
    assert torch.all((out >= 0) & (out <= 1))


def test_focal_gamma_zero_is_ce(batch):
    logits, labels = batch
    assert torch.allclose(create_loss("focal", gamma=0.0)(logits, labels), create_loss("ce")(logits, labels), atol=1e-6)


def test_nfl_gamma_zero_is_nce(batch):
    logits, labels = batch
    assert torch.allclose(create_loss("nfl", gamma=0.0)(logits, labels), create_loss("nce")(logits, labels), atol=1e-6)


def test_defaults():
    assert create_loss("focal").gamma == 2.0 and create_loss("nfl").gamma == 0.5
    apl = create_loss("nce_rce")
    assert (apl.alpha, apl.beta) == (1.0, 1.0)


def test_log_one_minus_probs_is_accurate_when_confident():
    """Where p_top rounds to 1 in float32, log(1 - p_top) must still be the log of the others' mass."""
    logits = torch.tensor([[40.0, 0.0, -3.0], [0.0, 0.0, 0.0], [5.0, 5.0, -60.0]])
    out = log_one_minus_probs(torch.log_softmax(logits, 1))
    expected = torch.log1p(-torch.softmax(logits.double(), 1))
    expected[0, 0] = torch.logsumexp(torch.log_softmax(logits.double(), 1)[0, 1:], 0)  # float64 1 - p rounds too
    assert torch.isfinite(out).all() and torch.allclose(out.double(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name, options", [
    ("nce", {}), ("nce_rce", {}), ("focal", {}), ("focal", {"gamma": 0.5}), ("nfl", {}), ("nfl", {"gamma": 0.0}),
])
def test_gradcheck(name, options, gradcheck_loss):
    assert gradcheck_loss(create_loss(name, **options))


@pytest.mark.parametrize("name, options", [
    ("focal", {"gamma": -1.0}), ("nfl", {"gamma": -0.5}), ("nce_rce", {"alpha": -1.0}), ("nce_rce", {"beta": -1.0}),
])
def test_bad_options(name, options):
    with pytest.raises(NoisyLabelsError, match=name):
        create_loss(name, **options)

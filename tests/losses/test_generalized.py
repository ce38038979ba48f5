import math

import pytest
import torch

from noisylabels.errors import NoisyLabelsError
from noisylabels.losses import create_loss


def softmax_row(row: list[float]) -> list[float]:
    top = max(row)
    exps = [math.exp(v - top) for v in row]
    return [e / sum(exps) for e in exps]


@pytest.mark.parametrize("q", [0.1, 0.7, 1.0])
def test_gce_matches_reference(batch, q):
    logits, labels = batch
    expected = [(1 - softmax_row(row)[y] ** q) / q for row, y in zip(logits.tolist(), labels.tolist())]
    out = create_loss("gce", q=q)(logits, labels)
    assert out.shape == (20,) and out.dtype == torch.float32
    assert torch.allclose(out, torch.tensor(expected), atol=1e-5)


@pytest.mark.parametrize("q", [0.1, 0.7, 1.0])
def test_ngce_matches_reference(batch, q):
    logits, labels = batch
    expected = []
    for row, y in zip(logits.tolist(), labels.tolist()):
        p = softmax_row(row)
        expected.append((1 - p[y] ** q) / (len(p) - sum(pk ** q for pk in p)))
    out = create_loss("ngce", q=q)(logits, labels)
    assert torch.allclose(out, torch.tensor(expected), atol=1e-5)


def test_gce_small_q_approaches_ce(batch):
    logits, labels = batch
    ce = create_loss("ce")(logits, labels)
    gce = create_loss("gce", q=1e-4)(logits, labels)
    # (1 - e^(-q l))/q lies in [l - q l^2/2, l]: the gap is second order in q, so it scales with l^2.
    assert torch.all(gce <= ce + 1e-5) and torch.all(ce - gce <= 1e-4 * ce**2 / 2 + 1e-5)
    moderate = logits / 3  # CE of a few nats: within 1e-3
    assert torch.allclose(create_loss("gce", q=1e-4)(moderate, labels), create_loss("ce")(moderate, labels), atol=1e-3)


def test_gce_q_one_is_mae(batch):
    logits, labels = batch
    assert torch.allclose(create_loss("gce", q=1.0)(logits, labels), create_loss("mae")(logits, labels), atol=1e-6)


def test_ngce_is_normalized_over_labels(batch):
    """sum over all candidate labels of NGCE is 1: the normalization makes it symmetric."""
    logits, _ = batch
    loss = create_loss("ngce")
    total = sum(loss(logits, torch.full((20,), k)) for k in range(5))
    assert torch.allclose(total, torch.ones(20), atol=1e-5)


def test_default_q():
    assert create_loss("gce").q == 0.7 and create_loss("ngce").q == 0.7


@pytest.mark.parametrize("name, q", [("gce", 0.7), ("gce", 0.05), ("ngce", 0.7), ("ngce", 1.0)])
def test_gradcheck(name, q, gradcheck_loss):
    assert gradcheck_loss(create_loss(name, q=q))


@pytest.mark.parametrize("name", ["gce", "ngce"])
@pytest.mark.parametrize("q", [0.0, 1.5, -0.3, float("nan")])
def test_bad_q(name, q):
    with pytest.raises(NoisyLabelsError, match="q must be in"):
        create_loss(name, q=q)


def test_unknown_option_is_reported():
    with pytest.raises(NoisyLabelsError, match="qq"):
        create_loss("gce", qq=1)

import math

import pytest
import torch

from noisylabels.errors import NoisyLabelsError
from noisylabels.losses import create_loss, tempered_softmax


def log_t(x: float, t: float) -> float:
    return math.log(x) if t == 1 else (x ** (1 - t) - 1) / (1 - t)


def exp_t(x: float, t: float) -> float:
    if t == 1:
        return math.exp(x)
    base = 1 + (1 - t) * x
    return base ** (1 / (1 - t)) if base > 0 else 0.0


def tempered_softmax_row(row: list[float], t: float) -> list[float]:
    """High-precision reference: 200 bisection steps on lambda in [max z, max z - log_t(1/C, t)]."""
    lower, upper = max(row), max(row) - log_t(1 / len(row), t)
    for _ in range(200):
        middle = (lower + upper) / 2
        if sum(exp_t(z - middle, t) for z in row) > 1:
            lower = middle
        else:
            upper = middle
    return [exp_t(z - (lower + upper) / 2, t) for z in row]


def bitempered_row(row: list[float], label: int, t1: float, t2: float, smoothing: float) -> float:
    classes = len(row)
    p = tempered_softmax_row(row, t2)
    y = [(1 - smoothing) if k == label else smoothing / (classes - 1) for k in range(classes)]
    loss = 0.0
    for yk, pk in zip(y, p):
        cross = yk * log_t(pk, t1) if yk > 0 else 0.0
        loss += yk * log_t(yk + 1e-10, t1) - cross - (yk ** (2 - t1) - pk ** (2 - t1)) / (2 - t1)
    return loss


@pytest.fixture
def batch():
    torch.manual_seed(0)
    return torch.randn(20, 5, dtype=torch.float64) * 3, torch.randint(0, 5, (20,))


@pytest.mark.parametrize("t", [0.3, 0.7, 0.95, 1.0, 1.2, 1.5, 2.0, 4.0])
def test_tempered_softmax_matches_bisection_reference(batch, t):
    logits, _ = batch
    expected = torch.tensor([tempered_softmax_row(row, t) for row in logits.tolist()], dtype=torch.float64)
    p = tempered_softmax(logits, t, num_iters=60)  # enough fixed-point steps for float64 (t > 1)
    assert torch.allclose(p, expected, atol=1e-9)
    p32 = tempered_softmax(logits.float(), t, num_iters=60)
    assert p32.dtype == torch.float32 and torch.allclose(p32.double(), expected, atol=1e-5)


@pytest.mark.parametrize("t", [0.5, 1.0, 1.5, 2.0])
def test_tempered_softmax_rows_sum_to_one(batch, t):
    logits, _ = batch
    assert torch.allclose(tempered_softmax(logits.float(), t, num_iters=30).sum(1), torch.ones(20), atol=1e-5)
    # The official 5 fixed-point steps: close, not exact, for t > 1.
    assert torch.allclose(tempered_softmax(logits.float(), t, num_iters=5).sum(1), torch.ones(20), atol=2e-2)


def test_tempered_softmax_below_one_has_finite_support():
    p = tempered_softmax(torch.tensor([[3.0, 0.0, -10.0]]), 0.5)
    assert p[0, 2] == 0 and p[0, 0] > 0 and torch.isclose(p.sum(), torch.tensor(1.0))


@pytest.mark.parametrize("t1, t2, smoothing", [
    (1.0, 1.0, 0.0), (0.8, 1.0, 0.0), (0.8, 1.2, 0.0), (0.5, 2.0, 0.1), (1.0, 1.5, 0.2), (0.5, 0.8, 0.0),
    (0.7, 0.9, 0.1),
])
def test_loss_matches_reference(batch, t1, t2, smoothing):
    logits, labels = batch
    expected = [bitempered_row(row, y, t1, t2, smoothing) for row, y in zip(logits.tolist(), labels.tolist())]
    loss = create_loss("bitempered", t1=t1, t2=t2, label_smoothing=smoothing, num_iters=60)
    out = loss(logits.float(), labels)
    assert out.shape == (20,) and out.dtype == torch.float32
    assert torch.allclose(out.double(), torch.tensor(expected, dtype=torch.float64), atol=1e-4, rtol=1e-5)


def test_temperatures_one_is_cross_entropy(batch):
    logits, labels = batch
    out = create_loss("bitempered")(logits.float(), labels)
    assert torch.allclose(out, create_loss("ce")(logits.float(), labels), atol=1e-5)


def test_smoothing_follows_official_convention():
    """With t1 = t2 = 1 the loss is CE against the smoothed target, minus its entropy (a KL divergence)."""
    logits, labels, s = torch.randn(6, 4), torch.randint(0, 4, (6,)), 0.3
    target = torch.full((6, 4), s / 3).scatter_(1, labels[:, None], 1 - s)
    kl = (target * (target.log() - torch.log_softmax(logits, 1))).sum(1)
    assert torch.allclose(create_loss("bitempered", label_smoothing=s)(logits, labels), kl, atol=1e-5)


@pytest.mark.parametrize("t1, t2, smoothing", [
    (1.0, 1.0, 0.0), (0.8, 1.2, 0.0), (0.5, 2.0, 0.1), (0.6, 0.8, 0.0), (0.9, 0.7, 0.1),
])
def test_gradcheck(t1, t2, smoothing, gradcheck_loss):
    # Enough fixed-point steps that the forward is exact in float64; then the implicit gradient is exact too.
    loss = create_loss("bitempered", t1=t1, t2=t2, label_smoothing=smoothing, num_iters=60)
    assert gradcheck_loss(loss)


@pytest.mark.parametrize("options, message", [
    ({"t1": 1.5}, "t1 must be in"), ({"t1": 0.0}, "t1 must be in"), ({"t2": 0.0}, "t2 must be"),
    ({"label_smoothing": 1.0}, "label_smoothing"), ({"label_smoothing": -0.1}, "label_smoothing"),
    ({"num_iters": 0}, "num_iters"), ({"num_iters": 2.5}, "num_iters"),
])
def test_bad_options(options, message):
    with pytest.raises(NoisyLabelsError, match=message):
        create_loss("bitempered", **options)

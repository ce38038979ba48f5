import math

import pytest
import torch

from noisylabels.errors import NoisyLabelsError
from noisylabels.losses import create_loss


def log_softmax_row(row: list[float]) -> list[float]:
    top = max(row)
    log_total = top + math.log(sum(math.exp(v - top) for v in row))
    return [v - log_total for v in row]


def reference(logits: torch.Tensor, labels: torch.Tensor, per_sample) -> torch.Tensor:
    """Apply per_sample(probabilities, log-probabilities, label) row by row in python floats."""
    out = []
    for row, label in zip(logits.tolist(), labels.tolist()):
        log_p = log_softmax_row(row)
        out.append(per_sample([math.exp(v) for v in log_p], log_p, label))
    return torch.tensor(out, dtype=torch.float64)


def rce_literal(p, log_p, y):
    """-sum_k p_k log(clip(onehot_k, 1e-4, 1)), written out over classes."""
    return -sum(p[k] * math.log(min(max(1.0 if k == y else 0.0, 1e-4), 1.0)) for k in range(len(p)))


def test_mae_matches_reference(batch):
    logits, labels = batch
    for scale in (1.0, 2.0):
        expected = reference(logits, labels, lambda p, lp, y: scale * (1 - p[y]))
        out = create_loss("mae", scale=scale)(logits, labels)
        assert out.shape == (20,) and out.dtype == torch.float32
        assert torch.allclose(out.double(), expected, atol=1e-5)


def test_rce_closed_form_matches_literal_sum(batch):
    logits, labels = batch
    expected = reference(logits, labels, rce_literal)
    assert torch.allclose(create_loss("rce")(logits, labels).double(), expected, atol=1e-5)


def test_sce_matches_reference(batch):
    logits, labels = batch
    expected = reference(logits, labels, lambda p, lp, y: 0.5 * -lp[y] + 2.0 * rce_literal(p, lp, y))
    out = create_loss("sce", alpha=0.5, beta=2.0)(logits, labels)
    assert torch.allclose(out.double(), expected, atol=1e-5)


def test_sce_rce_term_is_scaled_mae(batch):
    logits, labels = batch
    rce_only = create_loss("sce", alpha=0.0, beta=1.0)(logits, labels)
    p_label = torch.softmax(logits, 1).gather(1, labels[:, None]).squeeze(1)
    assert torch.allclose(rce_only, -math.log(1e-4) * (1 - p_label), atol=1e-5)


def test_sce_defaults_are_cifar10_values():
    loss = create_loss("sce")
    assert (loss.alpha, loss.beta) == (0.1, 1.0)


@pytest.mark.parametrize("name, options", [("mae", {}), ("mae", {"scale": 2.0}), ("rce", {}), ("sce", {})])
def test_gradcheck(name, options, gradcheck_loss):
    assert gradcheck_loss(create_loss(name, **options))


@pytest.mark.parametrize("name, options", [
    ("sce", {"alpha": -0.1}), ("sce", {"beta": -1.0}), ("sce", {"alpha": float("nan")}),
    ("mae", {"scale": 0.0}), ("mae", {"scale": -2.0}),
])
def test_bad_options(name, options):
    with pytest.raises(NoisyLabelsError, match=name):
        create_loss(name, **options)

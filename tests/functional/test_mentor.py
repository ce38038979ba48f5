import math

import pytest
import torch

from noisylabels.errors import NoisyLabelsError
from noisylabels.functional import LossMovingAverage, mentor_mix, threshold_mentor
from noisylabels.functional.mentor import sample_partners
from noisylabels.functional.mixmatch import mixup_lambda


def one_hot(y, c=4):
    return torch.nn.functional.one_hot(y, c).float()


def test_distrusted_samples_are_dominated_by_their_partner():
    x, y = torch.randn(64, 3, 2, 2), torch.arange(64) % 4
    v = (torch.arange(64) % 2).float()  # odd samples trusted
    for seed in range(5):
        _, _, _, weight = mentor_mix(x, one_hot(y), v, alpha=2.0, generator=torch.Generator().manual_seed(seed))
        assert (weight[v == 1] >= 0.5).all() and (weight[v == 0] <= 0.5).all()
        # One lambda per sample, as the official code draws them: trusted keep lambda_i, distrusted 1 - lambda_i.
        lam = mixup_lambda(2.0, torch.Generator().manual_seed(seed), size=64).float()
        assert torch.allclose(weight, torch.where(v == 1, lam, 1 - lam))
        assert len(set(weight[v == 1].tolist())) > 1


def test_mixed_targets_match_mixed_inputs():
    x, y = torch.randn(32, 1, 3, 3), torch.arange(32) % 4
    v = torch.rand(32)
    mixed_x, mixed_y, partner, weight = mentor_mix(x, one_hot(y), v, 8.0, torch.Generator().manual_seed(1))
    w = weight.view(-1, 1, 1, 1)
    assert torch.allclose(mixed_x, w * x + (1 - w) * x[partner])
    assert torch.allclose(mixed_y.sum(1), torch.ones(32))
    # Each mixed target names the sample's own label with weight w and the partner's with 1 - w.
    assert torch.allclose(mixed_y[torch.arange(32), y], torch.where(y == y[partner], 1.0, weight))
    assert torch.allclose(mixed_y[torch.arange(32), y[partner]], torch.where(y == y[partner], 1.0, 1 - weight))
    # The partner can be recovered from the inputs: x~_i - w_i x_i = (1 - w_i) x_j.
    recovered = (mixed_x - w * x) / (1 - w)
    assert torch.allclose(recovered, x[partner], atol=1e-4)


def test_mix_is_reproducible_and_works_on_vectors():
    x, y, v = torch.randn(10, 5), torch.arange(10) % 4, torch.rand(10)
    a = mentor_mix(x, one_hot(y), v, 2.0, torch.Generator().manual_seed(3))
    b = mentor_mix(x, one_hot(y), v, 2.0, torch.Generator().manual_seed(3))
    assert all(torch.equal(p, q) for p, q in zip(a, b))
    assert a[0].shape == (10, 5)
    with pytest.raises(NoisyLabelsError, match="as many"):
        mentor_mix(x, one_hot(y), v[:5], 2.0)
    with pytest.raises(NoisyLabelsError, match="alpha"):
        mentor_mix(x, one_hot(y), v, 0.0)


def test_partners_follow_the_softmax_of_the_weights():
    n, draws = 16, 400
    v = torch.tensor([1.0] * (n // 2) + [0.0] * (n // 2))
    gen = torch.Generator().manual_seed(0)
    partners = torch.cat([sample_partners(v, gen) for _ in range(draws)])
    share = (partners < n // 2).float().mean().item()
    p = math.e / (math.e + 1)  # softmax mass of the trusted half: 8e / (8e + 8)
    stderr = math.sqrt(p * (1 - p) / len(partners))
    assert abs(share - p) < 4 * stderr
    # Within each half, every sample is equally likely.
    counts = torch.bincount(partners, minlength=n).float()
    expected = len(partners) * torch.softmax(v, 0)
    assert ((counts - expected).abs() < 4 * expected.sqrt()).all()


def test_moving_average_of_the_loss_percentile():
    avg = LossMovingAverage(percentile=0.8, decay=0.5)
    first = torch.arange(11.0)  # 80th percentile: 8
    assert avg.update(first).item() == 8.0  # the first batch initialises it to its percentile
    second = torch.arange(11.0) * 2  # 80th percentile: 16
    assert avg.update(second).item() == pytest.approx(0.5 * 8 + 0.5 * 16)
    state = avg.state_dict()
    restored = LossMovingAverage(0.8, 0.5)
    restored.load_state_dict(state)
    assert restored.value.item() == pytest.approx(12.0)
    with pytest.raises(NoisyLabelsError, match="fraction"):
        LossMovingAverage(percentile=80)


def test_threshold_mentor():
    losses = torch.tensor([0.1, 0.5, 0.9, 2.0])
    assert torch.equal(threshold_mentor(losses, 0.5), torch.tensor([1.0, 0.0, 0.0, 0.0]))
    assert torch.equal(threshold_mentor(losses, torch.tensor(1.0)), torch.tensor([1.0, 1.0, 1.0, 0.0]))

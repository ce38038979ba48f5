import math

import numpy as np
import pytest
import torch

from noisylabels.errors import NoisyLabelsError
from noisylabels.functional import (classwise_select, forget_rate_schedule, rsl_keep_counts, rsl_weights,
                                    small_loss_mask, window_mean)


def slow_classwise(scores, labels, keep):
    mask = [False] * len(scores)
    for c in range(len(keep)):
        members = sorted((i for i in range(len(scores)) if labels[i] == c), key=lambda i: (scores[i], i))
        for i in members[:keep[c]]:
            mask[i] = True
    return mask


@pytest.mark.parametrize("seed", range(5))
def test_classwise_select_matches_reference(seed):
    gen = torch.Generator().manual_seed(seed)
    scores = torch.randint(0, 20, (300,), generator=gen).float()  # many ties: order must be stable
    labels = torch.randint(0, 6, (300,), generator=gen)
    keep = torch.randint(0, 70, (6,), generator=gen)
    got = classwise_select(scores, labels, keep)
    assert got.tolist() == slow_classwise(scores.tolist(), labels.tolist(), keep.tolist())
    counts = torch.bincount(labels, minlength=6)
    assert torch.equal(torch.bincount(labels[got], minlength=6), torch.minimum(counts, keep))


@pytest.mark.parametrize("seed", range(3))
def test_small_loss_mask_matches_reference(seed):
    losses = torch.rand(101, generator=torch.Generator().manual_seed(seed))
    mask = small_loss_mask(losses, 0.3)
    expected = sorted(range(101), key=lambda i: losses[i].item())[:30]
    assert sorted(mask.nonzero().flatten().tolist()) == sorted(expected)
    assert small_loss_mask(losses, 1.0).all() and small_loss_mask(losses, 1e-6).sum() == 1


@pytest.mark.parametrize("keep", [0.0, -0.1, 1.5])
def test_keep_ratio_outside_range(keep):
    with pytest.raises(NoisyLabelsError, match=r"keep ratio must be in \(0, 1\]"):
        small_loss_mask(torch.rand(5), keep)


def test_rsl_keep_counts_official_rule():
    eta = [0.4, 0.1, 0.0, 0.6]
    counts = rsl_keep_counts([100, 100, 50, 1000], eta, b=0.2)
    expected = [math.floor(n * max(1 - 1.2 * e, 0.8 * (1 - e)) + 1e-9) for n, e in zip([100, 100, 50, 1000], eta)]
    assert counts.tolist() == expected == [52, 88, 50, 320]
    assert rsl_keep_counts([10, 10], [0.3, 0.3], b=0.0).tolist() == [7, 7]  # b = 0 keeps n(1 - eta)


@pytest.mark.parametrize("sizes, eta, message", [
    ([10, 10], [0.1], "got 1 noise rates for 2 classes"),
    ([10, 10], [0.1, 1.0], r"noise rates must be in \[0, 1\)"),
    ([10, 0], [0.1, 0.1], r"observed class\(es\) \[1\] have no samples"),
])
def test_rsl_keep_counts_bad_input(sizes, eta, message):
    with pytest.raises(NoisyLabelsError, match=message):
        rsl_keep_counts(sizes, eta)


def test_rsl_weights_match_reference():
    gen = torch.Generator().manual_seed(0)
    scores, labels = torch.rand(200, generator=gen) * 5, torch.randint(0, 4, (200,), generator=gen)
    got = rsl_weights(scores, labels)
    for i in range(200):
        members = scores[labels == labels[i]]
        t = (scores[i] - members.min()) / (members.max() - members.min())
        assert math.isclose(got[i].item(), math.exp(math.log(0.7) * t.item()), rel_tol=1e-5)
    assert got.min() >= 0.7 - 1e-6 and got.max() <= 1.0
    # A class whose scores are all equal gets weight 1.
    assert torch.equal(rsl_weights(torch.ones(3), torch.zeros(3, dtype=torch.long), 1), torch.ones(3))


def test_window_mean_ignores_nan():
    history = torch.tensor([[1.0, float("nan")], [3.0, 2.0], [5.0, 4.0]])
    assert window_mean(history, [0, 1]).tolist() == [2.0, 2.0]
    assert window_mean(history, [2]).tolist() == [5.0, 4.0]


def test_forget_rate_schedule_as_coteaching():
    rates = forget_rate_schedule(0.4, epochs=15, num_gradual=5)
    assert np.allclose(rates[:5], np.linspace(0, 0.4, 5)) and rates[5:] == [0.4] * 10
    with pytest.raises(NoisyLabelsError, match="forget_rate"):
        forget_rate_schedule(1.0, 5)

import pytest
import torch

from noisylabels.errors import NoisyLabelsError
from noisylabels.functional import class_weighted_rate, estimate_noise_rates, global_noise_rate, gmm_noise_rates


def test_gmm_estimates_per_class_rates_from_separated_losses():
    gen = torch.Generator().manual_seed(0)
    labels = torch.arange(9000) % 3
    true_eta = torch.tensor([0.1, 0.3, 0.45])
    noisy = torch.rand(9000, generator=gen) < true_eta[labels]
    scores = torch.where(noisy, 2.5 + 0.5 * torch.randn(9000, generator=gen), 0.3 * torch.rand(9000, generator=gen))
    est = estimate_noise_rates("gmm", scores=scores, labels=labels, num_classes=3)
    assert torch.allclose(est.float(), true_eta, atol=0.02)


def test_prediction_estimator_counts_disagreement():
    labels = torch.tensor([0, 0, 0, 0, 1, 1])
    predictions = torch.tensor([0, 1, 1, 0, 1, 1])
    assert estimate_noise_rates("prediction", predictions=predictions, labels=labels, num_classes=3).tolist() == [0.5, 0.0, 0.0]


def test_unknown_estimator():
    with pytest.raises(NoisyLabelsError, match="unknown noise-rate estimator 'magic'"):
        estimate_noise_rates("magic", labels=torch.zeros(2, dtype=torch.long), num_classes=2)


def ce_losses(n: int, rate: float, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropies of a fitted model: clean samples with margins ~ N(4, 1), mislabeled ones with
    margins ~ N(-1, 1.5) on their wrong label (a skewed clean mode and a long noisy one)."""
    noisy = torch.rand(n, generator=gen) < rate
    margins = torch.where(noisy, -1 + 1.5 * torch.randn(n, generator=gen), 4 + torch.randn(n, generator=gen))
    return torch.nn.functional.softplus(-margins), noisy


@pytest.mark.parametrize("rate", [0.1, 0.3, 0.5])
def test_global_estimate_recovers_the_rate_of_a_loss_mixture(rate):
    gen = torch.Generator().manual_seed(0)
    labels = torch.arange(3000) % 3
    losses, noisy = ce_losses(3000, rate, gen)
    assert abs(global_noise_rate(losses, labels, 3) - noisy.float().mean().item()) < 0.04


def test_global_estimate_weights_classes_by_size():
    gen = torch.Generator().manual_seed(1)
    labels = torch.cat([torch.zeros(4000), torch.ones(1000)]).long()  # class 0 four times class 1
    rates = torch.tensor([0.1, 0.5])[labels]
    noisy = torch.rand(5000, generator=gen) < rates
    scores = torch.where(noisy, 2.5 + 0.5 * torch.randn(5000, generator=gen), 0.3 * torch.rand(5000, generator=gen))
    per_class = gmm_noise_rates(scores, labels, 2)
    expected = (4000 * per_class[0] + 1000 * per_class[1]).item() / 5000
    assert global_noise_rate(scores, labels, 2) == pytest.approx(expected)
    assert global_noise_rate(scores, labels, 2) == pytest.approx(0.18, abs=0.02)  # not the class mean 0.3
    assert class_weighted_rate(torch.tensor([0.1, 0.5]), labels, 2) == pytest.approx(0.18)


def test_no_noise_gives_a_small_estimate():
    gen = torch.Generator().manual_seed(2)
    labels = torch.arange(3000) % 3
    losses, _ = ce_losses(3000, 0.0, gen)
    assert global_noise_rate(losses, labels, 3) < 0.1
    assert global_noise_rate(torch.full((30,), 0.2), torch.arange(30) % 3, 3) == 0.0  # nothing to split


def test_unrecorded_samples_are_ignored():
    gen = torch.Generator().manual_seed(3)
    labels = torch.arange(3000) % 3
    losses, noisy = ce_losses(3000, 0.3, gen)
    holes = losses.clone()
    holes[::7] = float("nan")  # never recorded
    assert abs(global_noise_rate(holes, labels, 3) - global_noise_rate(losses, labels, 3)) < 0.02

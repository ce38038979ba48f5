import pytest
import torch

from noisylabels.errors import NoisyLabelsError
from noisylabels.functional import estimate_noise_rates


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

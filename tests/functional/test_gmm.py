import pytest
import torch
from sklearn.mixture import GaussianMixture

from noisylabels.errors import NoisyLabelsError
from noisylabels.functional import gmm_1d


def bimodal(n=6000, seed=0):
    gen = torch.Generator().manual_seed(seed)
    low = torch.randn(int(0.7 * n), generator=gen) * 0.5
    high = 3 + torch.randn(n - len(low), generator=gen) * 0.8
    return torch.cat([low, high])


def test_recovers_the_components():
    fit = gmm_1d(bimodal(), max_iter=100, tol=1e-6)
    assert torch.allclose(fit.means, torch.tensor([0.0, 3.0], dtype=torch.float64), atol=0.05)
    assert torch.allclose(fit.variances.sqrt(), torch.tensor([0.5, 0.8], dtype=torch.float64), atol=0.05)
    assert torch.allclose(fit.weights, torch.tensor([0.7, 0.3], dtype=torch.float64), atol=0.02)
    assert torch.allclose(fit.posterior.sum(1), torch.ones(6000, dtype=torch.float64))


def test_agrees_with_scikit_learn():
    x = bimodal(seed=1)
    ours = gmm_1d(x, max_iter=100, tol=1e-8).posterior[:, 0]
    ref = GaussianMixture(2, max_iter=100, tol=1e-8, reg_covar=5e-4, random_state=0).fit(x[:, None].numpy())
    clean = ref.means_.flatten().argmin()
    theirs = torch.tensor(ref.predict_proba(x[:, None].numpy())[:, clean])
    assert (ours - theirs).abs().max() < 1e-3


def test_bad_input():
    with pytest.raises(NoisyLabelsError, match="NaN"):
        gmm_1d(torch.tensor([1.0, float("nan"), 2.0]))
    with pytest.raises(NoisyLabelsError, match="at least 2"):
        gmm_1d(torch.tensor([1.0]))

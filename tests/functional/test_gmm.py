import pytest
import torch
from sklearn.mixture import GaussianMixture

from noisylabels.errors import NoisyLabelsError
from noisylabels.functional import gmm_1d
from noisylabels.functional.gmm import _m_step, kmeans_1d
from torch.nn.functional import one_hot


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


def loss_mixture(noisy_fraction: float, n: int = 5000, seed: int = 0) -> torch.Tensor:
    """Normalised per-sample losses as DivideMix sees them: clean ones near 0, noisy ones high."""
    gen = torch.Generator().manual_seed(seed)
    noisy = int(noisy_fraction * n)
    clean = torch.rand(n - noisy, generator=gen) ** 3 * 0.6
    x = torch.cat([clean, 0.4 + 0.6 * torch.rand(noisy, generator=gen) ** 0.5])
    return ((x - x.min()) / (x.max() - x.min())).double()


def sklearn_clean_posterior(x, **init):
    ref = GaussianMixture(2, max_iter=10, tol=1e-2, reg_covar=5e-4, **init).fit(x[:, None].numpy())
    return torch.tensor(ref.predict_proba(x[:, None].numpy())[:, ref.means_.flatten().argmin()]), ref


@pytest.mark.parametrize("noisy_fraction", [0.2, 0.5, 0.8])
def test_em_matches_scikit_learn_from_the_same_kmeans_start(noisy_fraction):
    """The official DivideMix call, GaussianMixture(2, max_iter=10, tol=1e-2, reg_covar=5e-4),
    started from our k-means clusters: the same EM steps, the same stopping iteration, posteriors
    equal to float64 rounding."""
    x = loss_mixture(noisy_fraction)
    ours = gmm_1d(x)
    start = one_hot(kmeans_1d(x, 2), 2).double()
    weights, means, variances = _m_step(x, start, 5e-4)
    theirs, ref = sklearn_clean_posterior(x, weights_init=weights.numpy(), means_init=means.numpy()[:, None],
                                          precisions_init=(1 / variances.numpy())[:, None, None])
    assert (ours.posterior[:, 0] - theirs).abs().max() < 1e-3
    assert ours.iterations == ref.n_iter_


@pytest.mark.parametrize("noisy_fraction", [0.2, 0.5, 0.8])
def test_division_matches_scikit_learns_own_kmeans_start(noisy_fraction):
    """With scikit-learn's own k-means start the posteriors differ by up to a few 1e-2 near the
    boundary: its KMeans stops at tol=1e-4, a few assignments before a fixed point, and EM with
    tol=1e-2 stops after 2-10 iterations, so the start shows; scikit-learn differs from itself by
    as much across random_state. Ours runs k-means to its fixed point. The division (w > 0.5),
    what DivideMix uses, agrees on all but a few samples."""
    x = loss_mixture(noisy_fraction)
    clean = gmm_1d(x).posterior[:, 0] > 0.5
    for seed in range(3):
        theirs, _ = sklearn_clean_posterior(x, random_state=seed)
        assert (clean != (theirs > 0.5)).float().mean() < 0.005


def test_a_high_noise_mixture_is_divided_as_scikit_learn_divides_it():
    """80% noise: the old quantile start kept far too many samples at low precision."""
    x = loss_mixture(0.8, seed=3)
    truly_clean = torch.arange(len(x)) < len(x) - int(0.8 * len(x))
    kept = gmm_1d(x).posterior[:, 0] > 0.5
    theirs, _ = sklearn_clean_posterior(x, random_state=0)
    assert abs(kept.float().mean() - (theirs > 0.5).float().mean()) < 0.005
    assert truly_clean[kept].float().mean() > 0.9 and kept.float().mean() < 0.3


def test_kmeans_1d_reaches_a_fixed_point():
    x = bimodal().double()
    labels = kmeans_1d(x, 2)
    centres = torch.stack([x[labels == k].mean() for k in range(2)])
    assert torch.equal((x[:, None] - centres).abs().argmin(1), labels)  # no assignment would move


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

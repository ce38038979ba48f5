import pytest
import torch

from noisylabels.data import make_augment, random_crop, random_flip
from noisylabels.errors import NoisyLabelsError


def slow_crop(image, padding, top, left):
    """Reference: pad one image with zeros and slice a window, one sample at a time."""
    padded = torch.nn.functional.pad(image, (padding,) * 4)
    return padded[:, top:top + image.shape[1], left:left + image.shape[2]]


def test_crop_matches_per_sample_reference():
    x = torch.randn(64, 3, 8, 8)
    gen = torch.Generator().manual_seed(0)
    out = random_crop(x, 2, gen)
    # Every output equals the reference crop at one of the 25 offsets.
    for i in range(len(x)):
        assert any(torch.equal(out[i], slow_crop(x[i], 2, t, l)) for t in range(5) for l in range(5))


def test_crop_uses_all_offsets():
    x = torch.arange(16.0).reshape(1, 1, 4, 4).repeat(2000, 1, 1, 1)
    out = random_crop(x, 1, torch.Generator().manual_seed(1))
    assert len(torch.unique(out.reshape(2000, -1), dim=0)) == 9


def test_flip_flips_about_half():
    x = torch.randn(4000, 1, 2, 3)
    out = random_flip(x, torch.Generator().manual_seed(0))
    flipped = (out == x.flip(3)).all(dim=(1, 2, 3))
    assert torch.equal(out[~flipped], x[~flipped])
    assert abs(flipped.float().mean().item() - 0.5) < 0.05


def test_auto_is_none_for_vectors_and_crop_flip_for_images():
    assert make_augment("auto", (10,)) is None
    aug = make_augment("auto", (1, 8, 8))
    assert aug(torch.randn(5, 1, 8, 8)).shape == (5, 1, 8, 8)
    with pytest.raises(NoisyLabelsError, match="needs images"):
        make_augment("flip", (10,))
    with pytest.raises(NoisyLabelsError, match="unknown augment 'rotate'"):
        make_augment("rotate", (1, 8, 8))


def test_feature_noise_scales_with_each_features_spread():
    from noisylabels.data.augment import feature_noise

    x = torch.randn(5000, 2) * torch.tensor([1.0, 100.0])
    noise = feature_noise(x, 0.1, torch.Generator().manual_seed(0)) - x
    assert torch.allclose(noise.std(0), 0.1 * x.std(0), rtol=0.05)
    assert abs(noise.mean(0) / x.std(0)).max() < 0.01


def test_view_augment_always_augments():
    from noisylabels.data.augment import view_augment

    vectors = torch.randn(8, 4)
    assert not torch.equal(view_augment("auto", (4,))(vectors, torch.Generator().manual_seed(0)), vectors)
    assert view_augment("auto", (1, 8, 8))(torch.randn(3, 1, 8, 8)).shape == (3, 1, 8, 8)
    with pytest.raises(NoisyLabelsError, match="needs augmented views"):
        view_augment("none", (4,))

import math

import numpy as np
import pytest
import torch

from noisylabels.errors import NoisyLabelsError
from noisylabels.functional.mixmatch import (EMA, guess_labels, linear_rampup, mixmatch_mix, mixup_lambda,
                                             refine_labels, sharpen, soft_cross_entropy, soft_mse,
                                             uniform_prior_penalty)


def test_sharpen_matches_the_formula_and_its_limits():
    p = torch.softmax(torch.randn(6, 4), 1)
    t = 0.5
    slow = torch.stack([torch.tensor([v ** (1 / t) for v in row]) / sum(v ** (1 / t) for v in row) for row in p.tolist()])
    assert torch.allclose(sharpen(p, t), slow.float(), atol=1e-6)
    assert torch.allclose(sharpen(p, 1.0), p, atol=1e-6)  # T = 1 changes nothing
    assert torch.equal(sharpen(p, 1e-3).argmax(1), p.argmax(1))
    assert torch.allclose(sharpen(p, 1e-3).max(1).values, torch.ones(6), atol=1e-3)  # T -> 0: one-hot
    with pytest.raises(NoisyLabelsError, match="temperature"):
        sharpen(p, 0.0)


def test_guess_labels_is_the_sharpened_mean_softmax_of_all_views():
    views = [torch.randn(5, 3) for _ in range(4)]
    mean = sum(torch.softmax(v, 1) for v in views) / 4
    assert torch.allclose(guess_labels(views, 0.5), sharpen(mean, 0.5), atol=1e-6)
    assert not guess_labels([torch.randn(2, 3, requires_grad=True)]).requires_grad


def test_refine_labels_interpolates_between_label_and_prediction():
    y = torch.nn.functional.one_hot(torch.tensor([0, 1, 2]), 3).float()
    logits = [torch.randn(3, 3), torch.randn(3, 3)]
    mean = (torch.softmax(logits[0], 1) + torch.softmax(logits[1], 1)) / 2
    w = torch.tensor([1.0, 0.0, 0.3])
    refined = refine_labels(y, logits, w, temperature=1.0)
    assert torch.allclose(refined[0], y[0])  # w = 1: the observed label
    assert torch.allclose(refined[1], mean[1], atol=1e-6)  # w = 0: the prediction
    assert torch.allclose(refined[2], 0.3 * y[2] + 0.7 * mean[2], atol=1e-6)


def test_mixup_lambda_is_folded_seeded_and_beta_distributed():
    gen = torch.Generator().manual_seed(0)
    draws = np.array([mixup_lambda(0.75, gen) for _ in range(4000)])
    assert draws.min() >= 0.5 and draws.max() <= 1.0
    again = torch.Generator().manual_seed(0)
    assert mixup_lambda(0.75, again) == draws[0]
    # max(L, 1 - L) for L ~ Beta(a, a): its mean is 1/2 + E|L - 1/2|; compare with numpy's Beta.
    reference = np.random.default_rng(1).beta(0.75, 0.75, 200000)
    expected = np.maximum(reference, 1 - reference).mean()
    assert abs(draws.mean() - expected) < 4 * draws.std() / math.sqrt(len(draws))
    many = mixup_lambda(0.75, torch.Generator().manual_seed(0), size=1000)
    assert many.shape == (1000,) and many.min() >= 0.5 and len(set(many.tolist())) == 1000
    with pytest.raises(NoisyLabelsError, match="alpha"):
        mixup_lambda(0.0)


def test_mixmatch_mix_mixes_inputs_and_targets_with_one_partner_each():
    x = torch.arange(8.0)[:, None]
    targets = torch.nn.functional.one_hot(torch.arange(8) % 4, 4).float()
    mixed, mixed_targets, lam = mixmatch_mix(x, targets, 4.0, torch.Generator().manual_seed(3))
    assert lam >= 0.5
    partner = ((mixed[:, 0] - lam * x[:, 0]) / (1 - lam)).round().long()  # recover the permutation
    assert sorted(partner.tolist()) == list(range(8))
    assert torch.allclose(mixed_targets, lam * targets + (1 - lam) * targets[partner], atol=1e-5)
    assert torch.allclose(mixed_targets.sum(1), torch.ones(8))


def test_soft_losses_against_slow_references():
    logits, targets = torch.randn(4, 3), torch.softmax(torch.randn(4, 3), 1)
    probs = torch.softmax(logits, 1)
    slow_ce = torch.tensor([-sum(t * math.log(p) for t, p in zip(tr, pr)) for tr, pr in zip(targets.tolist(), probs.tolist())])
    assert torch.allclose(soft_cross_entropy(logits, targets), slow_ce, atol=1e-5)
    hard = torch.tensor([0, 2, 1, 1])
    assert torch.allclose(soft_cross_entropy(logits, torch.nn.functional.one_hot(hard, 3).float()),
                          torch.nn.functional.cross_entropy(logits, hard, reduction="none"), atol=1e-6)
    assert torch.allclose(soft_mse(logits, targets).mean(), ((probs - targets) ** 2).mean(), atol=1e-7)


def test_uniform_prior_penalty_is_zero_when_balanced_and_grows_with_collapse():
    balanced = torch.eye(4) * 5  # each class predicted once: mean prediction uniform
    assert uniform_prior_penalty(balanced).abs() < 1e-6
    collapsed = torch.zeros(4, 4)
    collapsed[:, 0] = 10
    assert uniform_prior_penalty(collapsed) > 1.0


def test_linear_rampup():
    assert linear_rampup(3, start=5, length=10) == 0.0
    assert linear_rampup(10, start=5, length=10) == 0.5
    assert linear_rampup(40, start=5, length=10) == 1.0
    assert linear_rampup(5, start=5, length=0) == 1.0


def test_ema_follows_the_formula_and_copies_buffers():
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    ema = EMA(model, decay=0.9)
    ema.updates = 1000  # past the warm-up: the plain decay
    start = [p.clone() for p in model.parameters()]
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    model(torch.randn(8, 3))  # changes the batch-norm running statistics
    ema.update(model)
    for average, before, now in zip(ema.model.parameters(), start, model.parameters()):
        assert torch.allclose(average, 0.9 * before + 0.1 * now, atol=1e-6)
    assert torch.equal(ema.model[1].running_mean, model[1].running_mean)
    assert not any(p.requires_grad for p in ema.model.parameters())
    with pytest.raises(NoisyLabelsError, match="decay"):
        EMA(model, decay=1.0)


def test_ema_warm_up_forgets_the_initial_weights_quickly():
    model = torch.nn.Linear(2, 1, bias=False)
    ema = EMA(model, decay=0.999)
    initial = ema.model.weight.clone()
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update(model)  # update 0 keeps a tenth (1/10) of the old average
    assert ema.updates == 1 and torch.allclose(ema.model.weight, 0.1 * initial + 0.9, atol=1e-6)
    for _ in range(99):
        ema.update(model)
    # After 100 updates towards 1.0 the average is near it; a fixed 0.999 would still be ~90% initial.
    assert (ema.model.weight - 1.0).abs().max() < 0.1

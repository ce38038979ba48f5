"""Property-based tests (hypothesis) of the pure tensor functions in ``noisylabels.functional``.

Shapes and ranges for random inputs, invariances (a permutation of the samples permutes the
outputs, relabelling the classes changes nothing), limiting cases, determinism given a seed,
and bad input raising ``NoisyLabelsError`` that names the argument (never a bare IndexError or
RuntimeError). Inputs are drawn from a seeded generator, so every example is reproducible.
"""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from noisylabels.errors import NoisyLabelsError
from noisylabels.functional import (RSL_KAPPA, LossMovingAverage, assign_threshold_samples, aum_flags, aum_threshold,
                                    classwise_minmax, classwise_select, combine_runs, estimate_noise_rates,
                                    forget_rate_schedule, gmm_1d, gmm_noise_rates, logit_margin, masked_mean,
                                    mentor_mix, prediction_noise_rates, rsl_keep_counts, rsl_weights, select_within,
                                    small_loss_mask, threshold_labels, threshold_mentor, window_mean)
from noisylabels.functional.mentor import sample_partners
from noisylabels.functional.mixmatch import (EMA, guess_labels, linear_rampup, mixmatch_mix, mixup_lambda,
                                             refine_labels, sharpen, soft_cross_entropy, soft_mse,
                                             uniform_prior_penalty)

FAST = settings(max_examples=25, deadline=None, database=None)
seeds = st.integers(0, 2**32 - 1)
sizes = st.integers(1, 40)
class_counts = st.integers(2, 6)


def batch(seed, n, c, scale=3.0):
    """(n, c) float32 logits and (n,) int64 labels from one seed."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, c, generator=gen) * scale, torch.randint(0, c, (n,), generator=gen)


def distinct(seed, n):
    """(n,) float32 values with no ties (a permutation of 0..n-1, scaled)."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed)).float() / 7


def permutation(seed, n):
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed + 1))


# ----------------------------------------------------------------------------- logit_margin


@FAST
@given(seeds, sizes, class_counts)
def test_margin_is_label_logit_minus_best_other_and_follows_permutations(seed, n, c):
    logits, labels = batch(seed, n, c)
    margin = logit_margin(logits, labels)
    assert margin.shape == (n,)
    for i in range(n):
        others = [logits[i, k].item() for k in range(c) if k != labels[i]]
        assert margin[i].item() == pytest.approx(logits[i, labels[i]].item() - max(others), abs=1e-5)
    assert ((margin > 0) == (logits.argmax(1) == labels)).all()  # random logits: no ties
    order = permutation(seed, n)
    assert torch.equal(logit_margin(logits[order], labels[order]), margin[order])
    classes = permutation(seed + 2, c)  # class k becomes classes[k]: move the columns, relabel
    relabelled = torch.empty_like(logits)
    relabelled[:, classes] = logits
    assert torch.equal(logit_margin(relabelled, classes[labels]), margin)
    assert torch.allclose(logit_margin(logits + 5.0, labels), margin, atol=1e-5)  # shift invariant


@pytest.mark.parametrize("logits, labels, name", [
    (torch.zeros(3, 4), torch.tensor([0, 1, 4]), "labels"),
    (torch.zeros(3, 4), torch.tensor([0, -1, 2]), "labels"),
    (torch.zeros(3, 4), torch.tensor([0, 1]), "labels"),
    (torch.zeros(3, 4), torch.tensor([0.0, 1.0, 2.0]), "labels"),
    (torch.zeros(3, 4), torch.tensor([[0], [1], [2]]), "labels"),
    (torch.zeros(4), torch.tensor([0, 1, 2, 3]), "logits"),
])
def test_margin_bad_input_names_the_argument(logits, labels, name):
    with pytest.raises(NoisyLabelsError, match=f"logit_margin: {name}"):
        logit_margin(logits, labels)


# ----------------------------------------------------------------------------- selection


@FAST
@given(seeds, sizes, st.floats(1e-3, 1.0))
def test_small_loss_mask_keeps_the_floor_fraction_of_smallest_losses(seed, n, keep):
    losses = distinct(seed, n)
    mask = small_loss_mask(losses, keep)
    assert mask.dtype == torch.bool and mask.shape == (n,)
    assert int(mask.sum()) == max(1, int(keep * n))
    if not mask.all():
        assert losses[mask].max() < losses[~mask].min()
    order = permutation(seed, n)
    assert torch.equal(small_loss_mask(losses[order], keep), mask[order])


@pytest.mark.parametrize("losses, keep, name", [
    (torch.rand(3), float("nan"), "keep ratio"), (torch.rand(3), "0.5", "keep ratio"), (torch.rand(3), 0.0, "keep ratio"),
    (torch.rand(3, 2), 0.5, "losses"),
])
def test_small_loss_mask_bad_input(losses, keep, name):
    with pytest.raises(NoisyLabelsError, match=name):
        small_loss_mask(losses, keep)


@FAST
@given(seeds, sizes, class_counts)
def test_classwise_select_keeps_min_of_count_and_class_size_smallest_first(seed, n, c):
    scores = distinct(seed, n)
    labels = torch.randint(0, c, (n,), generator=torch.Generator().manual_seed(seed))
    keep = torch.randint(0, n + 1, (c,), generator=torch.Generator().manual_seed(seed + 3))
    mask = classwise_select(scores, labels, keep)
    for k in range(c):
        members = labels == k
        assert int(mask[members].sum()) == min(int(members.sum()), int(keep[k]))
        if mask[members].any() and (~mask[members]).any():
            assert scores[members & mask].max() < scores[members & ~mask].min()
    order = permutation(seed, n)
    assert torch.equal(classwise_select(scores[order], labels[order], keep), mask[order])
    classes = permutation(seed + 2, c)  # relabel classes; the counts move with them
    moved_keep = torch.empty_like(keep)
    moved_keep[classes] = keep
    assert torch.equal(classwise_select(scores, classes[labels], moved_keep), mask)


@pytest.mark.parametrize("labels, keep, name", [
    (torch.tensor([0, 1, 2]), [1, 1], "labels go from 0 to 2"), (torch.tensor([0, -1, 1]), [1, 1], "labels"),
    (torch.tensor([0, 1]), [1, 1], "labels must have one entry per sample"), (torch.tensor([0.0, 1, 1]), [1, 1], "labels"),
    (torch.tensor([0, 1, 1]), [0.5, 1], "keep_per_class"),
])
def test_classwise_select_bad_input(labels, keep, name):
    with pytest.raises(NoisyLabelsError, match=name):
        classwise_select(torch.rand(3), labels, keep)


@FAST
@given(st.lists(st.integers(0, 500), min_size=1, max_size=6), st.data(), st.floats(0, 0.99))
def test_rsl_keep_counts_lie_between_zero_and_the_class_size(class_sizes, data, b):
    eta = data.draw(st.lists(st.floats(0, 0.999), min_size=len(class_sizes), max_size=len(class_sizes)))
    if 0 in class_sizes:
        with pytest.raises(NoisyLabelsError, match="have no samples"):
            rsl_keep_counts(class_sizes, eta, b)
        return
    counts = rsl_keep_counts(class_sizes, eta, b)
    assert counts.dtype == torch.long and counts.shape == (len(class_sizes),)
    assert ((counts >= 0) & (counts <= torch.tensor(class_sizes))).all()
    assert rsl_keep_counts(class_sizes, [0.0] * len(class_sizes), b).tolist() == class_sizes  # no noise: keep all
    assert (rsl_keep_counts(class_sizes, [min(e + 0.1, 0.999) for e in eta], b) <= counts).all()  # more noise: fewer


@pytest.mark.parametrize("sizes_, eta, b, name", [
    ([10, -2], [0.1, 0.1], 0.2, "class_sizes"), ([10, 2.5], [0.1, 0.1], 0.2, "class_sizes"),
    ([10, 10], [0.1, float("nan")], 0.2, "noise rates"), ([10, 10], [0.1, -0.1], 0.2, "noise rates"),
    ([10, 10], [0.1], 0.2, "noise rates"), ([10, 10], [0.1, 0.1], 1.0, "b must"),
])
def test_rsl_keep_counts_bad_input(sizes_, eta, b, name):
    with pytest.raises(NoisyLabelsError, match=name):
        rsl_keep_counts(sizes_, eta, b)


@FAST
@given(seeds, sizes, class_counts, st.floats(0.1, 10), st.floats(-5, 5))
def test_classwise_minmax_is_in_unit_interval_and_ignores_increasing_affine_maps(seed, n, c, scale, shift):
    scores = distinct(seed, n).double()
    labels = torch.randint(0, c, (n,), generator=torch.Generator().manual_seed(seed))
    normalised = classwise_minmax(scores, labels, c)
    assert ((normalised >= 0) & (normalised <= 1)).all()
    for k in labels.unique():
        members = labels == k
        if members.sum() > 1:  # the smallest score of a class maps to 0, the largest to 1
            assert normalised[members].min() == 0 and normalised[members].max() == pytest.approx(1)
    assert torch.allclose(classwise_minmax(scores * scale + shift, labels, c), normalised, atol=1e-9)
    order = permutation(seed, n)
    assert torch.equal(classwise_minmax(scores[order], labels[order], c), normalised[order])
    weights = rsl_weights(scores, labels, c)
    assert ((weights <= 1) & (weights >= math.exp(-RSL_KAPPA) - 1e-12)).all()


def test_classwise_minmax_bad_input():
    with pytest.raises(NoisyLabelsError, match="classwise_minmax: labels must be class indices 0..2, got 3"):
        classwise_minmax(torch.rand(3), torch.tensor([0, 3, 1]), 3)
    with pytest.raises(NoisyLabelsError, match="classwise_minmax: labels must have one entry per sample"):
        classwise_minmax(torch.rand(3), torch.tensor([0, 1]), 3)
    assert classwise_minmax(torch.zeros(0), torch.zeros(0, dtype=torch.long)).shape == (0,)


@FAST
@given(seeds, st.integers(1, 6), sizes)
def test_window_mean_is_the_mean_of_the_chosen_epochs(seed, epochs, n):
    history = torch.rand(epochs, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    chosen = sorted(set(np.random.default_rng(seed).integers(0, epochs, 3).tolist()))
    assert torch.allclose(window_mean(history, chosen), history[chosen].mean(0))
    assert torch.allclose(window_mean(history, torch.tensor(chosen)), history[chosen].mean(0))
    order = permutation(seed, n)
    assert torch.allclose(window_mean(history[:, order], chosen), window_mean(history, chosen)[order])


@pytest.mark.parametrize("history, epochs", [(torch.rand(3, 4), [3]), (torch.rand(3, 4), []), (torch.rand(3, 4), [0.5]),
                                             (torch.rand(4), [0])])
def test_window_mean_bad_input(history, epochs):
    with pytest.raises(NoisyLabelsError, match="window_mean: (epochs|history)"):
        window_mean(history, epochs)


@FAST
@given(st.floats(0, 0.99), st.integers(0, 30), st.integers(0, 15), st.floats(0.5, 2))
def test_forget_rate_schedule_ramps_up_then_stays(rate, epochs, num_gradual, exponent):
    rates = forget_rate_schedule(rate, epochs, num_gradual, exponent)
    assert len(rates) == epochs
    ramp = rates[:min(num_gradual, epochs)]
    assert all(0 <= r <= max(rate, rate ** exponent) + 1e-6 for r in rates)  # the ramp is float32 (linspace)
    assert all(a <= b for a, b in zip(ramp, ramp[1:]))
    assert all(r == rate for r in rates[num_gradual:])


@pytest.mark.parametrize("rate", [1.0, -0.1, float("nan"), "0.2"])
def test_forget_rate_schedule_bad_rate_names_forget_rate(rate):
    with pytest.raises(NoisyLabelsError, match="forget_rate"):
        forget_rate_schedule(rate, 5)


@FAST
@given(seeds, sizes, st.floats(1e-3, 1.0))
def test_masked_mean_and_select_within_stay_inside_the_mask(seed, n, keep):
    gen = torch.Generator().manual_seed(seed)
    values, mask = torch.rand(n, generator=gen, dtype=torch.float64), torch.rand(n, generator=gen) < 0.5
    expected = values[mask].mean().item() if mask.any() else 0.0
    assert masked_mean(values, mask).item() == pytest.approx(expected)
    picked = select_within(values, mask, keep)
    assert not (picked & ~mask).any()
    assert int(picked.sum()) == (max(1, int(keep * int(mask.sum()))) if mask.any() else 0)


def test_masked_mean_and_select_within_bad_input():
    with pytest.raises(NoisyLabelsError, match="masked_mean: mask"):
        masked_mean(torch.rand(3), torch.tensor([True, False]))
    with pytest.raises(NoisyLabelsError, match="select_within: candidates"):
        select_within(torch.rand(3), torch.tensor([True, False]), 0.5)
    with pytest.raises(NoisyLabelsError, match="select_within: candidates"):
        select_within(torch.rand(3), torch.tensor([1, 0, 1]), 0.5)  # 0/1 integers would index, not mask


# ----------------------------------------------------------------------------- GMM and noise rates


@settings(max_examples=15, deadline=None, database=None)
@given(seeds, st.integers(4, 60), st.integers(1, 3), st.floats(-10, 10))
def test_gmm_posteriors_are_distributions_and_components_sorted(seed, n, k, shift):
    x = torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    fit = gmm_1d(x, n_components=k)
    assert fit.posterior.shape == (n, k) and fit.means.shape == fit.variances.shape == fit.weights.shape == (k,)
    assert ((fit.posterior >= 0) & (fit.posterior <= 1)).all()
    assert torch.allclose(fit.posterior.sum(1), torch.ones(n, dtype=torch.float64))
    assert fit.weights.sum().item() == pytest.approx(1) and (fit.variances > 0).all()
    assert (fit.means.diff() >= 0).all()
    shifted = gmm_1d(x + shift, n_components=k)  # shifting the data shifts the means only
    assert torch.allclose(shifted.means, fit.means + shift, atol=1e-6)
    assert torch.allclose(shifted.posterior, fit.posterior, atol=1e-6)
    order = permutation(seed, n)
    assert torch.allclose(gmm_1d(x[order], n_components=k).posterior, fit.posterior[order], atol=1e-6)


@pytest.mark.parametrize("x, k, name", [
    (torch.tensor([1.0, float("nan"), 2.0, 3.0]), 2, "NaN"), (torch.rand(3, 2), 2, "1-D tensor"),
    (torch.rand(1), 2, "at least 2 values"), (torch.rand(5), 0, "n_components"), ([1.0, 2.0, 3.0], 2, "1-D tensor"),
])
def test_gmm_bad_input(x, k, name):
    with pytest.raises(NoisyLabelsError, match=name):
        gmm_1d(x, n_components=k)


@FAST
@given(seeds, st.integers(1, 80), class_counts)
def test_noise_rate_estimates_are_per_class_fractions(seed, n, c):
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, c, (n,), generator=gen)
    predictions = torch.where(torch.rand(n, generator=gen) < 0.3, torch.randint(0, c, (n,), generator=gen), labels)
    rates = prediction_noise_rates(predictions, labels, c)
    assert rates.shape == (c,) and rates.dtype == torch.float64
    for k in range(c):
        members = labels == k
        expected = (predictions[members] != k).double().mean().item() if members.any() else 0.0
        assert rates[k].item() == pytest.approx(expected)
    assert (prediction_noise_rates(labels, labels, c) == 0).all()  # agreeing predictions: no noise
    classes = permutation(seed + 2, c)
    assert torch.allclose(prediction_noise_rates(classes[predictions], classes[labels], c)[classes], rates)
    scores = torch.rand(n, generator=gen, dtype=torch.float64)
    gmm_rates = estimate_noise_rates("gmm", scores=scores, labels=labels, num_classes=c)
    assert gmm_rates.shape == (c,) and ((gmm_rates >= 0) & (gmm_rates <= 1)).all()


def test_noise_rate_estimators_bad_input_name_the_argument():
    labels = torch.tensor([0, 1, 1, 0])
    cases = [
        (lambda: prediction_noise_rates(labels, torch.tensor([0, 1, 2, 0]), 2), "labels must be class indices 0..1"),
        (lambda: prediction_noise_rates(labels[:3], labels, 2), "predictions has 3 entries but labels has 4"),
        (lambda: gmm_noise_rates(torch.rand(5), labels, 2), "labels must have one entry per sample"),
        (lambda: gmm_noise_rates(torch.rand(4), labels.float(), 2), "labels must be integer"),
        (lambda: estimate_noise_rates("gmm", labels=labels, num_classes=2), "needs scores="),
        (lambda: estimate_noise_rates("prediction", labels=labels, num_classes=2), "needs predictions="),
        (lambda: estimate_noise_rates("oracle", labels=labels, num_classes=2), "choose one of: gmm, prediction"),
    ]
    for call, message in cases:
        with pytest.raises(NoisyLabelsError, match=message):
            call()


# ----------------------------------------------------------------------------- AUM


@FAST
@given(seeds, st.integers(4, 200), st.integers(1, 9))
def test_threshold_samples_are_n_over_c_plus_1_disjoint_and_seeded(seed, n, c):
    if n < c + 1:
        with pytest.raises(NoisyLabelsError, match="at least"):
            assign_threshold_samples(n, c, torch.Generator().manual_seed(seed))
        return
    first = assign_threshold_samples(n, c, torch.Generator().manual_seed(seed))
    assert first.shape == (n,) and int(first.sum()) == n // (c + 1)
    assert torch.equal(first, assign_threshold_samples(n, c, torch.Generator().manual_seed(seed)))
    if n - int(first.sum()) >= n // (c + 1):
        second = assign_threshold_samples(n, c, torch.Generator().manual_seed(seed + 1), exclude=first)
        assert not (first & second).any()
    labels = torch.randint(0, c, (n,), generator=torch.Generator().manual_seed(seed))
    moved = threshold_labels(labels, first, c)
    assert (moved[first] == c).all() and torch.equal(moved[~first], labels[~first])


@FAST
@given(seeds, st.integers(2, 80), st.floats(1, 100))
def test_aum_flags_ignore_increasing_maps_and_never_flag_threshold_samples(seed, n, percentile):
    gen = torch.Generator().manual_seed(seed)
    aum = torch.randn(n, generator=gen, dtype=torch.float64)
    is_threshold = torch.rand(n, generator=gen) < 0.3
    is_threshold[0] = True
    flags = aum_flags(aum, is_threshold, percentile)
    assert flags.dtype == torch.bool and not (flags & is_threshold).any()
    assert torch.equal(aum_flags(torch.exp(aum) * 3 + 1, is_threshold, percentile), flags)  # an order statistic
    assert torch.equal(aum_flags(aum, is_threshold.long(), percentile), flags)  # 0/1 integers act as a mask
    assert aum_threshold(aum, is_threshold, percentile) in aum[is_threshold].tolist()
    order = permutation(seed, n)
    assert torch.equal(aum_flags(aum[order], is_threshold[order], percentile), flags[order])


def test_integer_threshold_mask_is_a_mask_not_an_index():
    """Regression: aum[is_threshold] with a 0/1 integer tensor gathered aum[0] and aum[1]."""
    aum = torch.arange(10.0)
    is_threshold = torch.tensor([0, 0, 0, 0, 0, 0, 0, 0, 1, 1])
    assert aum_threshold(aum, is_threshold, 100) == aum_threshold(aum, is_threshold.bool(), 100) == 9.0


def test_aum_bad_input_names_the_argument():
    aum = torch.arange(4.0)
    cases = [
        (lambda: aum_threshold(aum, torch.tensor([True, False]), 99), "is_threshold must be a mask shaped like aum"),
        (lambda: aum_threshold(aum, aum > 1, float("nan")), "percentile"),
        (lambda: aum_threshold(aum, aum > 1, "99"), "percentile"),
        (lambda: aum_flags(aum[:, None], aum > 1), "aum must be a"),
        (lambda: threshold_labels(torch.tensor([0, 1, 2]), torch.tensor([True, False]), 3), "is_threshold has shape"),
        (lambda: combine_runs([aum > 1], [torch.tensor([True])]), "combine_runs needs"),
        (lambda: combine_runs([aum > 1, aum > 2], [aum > 0]), "combine_runs needs"),
        (lambda: assign_threshold_samples(10, 2, torch.Generator(), exclude=torch.zeros(20, dtype=torch.bool)),
         "exclude"),
    ]
    for call, message in cases:
        with pytest.raises(NoisyLabelsError, match=message):
            call()


@FAST
@given(seeds, st.integers(1, 5), st.integers(1, 30))
def test_combine_runs_drops_only_samples_flagged_in_every_vote(seed, runs, n):
    gen = torch.Generator().manual_seed(seed)
    flags = [torch.rand(n, generator=gen) < 0.5 for _ in range(runs)]
    thresholds = [torch.rand(n, generator=gen) < 0.3 for _ in range(runs)]
    dropped = combine_runs(flags, thresholds)
    for i in range(n):
        votes = [bool(f[i]) for f, t in zip(flags, thresholds) if not t[i]]
        assert bool(dropped[i]) == (bool(votes) and all(votes))


# ----------------------------------------------------------------------------- MentorMix


@FAST
@given(seeds, sizes, class_counts, st.floats(0.1, 8))
def test_mentor_mix_is_a_seeded_convex_mix_oriented_by_the_weights(seed, n, c, alpha):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=gen, dtype=torch.float64)
    y = torch.nn.functional.one_hot(torch.randint(0, c, (n,), generator=gen), c).double()
    v = threshold_mentor(torch.rand(n, generator=gen), 0.5)
    assert set(v.unique().tolist()) <= {0.0, 1.0}
    mixed_x, mixed_y, partner, weight = mentor_mix(x, y, v, alpha, torch.Generator().manual_seed(seed))
    assert mixed_x.shape == x.shape and mixed_y.shape == y.shape and partner.shape == weight.shape == (n,)
    assert ((partner >= 0) & (partner < n)).all()
    assert (weight[v >= 0.5] >= 0.5).all() and (weight[v < 0.5] <= 0.5).all()  # distrusted: partner dominates
    assert torch.allclose(mixed_y.sum(1), torch.ones(n, dtype=torch.float64))
    w = weight.double()[:, None]
    assert torch.allclose(mixed_x, w * x + (1 - w) * x[partner])
    again = mentor_mix(x, y, v, alpha, torch.Generator().manual_seed(seed))
    assert all(torch.equal(a, b) for a, b in zip((mixed_x, mixed_y, partner, weight), again))


def test_mentor_bad_input_names_the_argument():
    x, y, v = torch.rand(3, 2), torch.eye(3), torch.rand(3)
    cases = [
        (lambda: mentor_mix(x, y, v, float("nan")), "alpha"), (lambda: mentor_mix(x, y, v, float("inf")), "alpha"),
        (lambda: mentor_mix(x, y, v, 0.0), "alpha"), (lambda: mentor_mix(x, y[:2], v, 1.0), "targets and weights"),
        (lambda: mentor_mix(x, y[0], v, 1.0), "y_onehot"), (lambda: sample_partners(v[:, None]), "weights v"),
        (lambda: LossMovingAverage(float("nan")), "percentile"), (lambda: LossMovingAverage(0.5, decay="0.9"), "decay"),
        (lambda: LossMovingAverage(0.5).update(torch.zeros(0)), "non-empty"),
    ]
    for call, message in cases:
        with pytest.raises(NoisyLabelsError, match=message):
            call()


@FAST
@given(seeds, st.integers(1, 6), st.floats(0.05, 1.0), st.floats(0.0, 0.99))
def test_loss_moving_average_stays_within_the_batch_percentiles(seed, steps, percentile, decay):
    gen = torch.Generator().manual_seed(seed)
    average = LossMovingAverage(percentile, decay)
    low, high = math.inf, -math.inf
    for _ in range(steps):
        losses = torch.rand(int(torch.randint(1, 20, (1,), generator=gen)), generator=gen) * 5
        value = float(average.update(losses))
        low, high = min(low, losses.min().item()), max(high, losses.max().item())
        assert low - 1e-5 <= value <= high + 1e-5


# ----------------------------------------------------------------------------- MixMatch pieces


@FAST
@given(seeds, sizes, class_counts, st.floats(0.05, 5))
def test_sharpen_and_label_guessing_give_distributions_with_the_same_argmax(seed, n, c, temperature):
    logits, labels = batch(seed, n, c)
    probs = torch.softmax(logits.double(), 1)
    sharp = sharpen(probs, temperature)
    assert torch.allclose(sharp.sum(1), torch.ones(n, dtype=torch.float64)) and (sharp >= 0).all()
    assert torch.equal(sharp.argmax(1), probs.argmax(1))
    assert torch.allclose(sharpen(probs, 1.0), probs)
    guessed = guess_labels([logits, logits * 0.5], temperature)
    assert torch.allclose(guessed.sum(1), torch.ones(n))
    targets = torch.nn.functional.one_hot(labels, c).float()
    refined = refine_labels(targets, [logits], torch.ones(n), temperature)  # fully clean: the label itself
    assert torch.equal(refined.argmax(1), labels)


@FAST
@given(seeds, sizes, class_counts, st.floats(0.05, 8))
def test_mixup_is_seeded_convex_and_keeps_target_rows_distributions(seed, n, c, alpha):
    lam = mixup_lambda(alpha, torch.Generator().manual_seed(seed))
    assert 0.5 <= lam <= 1 and lam == mixup_lambda(alpha, torch.Generator().manual_seed(seed))
    many = mixup_lambda(alpha, torch.Generator().manual_seed(seed), size=n)
    assert many.shape == (n,) and ((many >= 0.5) & (many <= 1)).all()
    logits, labels = batch(seed, n, c)
    targets = torch.nn.functional.one_hot(labels, c).float()
    mixed_x, mixed_t, lam = mixmatch_mix(logits, targets, alpha, torch.Generator().manual_seed(seed))
    assert mixed_x.shape == logits.shape and torch.allclose(mixed_t.sum(1), torch.ones(n))
    assert (mixed_x.min() >= logits.min() - 1e-5) and (mixed_x.max() <= logits.max() + 1e-5)


@FAST
@given(seeds, sizes, class_counts)
def test_soft_losses_are_non_negative_and_soft_ce_on_one_hot_is_ce(seed, n, c):
    logits, labels = batch(seed, n, c)
    targets = torch.nn.functional.one_hot(labels, c).float()
    ce = soft_cross_entropy(logits, targets)
    assert ce.shape == (n,) and (ce >= 0).all()
    assert torch.allclose(ce, torch.nn.functional.cross_entropy(logits, labels, reduction="none"), atol=1e-5)
    mse = soft_mse(logits, targets)
    assert mse.shape == (n,) and ((mse >= 0) & (mse <= 1)).all()
    penalty = uniform_prior_penalty(logits)
    assert penalty.item() >= -1e-6  # a KL divergence
    assert uniform_prior_penalty(logits[permutation(seed, n)]).item() == pytest.approx(penalty.item(), abs=1e-5)


def test_mixmatch_bad_input_names_the_argument():
    logits, probs = torch.randn(3, 4), torch.softmax(torch.randn(3, 4), 1)
    cases = [
        (lambda: sharpen(probs, float("nan")), "temperature"), (lambda: sharpen(probs, "0.5"), "temperature"),
        (lambda: sharpen(probs[0], 0.5), "sharpen: probs"), (lambda: mixup_lambda(float("nan")), "alpha"),
        (lambda: guess_labels([logits, logits[:, :3]]), "logits of one shape"), (lambda: guess_labels([]), "at least one"),
        (lambda: refine_labels(probs[:2], [logits], torch.ones(3)), "targets"),
        (lambda: soft_cross_entropy(logits, probs[0]), "soft_cross_entropy: targets"),  # would broadcast silently
        (lambda: soft_mse(logits, probs[:, :3]), "soft_mse: targets"),
        (lambda: uniform_prior_penalty(logits[0]), "uniform_prior_penalty: logits"),
        (lambda: mixmatch_mix(logits, probs[:2], 1.0), "targets"), (lambda: EMA(torch.nn.Linear(1, 1), "x"), "decay"),
    ]
    for call, message in cases:
        with pytest.raises(NoisyLabelsError, match=message):
            call()


@FAST
@given(st.floats(-10, 100), st.floats(0, 50), st.floats(0, 50))
def test_linear_rampup_is_a_monotone_ramp_in_the_unit_interval(progress, start, length):
    value = linear_rampup(progress, start, length)
    assert 0.0 <= value <= 1.0
    assert linear_rampup(progress + 1, start, length) >= value

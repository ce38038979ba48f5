import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from noisylabels.errors import NoisyLabelsError
from noisylabels.detection.confident import (FILTERS, confident_learning_issues, estimate_latent, normalized_margin,
                                             self_confidence)

FAST = settings(max_examples=30, deadline=None, database=None)


# ---------------------------------------------------------------------- slow references (loops)
def slow_thresholds(labels, probs):
    k = probs.shape[1]
    out = []
    for j in range(k):
        members = [probs[i][j] for i in range(len(labels)) if labels[i] == j]
        out.append(max(sum(members) / len(members), 2e-6) if members else 2.0)
    return out


def slow_confident_joint(labels, probs):
    k = probs.shape[1]
    t = slow_thresholds(labels, probs)
    joint = [[0] * k for _ in range(k)]
    off_diagonal = []
    for i, row in enumerate(probs):
        confident = [j for j in range(k) if row[j] >= t[j] - 1e-6]
        if not confident:
            continue
        guess = confident[0] if len(confident) == 1 else int(np.argmax(row))
        joint[labels[i]][guess] += 1
        if guess != labels[i]:
            off_diagonal.append(i)
    for j in range(k):
        joint[j][j] = max(joint[j][j], 1)
    return joint, off_diagonal


def slow_calibrated(labels, probs):
    joint, _ = slow_confident_joint(labels, probs)
    k = len(joint)
    out = []
    for i in range(k):
        n_i = sum(1 for y in labels if y == i)
        scaled = [joint[i][j] / sum(joint[i]) * n_i for j in range(k)]
        # cleanlab's rounding: each entry to nearest (half to even), then the entries furthest
        # from their rounded value move one step until the row keeps its rounded total
        ints = [round(v) for v in scaled]
        while (missing := round(sum(scaled)) - sum(ints)) != 0:
            step = 1 if missing > 0 else -1
            key = (lambda j: (-(scaled[j] - ints[j]), -j)) if step > 0 else (lambda j: (scaled[j] - ints[j], j))
            for j in sorted(range(k), key=key)[:abs(missing)]:
                ints[j] += step
        out.append(ints)
    return out


def slow_issues(labels, probs, filter_by):
    k, n = probs.shape[1], len(labels)
    calibrated = slow_calibrated(labels, probs)
    by_rate, by_class = set(), set()
    for i in range(k):
        members = [s for s in range(n) if labels[s] == i]
        if len(members) <= 1:
            continue
        for j in range(k):
            if j != i and calibrated[i][j] > 0:
                ranked = sorted(members, key=lambda s: (-(probs[s][j] - probs[s][i]), s))
                by_rate.update(ranked[:calibrated[i][j]])
        ranked = sorted(members, key=lambda s: (probs[s][i], s))
        by_class.update(ranked[:len(members) - calibrated[i][i]])
    chosen = {"prune_by_noise_rate": by_rate, "prune_by_class": by_class, "both": by_rate & by_class,
              "confident_learning": set(slow_confident_joint(labels, probs)[1]),
              "predicted_neq_given": set(range(n))}[filter_by]
    return [s in chosen and int(np.argmax(probs[s])) != labels[s] for s in range(n)]


def random_problem(seed, n=120, k=4, missing_class=False):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k - 1 if missing_class else k, n)
    logits = rng.normal(0, 1.5, (n, k))
    logits[np.arange(n), labels] += rng.uniform(0, 3, n)  # informative but imperfect
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return labels, probs


# ---------------------------------------------------------------------- tests
@pytest.mark.parametrize("seed", range(4))
def test_confident_joint_and_calibration_match_reference(seed):
    labels, probs = random_problem(seed, missing_class=seed == 3)
    estimates = estimate_latent(labels, probs)
    assert np.allclose(estimates.thresholds, slow_thresholds(labels, probs))
    assert estimates.confident_joint.tolist() == slow_confident_joint(labels, probs)[0]
    assert estimates.calibrated_joint.tolist() == slow_calibrated(labels, probs)
    assert (estimates.calibrated_joint.sum(1) == np.bincount(labels, minlength=4)).all()
    counts = np.bincount(labels, minlength=4)
    assert np.isclose(estimates.joint.sum(), 1) and np.allclose(estimates.noise_matrix.sum(0)[counts > 0], 1)
    expected_rates = [1 - estimates.calibrated_joint[i, i] / counts[i] if counts[i] else 0.0 for i in range(4)]
    assert np.allclose(estimates.noise_rates, expected_rates)


@pytest.mark.parametrize("filter_by", FILTERS)
@pytest.mark.parametrize("seed", range(3))
def test_issues_match_reference(filter_by, seed):
    labels, probs = random_problem(seed, missing_class=seed == 2)
    got = confident_learning_issues(labels, probs, filter_by=filter_by)
    assert got.dtype == bool and got.tolist() == slow_issues(labels, probs, filter_by)


@pytest.mark.parametrize("filter_by", FILTERS)
def test_planted_flips_are_found_exactly(filter_by):
    rng = np.random.default_rng(0)
    n, k = 300, 5
    truth = np.arange(n) % k
    probs = np.full((n, k), 0.1 / (k - 1))
    probs[np.arange(n), truth] = 0.9  # a confident, correct model
    labels = truth.copy()
    flipped = rng.choice(n, 30, replace=False)
    labels[flipped] = (truth[flipped] + rng.integers(1, k, 30)) % k
    found = confident_learning_issues(labels, probs, filter_by=filter_by)
    assert sorted(np.flatnonzero(found)) == sorted(flipped)
    rates = estimate_latent(labels, probs).noise_rates
    assert np.allclose(rates, [np.mean(labels[labels == c] != truth[labels == c]) for c in range(k)])


def test_min_examples_per_class_protects_small_classes():
    labels = np.array([0] * 10 + [1] * 10 + [2, 2])
    probs = np.full((22, 3), 0.05)
    probs[np.arange(22), labels] = 0.9
    probs[20] = [0.9, 0.05, 0.05]  # a class-2 sample the model calls class 0
    assert confident_learning_issues(labels, probs)[20]
    assert not confident_learning_issues(labels, probs, min_examples_per_class=2)[20]


def test_self_confidence_and_normalized_margin():
    labels = [1, 0]
    probs = [[0.2, 0.7, 0.1], [0.3, 0.6, 0.1]]
    assert np.allclose(self_confidence(labels, probs), [0.7, 0.3])
    assert np.allclose(normalized_margin(labels, probs), [0.5, -0.3])


def test_unknown_filter_lists_the_valid_ones():
    with pytest.raises(NoisyLabelsError, match="choose one of: prune_by_noise_rate, prune_by_class"):
        confident_learning_issues([0, 1], [[0.6, 0.4], [0.3, 0.7]], filter_by="prune")


@FAST
@given(st.integers(2, 60), st.integers(2, 5), st.integers(0, 2**32 - 1), st.sampled_from(FILTERS))
def test_mask_is_equivariant_under_sample_permutation(n, k, seed, filter_by):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, n)
    probs = rng.dirichlet(np.ones(k), n)
    mask = confident_learning_issues(labels, probs, filter_by=filter_by)
    assert mask.dtype == bool and mask.shape == (n,)
    assert not (mask & (probs.argmax(1) == labels)).any()  # the model agreeing is never an issue
    order = rng.permutation(n)
    assert (confident_learning_issues(labels[order], probs[order], filter_by=filter_by) == mask[order]).all()
    if filter_by == "both":
        assert not (mask & ~confident_learning_issues(labels, probs, filter_by="prune_by_class")).any()

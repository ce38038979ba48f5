import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from noisylabels import histories
from noisylabels.detection.scores import (aum_score, classwise_loss_score, clean_probability_score, epoch_mean,
                                          flag_per_class, forgetting_events, forgetting_score, mean_confidence,
                                          small_loss_score, variability)

FAST = settings(max_examples=30, deadline=None, database=None)


def history_with_gaps(seed, epochs=7, n=50, binary=False):
    rng = np.random.default_rng(seed)
    values = (rng.random((epochs, n)) < 0.6).astype(float) if binary else rng.normal(1, 1, (epochs, n))
    values[rng.random((epochs, n)) < 0.3] = np.nan
    values[:, 0] = np.nan  # one sample never recorded
    return values


def recorded(history, i):
    return [v for v in history[:, i] if not math.isnan(v)]


def slow_mean(history):
    return [sum(r) / len(r) if (r := recorded(history, i)) else math.nan for i in range(history.shape[1])]


def slow_std(history):
    out = []
    for i in range(history.shape[1]):
        r = recorded(history, i)
        out.append(math.sqrt(sum((v - sum(r) / len(r)) ** 2 for v in r) / len(r)) if r else math.nan)
    return out


def slow_forgetting(history):
    out = []
    for i in range(history.shape[1]):
        r = recorded(history, i)
        out.append(sum(1 for a, b in zip(r, r[1:]) if a == 1 and b == 0) if r else math.nan)
    return out


def same(a, b, tol=1e-9):
    return np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), atol=tol, equal_nan=True)


@pytest.mark.parametrize("seed", range(3))
def test_means_std_last_and_forgetting_match_loops(seed):
    history = history_with_gaps(seed)
    assert same(aum_score(history), slow_mean(history)) and same(mean_confidence(history), slow_mean(history))
    assert same(variability(history), slow_std(history))
    assert same(small_loss_score(history), [-r[-1] if (r := recorded(history, i)) else math.nan
                                            for i in range(history.shape[1])])
    correct = history_with_gaps(seed, binary=True)
    assert same(forgetting_events(correct), slow_forgetting(correct))
    never = [i for i in range(1, correct.shape[1]) if not any(v == 1 for v in recorded(correct, i))]
    expected = [-len(recorded(correct, i)) if i in never else -c for i, c in enumerate(slow_forgetting(correct))]
    assert same(forgetting_score(correct), expected)


def test_forgetting_counts_across_unrecorded_epochs():
    nan = math.nan
    correct = np.array([[1, 1, 0, nan], [nan, 0, 0, nan], [0, 1, 0, nan], [nan, 0, 0, nan]]).astype(float)
    assert same(forgetting_events(correct), [1, 2, 0, math.nan])  # sample 0: 1, (skip), 0 -> one event
    assert same(forgetting_score(correct), [-1, -2, -4, math.nan])  # sample 2 never learned: -4 recorded epochs


def test_classwise_loss_score_matches_loop():
    history = history_with_gaps(5)
    labels = np.random.default_rng(5).integers(0, 3, history.shape[1])
    mean = slow_mean(history)
    expected = []
    for i, m in enumerate(mean):
        members = [mean[j] for j in range(len(mean)) if labels[j] == labels[i] and not math.isnan(mean[j])]
        span = max(members) - min(members)
        expected.append(math.nan if math.isnan(m) else 1 - ((m - min(members)) / span if span > 0 else 0))
    assert same(classwise_loss_score(history, labels, 3), expected, tol=1e-5)  # float32 normalisation
    window = classwise_loss_score(history, labels, 3, epochs=[0, 1])
    assert same(window, classwise_loss_score(history[:2], labels, 3))


def test_blocks_memmaps_and_tensors_give_the_same_result(tmp_path, monkeypatch):
    history = history_with_gaps(2, n=37).astype(np.float16)
    whole = epoch_mean(history)
    monkeypatch.setattr(histories, "BLOCK_COLUMNS", 8)
    disk = np.lib.format.open_memmap(tmp_path / "h.npy", mode="w+", dtype=np.float16, shape=history.shape)
    disk[:] = history
    assert same(epoch_mean(disk), whole) and same(epoch_mean(torch.from_numpy(history)), whole)
    assert same(variability(disk), variability(history.astype(float)), tol=1e-12)


def test_identity_scores_keep_nan():
    out = clean_probability_score(torch.tensor([0.9, float("nan")]))
    assert out.dtype == np.float64 and out[0] == pytest.approx(0.9) and math.isnan(out[1])


def test_flag_per_class_with_rates_and_with_the_gmm():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 100)
    quality = rng.normal(0, 0.05, 200)
    noisy = np.r_[np.arange(0, 20), np.arange(100, 140)]
    quality[noisy] -= 1  # two clusters: 20% and 40% of the classes
    found = flag_per_class(quality, labels)
    assert sorted(np.flatnonzero(found)) == sorted(noisy)
    given_rates = flag_per_class(quality, labels, noise_rates=[0.1, 0.5])
    assert given_rates[:100].sum() == 10 and given_rates[100:].sum() == 50
    quality[5] = np.nan
    assert not flag_per_class(quality, labels, noise_rates=1.0)[5]


@FAST
@given(st.integers(1, 80), st.integers(1, 5), st.integers(0, 2**32 - 1), st.floats(0, 1))
def test_flag_per_class_takes_the_lowest_round_rate_n_of_each_class(n, k, seed, rate):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, n)
    quality = rng.integers(0, 5, n).astype(float)  # many ties
    mask = flag_per_class(quality, labels, num_classes=k, noise_rates=rate)
    for c in range(k):
        members = labels == c
        assert mask[members].sum() == math.floor(rate * members.sum() + 0.5)
        if mask[members].any() and (~mask[members]).any():
            assert quality[members & mask].max() <= quality[members & ~mask].min()

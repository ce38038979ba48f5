"""Property-based tests (hypothesis) filling the gaps of the label-issue API, scores and confident learning.

(test_api, test_confident, test_scores and test_validate already cover rankings being
permutations, sample-permutation equivariance of the masks, increasing-transform invariance and
the input checks.) Here: the estimates of confident learning are consistent count matrices,
relabelling the classes relabels everything, per-sample scores stay in their ranges and follow a
permutation of the samples, detection metrics are proper rates, and any input to the public
functions gives a valid answer or a ``NoisyLabelsError`` naming the argument.
"""
import csv
import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from noisylabels.detection import (aum_score, classwise_loss_score, clean_probability_score, confident_learning_issues,
                                   detection_metrics, estimate_latent, find_label_issues, forgetting_events,
                                   forgetting_score, label_quality_scores, mean_confidence, mentor_weight_score,
                                   normalized_margin, rank_label_issues, self_confidence, small_loss_score,
                                   suggested_labels, variability, write_label_issues_csv)
from noisylabels.errors import NoisyLabelsError

FAST = settings(max_examples=25, deadline=None, database=None)
seeds = st.integers(0, 2**32 - 1)
sizes = st.integers(2, 60)
class_counts = st.integers(2, 5)


def labelled_probs(seed, n, k):
    rng = np.random.default_rng(seed)
    return rng.integers(0, k, n), rng.dirichlet(np.ones(k) * 0.7, n)


def histories(seed, epochs, n):
    """(E, N) loss-like, margin-like, probability and 0/1 correctness histories with NaN gaps."""
    rng = np.random.default_rng(seed)
    gaps = rng.random((epochs, n)) < 0.25
    probability = rng.random((epochs, n))
    correct = (rng.random((epochs, n)) < 0.6).astype(float)
    loss = rng.exponential(1.0, (epochs, n))
    for h in (probability, correct, loss):
        h[gaps] = np.nan
    return loss, probability, correct


# ----------------------------------------------------------------------------- confident learning


@FAST
@given(seeds, sizes, class_counts)
def test_confident_estimates_are_consistent_count_and_probability_matrices(seed, n, k):
    labels, probs = labelled_probs(seed, n, k)
    est = estimate_latent(labels, probs)
    counts = np.bincount(labels, minlength=k)
    assert est.confident_joint.shape == est.calibrated_joint.shape == (k, k)
    assert (est.confident_joint >= 0).all() and (np.diag(est.confident_joint) >= 1).all()
    np.testing.assert_array_equal(est.calibrated_joint.sum(1), counts)  # rows calibrated to the class counts
    assert est.joint.sum() == pytest.approx(1.0) and (est.joint >= 0).all()
    column_sums = est.noise_matrix.sum(0)
    assert np.allclose(column_sums[column_sums > 0], 1.0)  # P(given | true): columns are distributions
    inverse_sums = est.inverse_noise_matrix.sum(0)  # stored [true][given]
    assert np.allclose(inverse_sums[counts > 0], 1.0)
    assert ((est.noise_rates >= 0) & (est.noise_rates <= 1)).all()
    assert ((est.thresholds >= 2e-6) & (est.thresholds <= 2.0)).all()


@FAST
@given(seeds, sizes, class_counts)
def test_relabelling_the_classes_relabels_scores_joint_and_issues(seed, n, k):
    labels, probs = labelled_probs(seed, n, k)
    classes = np.random.default_rng(seed + 1).permutation(k)  # class j is renamed classes[j]
    moved = np.empty_like(probs)
    moved[:, classes] = probs
    renamed = classes[labels]
    np.testing.assert_allclose(self_confidence(renamed, moved), self_confidence(labels, probs))
    np.testing.assert_allclose(normalized_margin(renamed, moved), normalized_margin(labels, probs))
    before, after = estimate_latent(labels, probs), estimate_latent(renamed, moved)
    np.testing.assert_array_equal(after.confident_joint[np.ix_(classes, classes)], before.confident_joint)
    np.testing.assert_allclose(after.thresholds[classes], before.thresholds)
    for filter_by in ("confident_learning", "predicted_neq_given"):  # no tie-breaking by class order in these
        np.testing.assert_array_equal(confident_learning_issues(renamed, moved, filter_by=filter_by),
                                      confident_learning_issues(labels, probs, filter_by=filter_by))


@FAST
@given(seeds, sizes, class_counts)
def test_pred_probs_scores_lie_in_their_ranges_and_suggestions_are_the_argmax(seed, n, k):
    labels, probs = labelled_probs(seed, n, k)
    confidence, margin = self_confidence(labels, probs), normalized_margin(labels, probs)
    assert ((confidence >= 0) & (confidence <= 1)).all() and ((margin >= -1) & (margin <= 1)).all()
    assert ((margin > 0) == (probs.argmax(1) == labels)).all()  # Dirichlet draws: no ties
    suggested = suggested_labels(labels, pred_probs=probs)
    assert suggested.dtype == np.int64 and (suggested == probs.argmax(1)).all()
    issues = find_label_issues(labels, pred_probs=probs, noise_rates=0.0)
    assert not issues.any()  # nothing is mislabeled at rate 0
    assert find_label_issues(labels, pred_probs=probs, noise_rates=1.0).all()


# ----------------------------------------------------------------------------- scores from histories


@FAST
@given(seeds, st.integers(1, 8), sizes)
def test_history_scores_stay_in_range_and_follow_a_sample_permutation(seed, epochs, n):
    loss, probability, correct = histories(seed, epochs, n)
    recorded = ~np.isnan(loss).all(0)
    results = {
        "forgetting_events": forgetting_events(correct), "forgetting_score": forgetting_score(correct),
        "mean_confidence": mean_confidence(probability), "variability": variability(probability),
        "small_loss_score": small_loss_score(loss), "aum_score": aum_score(loss),
    }
    for name, values in results.items():
        assert values.shape == (n,) and values.dtype == np.float64, name
        assert np.array_equal(np.isnan(values), ~recorded), name  # NaN exactly where never recorded
    events, score = results["forgetting_events"][recorded], results["forgetting_score"][recorded]
    assert (events >= 0).all() and (events == np.round(events)).all() and (events <= epochs // 2).all()
    assert (score <= 0).all() and (score >= -epochs).all()
    confidence, spread = results["mean_confidence"][recorded], results["variability"][recorded]
    assert ((confidence >= 0) & (confidence <= 1)).all() and ((spread >= 0) & (spread <= 0.5)).all()
    assert (results["small_loss_score"][recorded] <= 0).all()
    order = np.random.default_rng(seed).permutation(n)
    for name, function, history in (("forgetting_events", forgetting_events, correct),
                                     ("variability", variability, probability), ("aum_score", aum_score, loss),
                                     ("small_loss_score", small_loss_score, loss)):
        assert np.allclose(function(history[:, order]), results[name][order], equal_nan=True), name


@FAST
@given(seeds, st.integers(1, 6), sizes, class_counts)
def test_classwise_loss_score_is_in_unit_interval_and_ignores_class_names(seed, epochs, n, k):
    loss, _, _ = histories(seed, epochs, n)
    labels = np.random.default_rng(seed).integers(0, k, n)
    quality = classwise_loss_score(loss, labels, num_classes=k)
    finite = ~np.isnan(quality)
    assert np.array_equal(finite, ~np.isnan(loss).all(0))
    assert ((quality[finite] >= 0) & (quality[finite] <= 1)).all()
    classes = np.random.default_rng(seed + 1).permutation(k)
    assert np.allclose(classwise_loss_score(loss, classes[labels], num_classes=k), quality, equal_nan=True)


@pytest.mark.parametrize("call, name", [
    (lambda: forgetting_events(np.zeros(3)), "correct_history"),
    (lambda: forgetting_score(np.zeros((0, 3))), "correct_history"),
    (lambda: mean_confidence([[0.1, "a"]]), "probability_history"),
    (lambda: variability([[0.1], [0.2, 0.3]]), "probability_history"),
    (lambda: small_loss_score(np.zeros((2, 2, 2))), "loss_history"),
    (lambda: aum_score(None), "margin_history"),
    (lambda: clean_probability_score(np.zeros((2, 2))), "clean_prob"),
    (lambda: mentor_weight_score([]), "mentor_weight"),
    (lambda: classwise_loss_score(np.zeros((2, 3)), [0, 1]), "loss_history"),
    (lambda: classwise_loss_score(np.zeros((2, 3)), [0, 1, 3], num_classes=3), "num_classes"),
])
def test_score_functions_bad_input_names_the_argument(call, name):
    with pytest.raises(NoisyLabelsError, match=name):
        call()


# ----------------------------------------------------------------------------- metrics and the CSV


@FAST
@given(seeds, sizes, class_counts)
def test_detection_metrics_are_rates_and_perfect_on_the_truth(seed, n, k):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n)
    labels = np.where(rng.random(n) < 0.3, rng.integers(0, k, n), truth)
    mask = rng.random(n) < 0.4
    metrics = detection_metrics(mask, labels, truth)
    for key in ("precision", "recall", "f1"):
        assert 0.0 <= metrics[key] <= 1.0
    p, r = metrics["precision"], metrics["recall"]
    assert metrics["f1"] == pytest.approx(2 * p * r / (p + r) if p + r else 0.0)
    assert metrics["flagged"] == mask.sum() and metrics["mislabeled"] == (labels != truth).sum()
    wrong = labels != truth
    if wrong.any():
        assert detection_metrics(wrong, labels, truth) == {"precision": 1.0, "recall": 1.0, "f1": 1.0,
                                                           "flagged": int(wrong.sum()), "mislabeled": int(wrong.sum())}
    order = rng.permutation(n)
    assert detection_metrics(mask[order], labels[order], truth[order]) == metrics


@settings(max_examples=10, deadline=None, database=None)
@given(seeds, sizes, class_counts)
def test_issues_csv_lists_every_sample_once_in_rank_order(seed, n, k):
    labels, probs = labelled_probs(seed, n, k)
    quality = label_quality_scores(labels, pred_probs=probs)
    mask = find_label_issues(labels, pred_probs=probs)
    with tempfile.TemporaryDirectory() as folder:
        path = write_label_issues_csv(Path(folder) / "issues.csv", labels, quality, mask, probs.argmax(1))
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    assert sorted(int(r["index"]) for r in rows) == list(range(n))
    assert [int(r["rank"]) for r in rows] == list(range(1, n + 1))
    assert [int(r["index"]) for r in rows] == rank_label_issues(labels, pred_probs=probs).tolist()
    assert sum(int(r["flag"]) for r in rows) == mask.sum()


# ----------------------------------------------------------------------------- any input


garbage = st.one_of(st.none(), st.integers(-2, 5), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=3),
                    st.lists(st.integers(-1, 4), max_size=6), st.lists(st.one_of(st.floats(-1, 2), st.just(float("nan"))), max_size=6),
                    st.lists(st.lists(st.floats(0, 1), min_size=2, max_size=2), max_size=6),
                    st.lists(st.lists(st.integers(0, 3), max_size=3), max_size=3))
methods = st.sampled_from(["auto", "confident", "normalized_margin", "classwise_loss", "bogus"])
filters = st.one_of(st.none(), st.sampled_from(["prune_by_noise_rate", "both", "prune"]), st.integers())


@settings(max_examples=300, deadline=None, database=None)
@given(labels=garbage, scores=garbage, pred_probs=garbage, noise_rates=garbage, method=methods, filter_by=filters)
def test_any_input_to_the_label_issue_api_gives_a_mask_or_a_noisylabels_error(labels, scores, pred_probs, noise_rates,
                                                                              method, filter_by):
    for source in ({"scores": scores}, {"pred_probs": pred_probs}, {"scores": scores, "pred_probs": pred_probs}):
        try:
            mask = find_label_issues(labels, method=method, noise_rates=noise_rates, filter_by=filter_by, **source)
        except NoisyLabelsError:
            continue
        assert mask.dtype == bool and mask.shape == (len(labels),)
        try:
            order = rank_label_issues(labels, method=method, **source)
        except NoisyLabelsError:
            continue
        assert sorted(order.tolist()) == list(range(len(labels)))


@settings(max_examples=100, deadline=None, database=None)
@given(mask=garbage, labels=garbage, truth=garbage)
def test_any_input_to_detection_metrics_gives_rates_or_a_noisylabels_error(mask, labels, truth):
    try:
        metrics = detection_metrics(mask, labels, truth)
    except NoisyLabelsError as error:
        assert any(name in str(error) for name in ("mask", "labels", "true_labels"))
        return
    assert all(0 <= metrics[k] <= 1 for k in ("precision", "recall", "f1"))
    assert not any(isinstance(v, float) and math.isnan(v) for v in metrics.values())

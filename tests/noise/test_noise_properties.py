"""Property-based tests (hypothesis) of the noise generators, transition helpers and summaries.

For random label sets, class counts, rates and seeds: every generator returns (N,) int64 labels
in [0, C) and a (C, C) row-stochastic T, the same seed gives the same labels, rate 0 leaves the
labels unchanged, the flips have the structure the generator promises, and for large N the
empirical rates match T. Summaries: rows sum to 1, sample permutations change nothing, class
relabelling permutes T. Bad input raises ``NoisyLabelsError`` naming the argument.
"""
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from noisylabels.errors import NoisyLabelsError
from noisylabels.noise import NOISE, estimate_transition, format_noise_summary, make_noise, noise_summary
from noisylabels.noise.generators import pair_transition, symmetric_transition, uniform_transition
from noisylabels.noise.summary import as_label_array, check_num_classes, is_diagonally_dominant

FAST = settings(max_examples=25, deadline=None, database=None)
seeds = st.integers(0, 2**32 - 1)
class_counts = st.integers(2, 12)
rates = st.floats(0.0, 1.0)


def draw_labels(seed, n, c):
    return np.random.default_rng(seed).integers(0, c, n)


def options_for(kind, labels, c, seed, folder):
    """Whatever each generator needs besides labels, num_classes, rate and seed."""
    rng = np.random.default_rng(seed)
    if kind == "asymmetric":
        source, destination = rng.choice(c, size=2, replace=False)
        return {"mapping": {int(source): int(destination)}}
    if kind == "instance":
        return {"features": rng.normal(size=(len(labels), 3))}
    if kind == "matrix":
        return {"matrix": rng.dirichlet(np.ones(c), size=c).tolist()}
    if kind == "file":
        path = Path(folder) / f"noisy-{seed}.npy"
        np.save(path, rng.integers(0, c, len(labels)))
        return {"path": str(path)}
    return {}


@pytest.fixture(scope="module")
def folder():
    with tempfile.TemporaryDirectory() as name:
        yield name


@pytest.mark.parametrize("kind", NOISE.names())
@FAST
@given(seed=seeds, n=st.integers(1, 200), c=class_counts, rate=rates)
def test_every_generator_returns_labels_in_range_and_a_stochastic_matrix(kind, folder, seed, n, c, rate):
    labels = draw_labels(seed, n, c)
    options = options_for(kind, labels, c, seed, folder)
    noisy, transition = make_noise(kind, labels, c, rate, seed=seed, **options)
    assert noisy.shape == (n,) and noisy.dtype == np.int64 and ((noisy >= 0) & (noisy < c)).all()
    assert transition.shape == (c, c) and transition.dtype == np.float64
    assert ((transition >= 0) & (transition <= 1 + 1e-12)).all()
    np.testing.assert_allclose(transition.sum(1), 1.0, atol=1e-9)
    again, same_t = make_noise(kind, labels, c, rate, seed=seed, **options)
    np.testing.assert_array_equal(again, noisy)
    np.testing.assert_array_equal(same_t, transition)
    assert (transition[labels, noisy] > 0).all()  # no label lands where T says it cannot
    if kind == "none":
        np.testing.assert_array_equal(noisy, labels)


@pytest.mark.parametrize("kind", ["symmetric", "uniform", "pair", "asymmetric", "instance"])
@FAST
@given(seed=seeds, n=st.integers(1, 200), c=class_counts)
def test_rate_zero_leaves_the_labels_unchanged(kind, folder, seed, n, c):
    labels = draw_labels(seed, n, c)
    noisy, transition = make_noise(kind, labels, c, 0.0, seed=seed, **options_for(kind, labels, c, seed, folder))
    np.testing.assert_array_equal(noisy, labels)
    np.testing.assert_array_equal(transition, np.eye(c))


@FAST
@given(seed=seeds, n=st.integers(1, 300), c=class_counts, rate=rates)
def test_flips_have_the_promised_structure(seed, n, c, rate):
    labels = draw_labels(seed, n, c)
    symmetric, _ = make_noise("symmetric", labels, c, rate, seed=seed)
    pair, _ = make_noise("pair", labels, c, rate, seed=seed)
    changed = pair != labels
    np.testing.assert_array_equal(pair[changed], (labels[changed] + 1) % c)  # pair: only to the next class
    if rate == 1.0:
        assert (symmetric != labels).all() and changed.all()
    source, destination = np.random.default_rng(seed).choice(c, size=2, replace=False)
    flipped, _ = make_noise("asymmetric", labels, c, rate, seed=seed, mapping={int(source): int(destination)})
    moved = flipped != labels
    assert moved.sum() == round(rate * (labels == source).sum())  # exactly round(rate * n_source)
    assert (labels[moved] == source).all() and (flipped[moved] == destination).all()


@settings(max_examples=6, deadline=None, database=None)
@given(seed=seeds, c=class_counts, rate=st.floats(0.05, 0.95), kind=st.sampled_from(["symmetric", "uniform", "pair"]))
def test_empirical_flip_rate_matches_the_transition_matrix_for_large_n(seed, c, rate, kind):
    n = 20_000
    labels = draw_labels(seed, n, c)
    noisy, transition = make_noise(kind, labels, c, rate, seed=seed)
    expected = 1 - np.diag(transition)[labels].mean()  # the mean flip probability of these labels
    std = np.sqrt(expected * (1 - expected) / n)
    assert abs((noisy != labels).mean() - expected) <= 5 * std + 1e-12
    estimated = estimate_transition(labels, noisy, c)
    counts = np.bincount(labels, minlength=c)[:, None]
    assert (np.abs(estimated - transition) <= 5 * np.sqrt(transition * (1 - transition) / counts) + 1e-12).all()


@FAST
@given(c=class_counts, rate=rates, seed=seeds)
def test_transition_helpers_are_stochastic_and_dominant_below_their_limits(c, rate, seed):
    classes = np.random.default_rng(seed).permutation(c)
    for make, limit in ((symmetric_transition, (c - 1) / c), (uniform_transition, 1.0), (pair_transition, 0.5)):
        transition = make(c, rate)
        assert (transition >= 0).all() and np.allclose(transition.sum(1), 1)
        if rate != limit:
            assert is_diagonally_dominant(transition) == (rate < limit), (make.__name__, rate)
    for make in (symmetric_transition, uniform_transition):  # no class is special: relabelling changes nothing
        transition = make(c, rate)
        np.testing.assert_allclose(transition[np.ix_(classes, classes)], transition)
    np.testing.assert_allclose(np.diag(uniform_transition(c, rate)), 1 - rate * (c - 1) / c)


@FAST
@given(seed=seeds, n=st.integers(1, 200), c=class_counts, rate=rates)
def test_summaries_are_consistent_permutation_invariant_and_relabel_equivariant(seed, n, c, rate):
    rng = np.random.default_rng(seed)
    true = draw_labels(seed, n, c)
    noisy, requested = make_noise("symmetric", true, c, rate, seed=seed)
    estimated = estimate_transition(true, noisy, c)
    np.testing.assert_allclose(estimated.sum(1), 1.0)
    np.testing.assert_array_equal(estimate_transition(true, true, c), np.eye(c))
    order = rng.permutation(n)
    np.testing.assert_array_equal(estimate_transition(true[order], noisy[order], c), estimated)
    classes = rng.permutation(c)  # class k is renamed classes[k]
    renamed = estimate_transition(classes[true], classes[noisy], c)
    np.testing.assert_allclose(renamed[np.ix_(classes, classes)], estimated)

    summary = noise_summary(true, noisy, c, requested_T=requested)
    assert summary["num_samples"] == n and summary["actual_rate"] == pytest.approx((true != noisy).mean())
    present = np.bincount(true, minlength=c) > 0
    np.testing.assert_allclose(np.array(summary["per_class_rate"])[present], 1 - np.diag(estimated)[present])
    assert all(0 <= r <= 1 for r in summary["per_class_rate"] + summary["per_observed_class_rate"])
    assert summary["max_abs_T_error"] == pytest.approx(np.abs(estimated - requested).max())
    assert noise_summary(true[order], noisy[order], c, requested_T=requested) == summary
    json.dumps(summary)
    text = format_noise_summary(summary)
    assert text.startswith("label noise:") and len(text.splitlines()) >= 4


garbage = st.one_of(st.none(), st.booleans(), st.integers(-3, 15), st.floats(allow_nan=True, allow_infinity=True),
                    st.text(max_size=3), st.lists(st.integers(-2, 12), max_size=5),
                    st.lists(st.floats(allow_nan=True), max_size=4), st.lists(st.lists(st.integers(0, 3), max_size=2),
                                                                              max_size=3))


@settings(max_examples=200, deadline=None, database=None)
@given(kind=st.sampled_from(NOISE.names() + ["symetric"]), labels=garbage, num_classes=garbage, rate=garbage,
       seed=garbage)
def test_any_input_gives_valid_noise_or_a_noisylabels_error(kind, labels, num_classes, rate, seed):
    try:
        noisy, transition = make_noise(kind, labels, num_classes, rate, seed=seed)
    except NoisyLabelsError:
        return
    assert noisy.shape == (len(labels),) and transition.shape == (num_classes, num_classes)
    assert ((noisy >= 0) & (noisy < num_classes)).all()


@pytest.mark.parametrize("args, kwargs, name", [
    (("symmetric", [0, 1, 2], 3, -0.1), {}, "noise rate"),
    (("uniform", [0, 1, 2], 3, float("nan")), {}, "noise rate"),
    (("pair", [0, 1, 2], 3, "0.2"), {}, "noise rate"),
    (("symmetric", [0, 1, 2], 3, 0.2), {"seed": -1}, "seed"),
    (("symmetric", [0, 1, 2], 3, 0.2), {"seed": 1.5}, "seed"),
    (("symmetric", [0, 1, 2], 2.0, 0.2), {}, "num_classes"),
    (("symmetric", [0, 1, 2], 1, 0.2), {}, "num_classes"),
    (("symmetric", [0, 1, 3], 3, 0.2), {}, "labels contain 3"),
    (("symmetric", [0, np.nan], 3, 0.2), {}, "labels must be whole numbers"),
    (("symmetric", [[0, 1]], 3, 0.2), {}, "labels must be a 1-D array"),
    (("symmetric", [[0], [1, 2]], 3, 0.2), {}, "labels must be a 1-D array"),  # ragged: was a bare ValueError
    (("symmetric", [0.0, 1e300], 3, 0.2), {}, r"labels contain 1e\+300"),  # was cast to int64 first, wrapping
    (("instance", [0, 1], 3, 0.2), {"features": np.full((2, 2), np.nan)}, "features contain NaN"),
    (("matrix", [0, 1], 2, 0.0), {"matrix": [[0.5, 0.5], [np.nan, 1.0]]}, "transition matrix entries"),
])
def test_bad_input_names_the_argument(args, kwargs, name):
    with pytest.raises(NoisyLabelsError, match=name):
        make_noise(*args, **kwargs)


@FAST
@given(labels=garbage, num_classes=st.integers(-1, 12))
def test_label_and_class_count_checks_accept_valid_or_raise(labels, num_classes):
    try:
        checked = as_label_array(labels, check_num_classes(num_classes))
    except NoisyLabelsError as error:
        assert "labels" in str(error) or "num_classes" in str(error)
        return
    assert checked.dtype == np.int64 and checked.ndim == 1 and ((checked >= 0) & (checked < num_classes)).all()


def test_summary_bad_input_names_the_argument():
    cases = [
        (lambda: estimate_transition([0, 1], [0, 1, 1], 2), "2 true labels but 3 noisy labels"),
        (lambda: estimate_transition([0, 5], [0, 1], 2), "true labels contain 5"),
        (lambda: noise_summary([0, 1], [0, -1], 2), "noisy labels contain -1"),
        (lambda: noise_summary([0, 1], [0, 1], 2, requested_T=np.eye(3)), "requested_T has shape"),
        (lambda: noise_summary([0, 1], [0, 1], "2"), "num_classes"),
    ]
    for call, message in cases:
        with pytest.raises(NoisyLabelsError, match=message):
            call()

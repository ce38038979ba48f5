import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from noisylabels.errors import NoisyLabelsError
from noisylabels.detection.validate import (check_batch, check_history, check_labels, check_mask, check_noise_rates,
                                            check_pred_probs, check_scores)

FAST = settings(max_examples=30, deadline=None, database=None)


@pytest.mark.parametrize("labels", [[0, 2, 1], np.array([0, 2, 1], dtype=np.uint8), torch.tensor([0, 2, 1]),
                                    np.array([0.0, 2.0, 1.0])])
def test_check_labels_accepts_lists_arrays_tensors_and_whole_floats(labels):
    out = check_labels(labels, num_classes=3)
    assert out.dtype == np.int64 and out.tolist() == [0, 2, 1]


@pytest.mark.parametrize("labels, fragment", [
    ([[0, 1]], "1-D array"), ([], "must not be empty"), ([0.0, np.nan, 1.0], "NaN or inf at indices [1]"),
    ([0.5, 1.0], "fractional"), ([0, -1, 2], "negative values at indices [1]"), ([0, 3], "0..2 (num_classes=3), got 3"),
    (["a", "b"], "must hold numbers"), ([[0], [1, 2]], "rectangular"), ([0, 1, 2], "one entry per sample (N=2)"),
])
def test_check_labels_errors_name_the_argument_and_the_problem(labels, fragment):
    with pytest.raises(NoisyLabelsError, match="labels") as error:
        check_labels(labels, num_classes=3, length=2 if fragment.startswith("one entry") else None)
    assert fragment in str(error.value)


def test_check_labels_lists_at_most_five_bad_indices():
    with pytest.raises(NoisyLabelsError, match=r"indices \[0, 1, 2, 3, 4, ...\] \(7 in all\)"):
        check_labels([-1] * 7)


def test_check_pred_probs_errors():
    labels = np.array([0, 1, 1])
    good = np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]])
    assert check_pred_probs(torch.tensor(good), labels).dtype == np.float64
    cases = [(good[:2], r"shape \(N, K\) = \(3, K\)"), (good[:, :1], "K >= 2"), (good * 5, "apply softmax"),
             (np.where(good == 0.9, np.nan, good), "finite"), (good - 0.3, "non-negative"),
             (np.array([[0.5, 0.5]] * 3) + [[0, 0.002]] * 3, "sum to 1")]
    for probs, pattern in cases:
        with pytest.raises(NoisyLabelsError, match=pattern):
            check_pred_probs(probs, labels)
    with pytest.raises(NoisyLabelsError, match="only 2 columns"):
        check_pred_probs(good, np.array([0, 1, 2]))
    check_pred_probs(good + [[0.0004, 0]] * 3, labels)  # within the 1e-3 tolerance


def test_check_scores_mask_history_and_noise_rates():
    labels = np.array([0, 1, 0])
    with pytest.raises(NoisyLabelsError, match=r"NaN at indices \[1\]"):
        check_scores([0.1, np.nan, 0.3], labels)
    assert np.isnan(check_scores([0.1, np.nan, 0.3], labels, allow_nan=True)[1])
    with pytest.raises(NoisyLabelsError, match="length N=3"):
        check_scores([0.1, 0.2], labels)
    assert check_mask([1, 0, 1], labels).tolist() == [True, False, True]
    with pytest.raises(NoisyLabelsError, match="boolean"):
        check_mask([2, 0, 1], labels)
    with pytest.raises(NoisyLabelsError, match=r"shape \(epochs, N\)"):
        check_history(np.zeros(3), "loss_history")
    with pytest.raises(NoisyLabelsError, match="4 samples per epoch but labels have 3"):
        check_history(np.zeros((2, 4)), "loss_history", 3)
    assert check_noise_rates(0.2, 3).tolist() == [0.2, 0.2, 0.2]
    for rates, pattern in (([0.1, 0.2], "one per class"), ([0.1, 1.5, 0], r"in \[0, 1\]")):
        with pytest.raises(NoisyLabelsError, match=pattern):
            check_noise_rates(rates, 3)


def test_check_batch_errors():
    logits, idx, labels = torch.randn(4, 3), torch.tensor([0, 1, 2, 3]), torch.tensor([0, 1, 2, 0])
    out = check_batch(idx.tolist(), logits.half(), labels, num_samples=10, num_classes=3)
    assert out[0].dtype == torch.long and out[1].dtype == torch.float32  # half logits: computed in float32
    bad_logits = logits.clone()
    bad_logits[2, 1] = float("nan")
    cases = [((idx, logits[:, :2], labels), r"\(B, 3\)"), ((idx + 7, logits, labels), r"indices must be in \[0, 10\)"),
             ((idx, logits, labels + 1), r"labels must be in \[0, 3\)"),
             ((idx, bad_logits, labels), r"rows at indices \[2\]"),
             ((idx.float(), logits, labels), "integer tensor"), ((idx[:3], logits, labels), "length B=4"),
             ((idx, logits.long(), labels), "floating point"), ((idx, "x", labels), "logits")]
    for args, pattern in cases:
        with pytest.raises(NoisyLabelsError, match=pattern):
            check_batch(*args, num_samples=10, num_classes=3)


anything = st.one_of(
    st.lists(st.integers(-3, 12), max_size=8),
    st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), max_size=8),
    st.lists(st.lists(st.integers(0, 3), max_size=3), max_size=3),
    st.lists(st.text(max_size=2), max_size=3),
)


@FAST
@given(anything, st.integers(1, 10))
def test_check_labels_accepts_valid_or_raises_only_noisylabels_error(values, num_classes):
    try:
        out = check_labels(values, num_classes=num_classes)
    except NoisyLabelsError:
        return
    assert out.ndim == 1 and len(out) > 0 and out.dtype == np.int64
    assert out.min() >= 0 and out.max() < num_classes


@FAST
@given(st.integers(1, 6), st.integers(1, 4), st.integers(0, 2**32 - 1),
       st.sampled_from(["ok", "nan", "shape", "scale"]))
def test_check_pred_probs_raises_only_noisylabels_error(n, k, seed, damage):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, n)
    probs = rng.dirichlet(np.ones(k), n)
    if damage == "nan":
        probs[rng.integers(n), rng.integers(k)] = np.nan
    elif damage == "shape":
        probs = probs[:, :, None]
    elif damage == "scale":
        probs = probs * 3
    try:
        out = check_pred_probs(probs, labels)
    except NoisyLabelsError:
        assert damage != "ok" or k < 2
        return
    assert damage == "ok" and out.shape == (n, k)

"""noise_summary and estimate_transition on hand-made examples with exact answers."""
import json

import numpy as np
import pytest

from noisylabels.errors import NoisyLabelsError
from noisylabels.noise import estimate_transition, format_noise_summary, make_noise, noise_summary

# Class 0 loses two of four samples (to 1 and 2), class 1 keeps both, class 2 loses one of four to 0.
TRUE = [0, 0, 0, 0, 1, 1, 2, 2, 2, 2]
NOISY = [0, 0, 1, 2, 1, 1, 2, 2, 2, 0]
EXPECTED_T = [[0.5, 0.25, 0.25], [0.0, 1.0, 0.0], [0.25, 0.0, 0.75]]


def test_estimate_transition_by_hand():
    np.testing.assert_allclose(estimate_transition(TRUE, NOISY, 3), EXPECTED_T)


def test_class_without_samples_gets_an_identity_row():
    transition = estimate_transition(TRUE, NOISY, 4)
    np.testing.assert_array_equal(transition[3], [0, 0, 0, 1])


def test_summary_by_hand():
    summary = noise_summary(TRUE, NOISY, 3, requested_T=np.eye(3))
    assert summary["num_samples"] == 10
    assert summary["actual_rate"] == pytest.approx(0.3)
    assert summary["per_class_rate"] == pytest.approx([0.5, 0.0, 0.25])
    # Observed as 0: samples 0, 1, 9 (9 is wrong); as 1: 2, 4, 5 (2 wrong); as 2: 3, 6, 7, 8 (3 wrong).
    assert summary["per_observed_class_rate"] == pytest.approx([1 / 3, 1 / 3, 0.25])
    np.testing.assert_allclose(summary["estimated_T"], EXPECTED_T)
    assert summary["requested_T"] == np.eye(3).tolist()
    assert summary["max_abs_T_error"] == pytest.approx(0.5)
    assert summary["diagonally_dominant"] is True
    json.dumps(summary)  # plain Python values only


def test_requested_keys_only_when_requested():
    summary = noise_summary(TRUE, NOISY, 3)
    assert "requested_T" not in summary and "max_abs_T_error" not in summary


def test_a_tie_on_the_diagonal_is_not_dominant():
    assert noise_summary([0, 0, 1, 1], [0, 1, 1, 0], 2)["diagonally_dominant"] is False


def test_pair_noise_above_one_half_is_not_diagonally_dominant():
    labels = np.random.default_rng(0).integers(0, 10, size=20_000)
    for rate, dominant in ((0.6, False), (0.4, True)):
        noisy, transition = make_noise("pair", labels, 10, rate, seed=0)
        summary = noise_summary(labels, noisy, 10, requested_T=transition)
        assert summary["diagonally_dominant"] is dominant
        assert summary["max_abs_T_error"] < 0.05


def test_format_noise_summary():
    text = format_noise_summary(noise_summary(TRUE, NOISY, 3, requested_T=np.eye(3)))
    assert "30.00% of 10 labels changed" in text
    assert "0: 50.0%, 1: 0.0%, 2: 25.0%" in text
    assert "diagonally dominant" in text and "NOT" not in text
    assert "0.5000" in text
    not_dominant = format_noise_summary(noise_summary([0, 0, 1, 1], [1, 1, 1, 0], 2))
    assert "NOT diagonally dominant" in not_dominant


def test_format_many_classes_stays_short():
    labels = np.arange(100)
    noisy = (labels + (labels == 7)) % 100
    text = format_noise_summary(noise_summary(labels, noisy, 100))
    assert "max 100.0% (class 7)" in text
    assert max(len(line) for line in text.splitlines()) < 120


@pytest.mark.parametrize(
    "true, noisy, num_classes",
    [([0, 1], [0], 2), ([0, 3], [0, 1], 2), ([], [], 2), ([0, 1], [0, 1], 1)],
)
def test_bad_inputs(true, noisy, num_classes):
    with pytest.raises(NoisyLabelsError):
        noise_summary(true, noisy, num_classes)


def test_requested_matrix_of_the_wrong_shape():
    with pytest.raises(NoisyLabelsError, match="shape"):
        noise_summary(TRUE, NOISY, 3, requested_T=np.eye(2))

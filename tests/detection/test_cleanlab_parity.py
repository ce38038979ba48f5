"""Our confident learning flags exactly cleanlab's samples, for every filter_by, on the same
pred_probs (cleanlab is a dev dependency, pinned, so the check runs in every test run)."""
import warnings

import numpy as np
import pytest
from cleanlab.filter import find_label_issues

from noisylabels.detection.confident import FILTERS, confident_learning_issues


def noisy_problem(seed: int):
    """Labels with a random share flipped and probabilities that favour the true class by a random
    margin: many sizes, class counts, noise levels and rounding ties (equal confident counts)."""
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(10, 400)), int(rng.integers(2, 8))
    true = rng.integers(0, k, n)
    labels = true.copy()
    flip = rng.random(n) < rng.uniform(0, 0.6)
    labels[flip] = rng.integers(0, k, flip.sum())
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), true] += rng.uniform(0, 3)
    probs = np.exp(logits)
    return labels, probs / probs.sum(1, keepdims=True)


@pytest.mark.parametrize("filter_by", FILTERS)
def test_every_filter_flags_exactly_cleanlabs_samples(filter_by):
    for seed in range(150):
        labels, probs = noisy_problem(seed)
        ours = np.asarray(confident_learning_issues(labels, probs, filter_by=filter_by))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # cleanlab warns about classes with few examples
            theirs = find_label_issues(labels, probs, filter_by=filter_by, n_jobs=1)  # no worker pool per call
        assert np.array_equal(ours, theirs), f"seed {seed}: {np.flatnonzero(ours != theirs)}"

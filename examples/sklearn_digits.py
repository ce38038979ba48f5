"""Train through scikit-learn on labels with planted errors, and find the errors.

scikit-learn's digits (1,797 8x8 images as 64 features, 10 classes): a quarter held out as a clean
test set, 20% of the training labels flipped to another class uniformly at random (fixed seed).
``NoisyLabelClassifier`` with its defaults (standard training with the robust GCE loss, an MLP, 30
epochs) is cross-validated on the noisy labels, fitted, and compared with the flips we made and
with the clean test labels; plain cross-entropy (``loss="ce"``) is the baseline. Runs in seconds:

    python examples/sklearn_digits.py
"""
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import cross_val_score, train_test_split

from noisylabels import NoisyLabelClassifier, detection_metrics

NOISE_RATE, SEED = 0.2, 0


def flip_labels(labels: np.ndarray, rate: float, num_classes: int, rng: np.random.Generator) -> np.ndarray:
    """Flip a ``rate`` fraction of the labels, each to one of the other classes uniformly."""
    noisy = labels.copy()
    flip = rng.permutation(len(labels))[:round(rate * len(labels))]
    noisy[flip] = (labels[flip] + rng.integers(1, num_classes, len(flip))) % num_classes
    return noisy


def main() -> None:
    start = time.perf_counter()
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=SEED)
    noisy = flip_labels(y_train, NOISE_RATE, 10, np.random.default_rng(SEED))
    print(f"digits: {len(X_train)} training samples, {int((noisy != y_train).sum())} labels flipped "
          f"({NOISE_RATE:.0%} symmetric), {len(X_test)} clean test samples")

    clf = NoisyLabelClassifier(random_state=SEED)
    folds = cross_val_score(clf, X_train, noisy, cv=3)  # accuracy against the noisy labels
    print(f"cross_val_score (3 folds, noisy labels): {folds.mean():.3f} +- {folds.std():.3f}")

    clf.fit(X_train, noisy)
    m = detection_metrics(clf.label_issues_, noisy, y_train)  # flags vs the flips we planted
    print(f"label issues: flagged {m['flagged']}, precision {m['precision']:.3f}, recall {m['recall']:.3f}, "
          f"f1 {m['f1']:.3f}")
    print(f"estimated noise rate: {clf.noise_rate_:.3f} (planted {(noisy != y_train).mean():.3f})")
    worst = np.argsort(clf.label_quality_)[:5]  # the most suspicious labels first
    print("most suspicious: " + ", ".join(f"#{i} given {noisy[i]} (true {y_train[i]})" for i in worst))
    print(f"test accuracy (clean labels): {clf.score(X_test, y_test):.3f}")

    baseline = NoisyLabelClassifier(loss="ce", random_state=SEED).fit(X_train, noisy)
    print(f"test accuracy, plain cross-entropy: {baseline.score(X_test, y_test):.3f}")
    print(f"time: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()

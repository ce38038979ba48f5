"""Synthetic and real label noise, generated the ways the literature does (see METHODS.md, "Label noise").

Every generator registered in ``NOISE`` has the signature

    fn(labels (N,) int, num_classes C, rate, *, seed, features=None, **options)
        -> (noisy labels (N,) int64, T (C, C) float64)

where T[i, j] = P(noisy = j | true = i) is the transition matrix the generator used (rows sum to 1).
Generators trust their inputs; call them through ``make_noise``, which validates first.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ..errors import NoisyLabelsError
from ..options import PATH, Choice, Interval, Real, Type
from ..registry import Registry
from .files import load_array
from .summary import check_num_classes, as_label_array, estimate_transition

# make_noise fills these in; every other keyword-only parameter of a generator is an option.
NOISE = Registry("noise type", fixed=("labels", "num_classes", "rate", "seed", "features"))

# APL / lnl_sr: truck->automobile, bird->airplane, deer->horse, cat<->dog.
CIFAR10_MAPPING = {9: 1, 2: 0, 4: 7, 3: 5, 5: 3}
CIFAR100_BLOCK = 5


def make_noise(
    kind: str,
    labels,
    num_classes: int,
    rate: float = 0.0,
    *,
    seed: int = 0,
    features: Optional[np.ndarray] = None,
    **options: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Corrupt ``labels`` with noise of type ``kind`` (one of ``NOISE.names()``).

    labels: (N,) class indices in [0, num_classes); rate: noise rate in [0, 1]; seed: the same seed
    gives the same labels; features: (N, ...) inputs, needed by "instance" noise only.
    Returns (noisy labels (N,) int64, transition matrix T (C, C) float64, T[i, j] = P(noisy=j | true=i)).
    """
    generator = NOISE.get(kind)
    num_classes = check_num_classes(num_classes)
    labels = as_label_array(labels, num_classes)
    rate = _check_rate(kind, rate, num_classes)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise NoisyLabelsError(f"seed must be a non-negative integer, got {seed!r}")
    NOISE.check_options(kind, options, given=("labels", "num_classes", "rate", "seed", "features"))
    return generator(labels, num_classes, rate, seed=int(seed), features=features, **options)


def _check_rate(kind: str, rate, num_classes: int) -> float:
    if isinstance(rate, bool) or not isinstance(rate, (int, float, np.integer, np.floating)):
        raise NoisyLabelsError(f"noise rate must be a number in [0, 1], got {rate!r}")
    rate = float(rate)
    if math.isfinite(rate) and 0.0 <= rate <= 1.0:
        return rate
    # A whole number like 40 is almost surely a percentage.
    hint = f" (a percentage? use {rate / 100:g})" if 1.0 < rate <= 100.0 and rate == int(rate) else ""
    if kind == "symmetric":
        # Say what the number means here, since the symmetric and uniform conventions differ.
        raise NoisyLabelsError(
            f"symmetric noise rate must be in [0, 1] (the fraction of labels moved to a different class; "
            f"{(num_classes - 1) / num_classes:g} already makes labels pure chance), got {rate:g}{hint}"
        )
    raise NoisyLabelsError(f"noise rate must be in [0, 1] (a fraction of labels), got {rate:g}{hint}")


def _sample_from_rows(labels: np.ndarray, transition: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw noisy[n] ~ transition[labels[n]] for every n. labels: (N,); transition: (C, C) -> (N,) int64."""
    return _sample_categorical(transition[labels], rng)


def _sample_categorical(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw from each row of probs (N, C) -> (N,) int64 class indices."""
    cdf = np.cumsum(probs, axis=1)
    # Scaling u by each row's total (not assuming 1.0) means rounding can never pick a zero-probability class.
    u = rng.random(len(probs)) * cdf[:, -1]
    return (cdf <= u[:, None]).sum(axis=1).astype(np.int64)


@NOISE.register("none", constraints={})
def no_noise(labels, num_classes, rate, *, seed, features=None):
    """Clean labels: the noisy labels are a copy of the input and T = I."""
    return labels.astype(np.int64, copy=True), np.eye(num_classes)


def symmetric_transition(num_classes: int, rate: float) -> np.ndarray:
    """(C, C): 1 - rate on the diagonal, rate / (C - 1) off it."""
    transition = np.full((num_classes, num_classes), rate / (num_classes - 1))
    np.fill_diagonal(transition, 1.0 - rate)
    return transition


@NOISE.register("symmetric", constraints={})
def symmetric_noise(labels, num_classes, rate, *, seed, features=None):
    """With probability ``rate`` a label moves to a different class chosen uniformly (Co-teaching, APL)."""
    transition = symmetric_transition(num_classes, rate)
    return _sample_from_rows(labels, transition, np.random.default_rng(seed)), transition


def uniform_transition(num_classes: int, rate: float) -> np.ndarray:
    """(C, C): (1 - rate) I + rate / C, so the real flip rate is rate (C - 1) / C."""
    return (1.0 - rate) * np.eye(num_classes) + rate / num_classes


@NOISE.register("uniform", constraints={})
def uniform_noise(labels, num_classes, rate, *, seed, features=None):
    """With probability ``rate`` a label is redrawn from all C classes, possibly its own (DivideMix)."""
    transition = uniform_transition(num_classes, rate)
    return _sample_from_rows(labels, transition, np.random.default_rng(seed)), transition


def pair_transition(num_classes: int, rate: float) -> np.ndarray:
    """(C, C): 1 - rate on the diagonal, rate at (i, (i + 1) mod C)."""
    next_class = np.roll(np.eye(num_classes), 1, axis=1)
    return (1.0 - rate) * np.eye(num_classes) + rate * next_class


@NOISE.register("pair", constraints={})
def pair_noise(labels, num_classes, rate, *, seed, features=None):
    """Class i becomes (i + 1) mod C with probability ``rate`` (Co-teaching "pairflip")."""
    transition = pair_transition(num_classes, rate)
    return _sample_from_rows(labels, transition, np.random.default_rng(seed)), transition


def resolve_mapping(mapping, num_classes: int) -> dict[int, int]:
    """An asymmetric class mapping {source: destination} from "cifar10", "cifar100" or a dict
    (the option's constraint has checked that it is one of these)."""
    if mapping == "cifar10":
        resolved = dict(CIFAR10_MAPPING)
    elif mapping == "cifar100":
        if num_classes % CIFAR100_BLOCK:
            raise NoisyLabelsError(
                f"mapping 'cifar100' shifts classes inside blocks of {CIFAR100_BLOCK}, so num_classes "
                f"must be divisible by {CIFAR100_BLOCK}, got {num_classes}; give a dict mapping instead"
            )
        resolved = {
            i: i - i % CIFAR100_BLOCK + (i + 1) % CIFAR100_BLOCK for i in range(num_classes)
        }
    else:
        resolved = {}
        for src, dst in mapping.items():
            try:  # keys arrive as strings from YAML
                resolved[int(src)] = int(dst)
            except (TypeError, ValueError):
                raise NoisyLabelsError(
                    f"asymmetric mapping entry {src!r}: {dst!r} is not a pair of class indices; "
                    "write it as {source: destination} with integers"
                ) from None
    name = f"'{mapping}'" if isinstance(mapping, str) else "mapping"
    for src, dst in resolved.items():
        if not (0 <= src < num_classes and 0 <= dst < num_classes):
            raise NoisyLabelsError(
                f"asymmetric {name} sends {src} -> {dst}, outside classes 0..{num_classes - 1}; "
                "use class indices that exist (or set num_classes)"
            )
        if src == dst:
            raise NoisyLabelsError(f"asymmetric {name} sends class {src} to itself; drop that entry")
    return resolved


@NOISE.register("asymmetric", constraints={"mapping": [Choice("cifar10", "cifar100"), Type(dict)]})
def asymmetric_noise(labels, num_classes, rate, *, seed, features=None, mapping="cifar10"):
    """Flip exactly round(rate * n_src) randomly chosen samples of each source class to its destination.

    The APL / lnl_sr convention. mapping: "cifar10" (9->1, 2->0, 4->7, 3<->5), "cifar100" (cyclic shift
    inside blocks of 5 consecutive classes) or a dict {source: destination}. Classes not in the mapping
    are untouched. T is the intended matrix: 1 - rate at (src, src), rate at (src, dst), identity elsewhere.
    """
    resolved = resolve_mapping(mapping, num_classes)
    rng = np.random.default_rng(seed)
    noisy = labels.astype(np.int64, copy=True)
    transition = np.eye(num_classes)
    for src in sorted(resolved):  # sorted: the draw order, and so the result, must not depend on dict order
        dst = resolved[src]
        # Choose from the clean labels so a swap (3<->5) never flips a sample twice.
        members = np.flatnonzero(labels == src)
        flipped = rng.choice(members, size=round(rate * len(members)), replace=False)
        noisy[flipped] = dst
        transition[src, src] = 1.0 - rate
        transition[src, dst] = rate
    return noisy, transition


def _per_sample_flip_rates(rate: float, std: float, size: int, rng: np.random.Generator) -> np.ndarray:
    """q_i ~ Normal(rate, std) truncated to [0, 1]; (size,)."""
    if std == 0:
        return np.full(size, rate)
    from scipy.stats import truncnorm  # scipy always comes with scikit-learn

    low, high = (0.0 - rate) / std, (1.0 - rate) / std
    return truncnorm.rvs(low, high, loc=rate, scale=std, size=size, random_state=rng)


@NOISE.register("instance", constraints={"std": Interval(Real, 0, math.inf, closed="left")})
def instance_noise(labels, num_classes, rate, *, seed, features=None, std=0.1):
    """Instance-dependent noise of Xia et al. 2020 ("part-dependent"); needs ``features`` (N, ...).

    Each sample gets a flip rate q_i ~ Normal(rate, std) truncated to [0, 1], and a random linear map
    W[y] (d, C) scores where it goes: it keeps its label with probability 1 - q_i and moves to class j
    with probability q_i * softmax(x_i W[y_i])_j, the true class masked out. rate 0 means clean labels
    (the truncated normal around 0 would still flip about 8%). T is the expected transition matrix:
    the per-sample distributions averaged within each true class (identity row for an absent class).
    """
    if features is None:
        raise NoisyLabelsError(
            "instance noise needs the features: pass features=(N, ...) inputs, one row per label"
        )
    x = np.asarray(features, dtype=np.float64)
    if x.ndim == 0 or len(x) != len(labels):
        raise NoisyLabelsError(
            f"instance noise got features of shape {x.shape} for {len(labels)} labels; "
            "give one feature row per label"
        )
    x = x.reshape(len(labels), -1)
    if not np.all(np.isfinite(x)):
        raise NoisyLabelsError("instance noise features contain NaN or inf; impute or drop those rows")
    if rate == 0:
        return labels.astype(np.int64, copy=True), np.eye(num_classes)

    rng = np.random.default_rng(seed)
    flip_rate = _per_sample_flip_rates(rate, float(std), len(labels), rng)
    # Unit-norm rows make the scores ~ N(0, 1) whatever the feature scale, so the softmax does not
    # saturate into always picking one class for large inputs (or go uniform for tiny ones).
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    x = x / np.maximum(norms, np.finfo(np.float64).tiny)
    scores = np.empty((len(labels), num_classes))
    for c in range(num_classes):
        # One class's W at a time: the full (C, d, C) tensor is large for 100 classes of images.
        w_c = rng.standard_normal((x.shape[1], num_classes))
        members = labels == c
        scores[members] = x[members] @ w_c
    rows = np.arange(len(labels))
    scores[rows, labels] = -np.inf
    scores -= scores.max(axis=1, keepdims=True)
    softmax = np.exp(scores)
    softmax /= softmax.sum(axis=1, keepdims=True)
    probs = flip_rate[:, None] * softmax
    probs[rows, labels] = 1.0 - flip_rate
    noisy = _sample_categorical(probs, rng)

    transition = np.eye(num_classes)
    for c in np.unique(labels):
        transition[c] = probs[labels == c].mean(axis=0)
    return noisy, transition


@NOISE.register("matrix", constraints={"matrix": Type(object, name="a (C, C) table or a .npy/.csv path")})
def matrix_noise(labels, num_classes, rate, *, seed, features=None, matrix=None):
    """Sample each label from its row of a given transition matrix; ``rate`` is ignored.

    matrix: (C, C) nested list / array, or a path to a .npy or .csv file; entries non-negative,
    rows summing to 1 (within 1e-6). T is that matrix with rows rescaled to sum to exactly 1.
    """
    if matrix is None:
        raise NoisyLabelsError("matrix noise needs option matrix=: a (C, C) list, array or .npy/.csv path")
    if isinstance(matrix, (str, Path)):
        matrix = load_array(Path(matrix), None, "transition matrix")
    try:
        transition = np.array(matrix, dtype=np.float64)
    except (TypeError, ValueError):
        raise NoisyLabelsError(
            "transition matrix must be a (C, C) table of numbers; check that every row has C entries"
        ) from None
    if transition.shape != (num_classes, num_classes):
        raise NoisyLabelsError(
            f"transition matrix has shape {transition.shape}; it must be ({num_classes}, {num_classes}), "
            "one row and column per class"
        )
    if not np.all(np.isfinite(transition)) or np.any(transition < 0):
        raise NoisyLabelsError("transition matrix entries must be finite probabilities >= 0")
    sums = transition.sum(axis=1)
    bad_rows = np.flatnonzero(np.abs(sums - 1.0) > 1e-6)
    if len(bad_rows):
        row = int(bad_rows[0])
        raise NoisyLabelsError(
            f"transition matrix row {row} sums to {sums[row]:.6g}; every row must sum to 1 "
            "(row i holds P(noisy = j | true = i))"
        )
    transition /= sums[:, None]
    return _sample_from_rows(labels, transition, np.random.default_rng(seed)), transition


@NOISE.register("file", constraints={"path": [PATH, None], "key": [Type(str), None]})
def file_noise(labels, num_classes, rate, *, seed, features=None, path=None, key=None):
    """Real noisy labels read from a file, e.g. CIFAR-10N / CIFAR-100N; ``rate`` and ``seed`` are ignored.

    path: .npy array, .csv with one label per line, .npz (entry ``key``), or a .pt dict of label sets
    (``key`` such as "worse_label", "aggre_label", "random_label1"; CIFAR-100N: "noisy_label").
    T is the empirical transition from ``labels`` (taken as clean) to the loaded labels.
    """
    if path is None:
        raise NoisyLabelsError("file noise needs option path=: a .npy, .csv, .npz or .pt file of noisy labels")
    loaded = load_array(Path(path), key, "noisy label")
    if loaded.ndim == 2 and 1 in loaded.shape:  # a column or row vector is still one label per sample
        loaded = loaded.reshape(-1)
    noisy = as_label_array(loaded, num_classes, f"noisy labels from '{path}'")
    if len(noisy) != len(labels):
        raise NoisyLabelsError(
            f"'{path}' holds {len(noisy)} labels but the dataset has {len(labels)}; "
            "use the label file made for this dataset and split"
        )
    return noisy, estimate_transition(labels, noisy, num_classes)

"""Per-sample label-quality scores from a training run's statistics (lower = more likely mislabeled).

Histories are (epochs, N) arrays with NaN where a sample was not recorded. They may be numpy
arrays, numpy memmaps or tensors; reductions read them in blocks of columns, so a history on disk
larger than memory is never loaded whole. Samples never recorded get NaN: they rank last and are
never flagged. Every function returns a float64 (or bool) numpy array of length N.
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np
import torch

from ..functional import classwise_minmax, gmm_noise_rates, window_mean
from ..histories import column_blocks
from .validate import check_history, check_labels, check_noise_rates, check_num_classes, check_scores, check_vector


def per_sample(history, reduce: Callable[[torch.Tensor], torch.Tensor], name: str = "history") -> np.ndarray:
    """(N,) ``reduce`` ((E, b) -> (b,)) applied block by block to an (E, N) history."""
    history = check_history(history, name)
    out = np.empty(history.shape[1], dtype=np.float64)
    for start, block in column_blocks(history):
        out[start:start + block.shape[1]] = reduce(block).numpy()
    return out


def epoch_mean(history, epochs: Optional[Sequence[int]] = None, name: str = "history") -> np.ndarray:
    """(N,) mean over the recorded epochs (or over ``epochs`` only), NaN entries ignored."""
    if epochs is None:
        return per_sample(history, lambda block: block.nanmean(0), name)
    return per_sample(history, lambda block: window_mean(block, epochs), name)


def epoch_std(history, name: str = "history") -> np.ndarray:
    """(N,) population standard deviation over the recorded epochs (0 with one record)."""
    def std(block):
        mean = block.nanmean(0)
        return ((block - mean) ** 2).nanmean(0).sqrt()
    return per_sample(history, std, name)


def last_recorded(history, name: str = "history") -> np.ndarray:
    """(N,) each sample's value in the last epoch that recorded it."""
    def last(block):
        epochs = torch.arange(block.shape[0], dtype=torch.long)[:, None].expand_as(block)
        position = torch.where(torch.isnan(block), -1, epochs).max(0).values
        value = block.gather(0, position.clamp_min(0)[None]).squeeze(0)
        return torch.where(position >= 0, value, float("nan"))
    return per_sample(history, last, name)


def _forgetting(block: torch.Tensor):
    """(events, ever correct, recorded epochs) per column of a correctness block."""
    previous = torch.full(block.shape[1:], float("nan"), dtype=block.dtype)
    events = torch.zeros_like(previous)
    for row in block:  # sequential by nature; one vector operation per epoch
        events += (previous > 0.5) & (row <= 0.5)  # NaN compares False on both sides
        previous = torch.where(torch.isnan(row), previous, row)
    return events, (block > 0.5).any(0), (~torch.isnan(block)).sum(0)


def forgetting_events(correct_history) -> np.ndarray:
    """(N,) forgetting events (Toneva et al., ICLR 2019): transitions correct -> incorrect between
    consecutive recorded epochs of a sample (unrecorded epochs are skipped). Entries: 1 correct,
    0 incorrect, NaN unrecorded."""
    def count(block):
        events, _, recorded = _forgetting(block)
        return torch.where(recorded > 0, events, float("nan"))
    return per_sample(correct_history, count, "correct_history")


def forgetting_score(correct_history) -> np.ndarray:
    """(N,) minus the forgetting events. A sample never predicted correctly gets minus its number
    of recorded epochs: a finite stand-in for Toneva et al.'s infinite count, above any real count."""
    def score(block):
        events, learned, recorded = _forgetting(block)
        count = torch.where(learned, events, recorded.double())
        return torch.where(recorded > 0, -count, float("nan")) + 0.0  # + 0.0: no -0 in outputs
    return per_sample(correct_history, score, "correct_history")


def mean_confidence(probability_history) -> np.ndarray:
    """(N,) mean probability of the given label over epochs (dataset cartography's confidence)."""
    return epoch_mean(probability_history, name="probability_history")


def variability(probability_history) -> np.ndarray:
    """(N,) standard deviation of the given label's probability over epochs (cartography)."""
    return epoch_std(probability_history, name="probability_history")


def classwise_quality(mean_loss, labels, num_classes: Optional[int] = None) -> np.ndarray:
    """(N,) 1 - the loss min-max normalised within each observed class (NaN losses stay NaN)."""
    labels = check_labels(labels)
    num_classes = check_num_classes(num_classes, labels)
    mean_loss = check_scores(mean_loss, labels, "mean_loss", allow_nan=True)
    quality = np.full(len(labels), np.nan)
    finite = ~np.isnan(mean_loss)
    if finite.any():
        # float32: classwise_minmax builds its per-class extremes in the default dtype
        losses = torch.from_numpy(mean_loss[finite]).float()
        normalised = classwise_minmax(losses, torch.from_numpy(labels[finite]), num_classes).double()
        quality[finite] = 1 - normalised.numpy()
    return quality


def classwise_loss_score(loss_history, labels, num_classes: Optional[int] = None,
                         epochs: Optional[Sequence[int]] = None) -> np.ndarray:
    """RSL's criterion: the epoch-mean loss (over ``epochs``, default all) min-max normalised within
    each observed class; quality = 1 - normalised, so 1 is the cleanest sample of its class."""
    labels = check_labels(labels)
    check_history(loss_history, "loss_history", len(labels))
    return classwise_quality(epoch_mean(loss_history, epochs, "loss_history"), labels, num_classes)


def small_loss_score(loss_history) -> np.ndarray:
    """Minus each sample's loss in its last recorded epoch (the small-loss / Co-teaching criterion)."""
    return -last_recorded(loss_history, "loss_history")


def aum_score(margin_history) -> np.ndarray:
    """Area under the margin (Pleiss et al., 2020): mean over recorded epochs of z_y - max_{k!=y} z_k."""
    return epoch_mean(margin_history, name="margin_history")


def clean_probability_score(clean_prob) -> np.ndarray:
    """DivideMix's GMM clean probability, as it is (NaN where never set)."""
    return check_vector(clean_prob, "clean_prob", allow_nan=True)


def mentor_weight_score(weights) -> np.ndarray:
    """MentorNet / MentorMix weight v in [0, 1], as it is (NaN where never set)."""
    return check_vector(weights, "mentor_weight", allow_nan=True)


def flag_per_class(scores, labels, num_classes: Optional[int] = None, noise_rates=None) -> np.ndarray:
    """(N,) bool: per observed class i, the round(rate_i * n_i) lowest-quality samples.

    rate_i: ``noise_rates`` (one or C values) when given, else estimated by a 2-component GMM on the
    class's scores (``gmm_noise_rates`` on -scores; classes under 4 samples get 0). n_i counts the
    class's samples with a score; NaN scores are never flagged. Ties: the lower index first.
    """
    labels = check_labels(labels)
    num_classes = check_num_classes(num_classes, labels)
    quality = check_scores(scores, labels, allow_nan=True)
    if noise_rates is None:
        rates = gmm_noise_rates(torch.from_numpy(-quality), torch.from_numpy(labels), num_classes).numpy()
    else:
        rates = check_noise_rates(noise_rates, num_classes)
    mask = np.zeros(len(labels), dtype=bool)
    scored = ~np.isnan(quality)
    for c in range(num_classes):
        members = np.flatnonzero((labels == c) & scored)
        count = int(np.floor(rates[c] * len(members) + 0.5))  # round half up
        mask[members[np.argsort(quality[members], kind="stable")[:count]]] = True
    return mask


def rank_order(quality) -> np.ndarray:
    """(N,) int64 indices by ascending quality (most suspicious first); ties by index, NaN last."""
    return np.argsort(np.asarray(quality, dtype=np.float64), kind="stable").astype(np.int64)

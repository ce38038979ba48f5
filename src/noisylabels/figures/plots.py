"""PNG figures of one run: loss histograms per class, selection curves over epochs, image grids."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Optional

import numpy as np
from matplotlib.ticker import MaxNLocator

from .canvas import class_title, new_figure, save_png, to_numpy

_CLEAN_COLOR = "tab:blue"
_NOISY_COLOR = "tab:red"
_MAX_COLS = 5


def plot_loss_histograms(scores, labels, true_labels, path: str | Path, *,
                         class_names: Optional[Sequence[str]] = None, bins: int = 30,
                         title: Optional[str] = None) -> Path:
    """Histogram of per-sample scores for each observed class, clean vs mislabeled overlaid.

    Args:
        scores: (N,) per-sample score, typically the epoch-mean loss; non-finite entries are dropped.
        labels: (N,) observed (possibly noisy) integer labels; one subplot per class present.
        true_labels: (N,) clean labels, or None to draw one histogram of all samples per class.
        path: where the PNG goes (folders are created).
        class_names: optional names indexed by class id, used in subplot titles.
        bins: number of bins, shared by clean and noisy within a subplot.
        title: optional figure title.

    Returns:
        ``path`` as a Path.
    """
    scores = to_numpy(scores).astype(np.float64).reshape(-1)
    labels = to_numpy(labels).astype(np.int64).reshape(-1)
    if labels.shape != scores.shape:
        raise ValueError(f"scores has {scores.size} entries but labels has {labels.size}")
    noisy = None
    if true_labels is not None:
        true = to_numpy(true_labels).astype(np.int64).reshape(-1)
        if true.shape != scores.shape:
            raise ValueError(f"scores has {scores.size} entries but true_labels has {true.size}")
        noisy = labels != true

    # Samples never scored are NaN (see SampleStats); they carry no information for a histogram.
    keep = np.isfinite(scores)
    scores, labels = scores[keep], labels[keep]
    noisy = noisy[keep] if noisy is not None else None

    classes = np.unique(labels)
    ncols = max(1, min(_MAX_COLS, len(classes)))
    nrows = max(1, math.ceil(len(classes) / ncols))
    fig = new_figure((3.2 * ncols, 2.6 * nrows + (0.4 if title else 0.0)))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()

    for ax, c in zip(axes, classes):
        in_class = labels == c
        _class_histogram(ax, scores[in_class], noisy[in_class] if noisy is not None else None,
                         class_title(int(c), class_names), bins)
    for ax in axes[len(classes):]:
        ax.set_visible(False)  # unused grid cells in the last row
    if len(classes) == 0:
        # Still write a file, so a report never points at a missing image.
        axes[0].set_visible(True)
        axes[0].text(0.5, 0.5, "no finite scores", ha="center", va="center",
                     transform=axes[0].transAxes)
    fig.supxlabel("score", fontsize=9)
    fig.supylabel("count", fontsize=9)
    if title:
        fig.suptitle(title)
    return save_png(fig, path)


def _class_histogram(ax, s: np.ndarray, is_noisy: Optional[np.ndarray], name: str, bins: int) -> None:
    """One class's subplot: all its scores, or clean and mislabeled overlaid when ``is_noisy`` is known."""
    # Shared edges so clean and noisy bars are directly comparable.
    edges = np.histogram_bin_edges(s, bins=bins)
    if is_noisy is None:
        ax.hist(s, bins=edges, color=_CLEAN_COLOR, alpha=0.8)
        ax.set_title(f"{name}\nn={s.size}", fontsize=9)
    else:
        n_noisy = int(is_noisy.sum())
        n_clean = s.size - n_noisy
        ax.hist(s[~is_noisy], bins=edges, color=_CLEAN_COLOR, alpha=0.55, label="clean")
        ax.hist(s[is_noisy], bins=edges, color=_NOISY_COLOR, alpha=0.55, label="mislabeled")
        ax.set_title(f"{name}\n{n_clean} clean / {n_noisy} noisy", fontsize=9)
        ax.legend(fontsize=7)
    ax.tick_params(labelsize=7)


def curve(epochs: Sequence[Mapping], key: str) -> tuple[list, list]:
    """(x, y) for ``key`` over epochs, skipping epochs where it is missing, None or NaN."""
    xs, ys = [], []
    for e in epochs:
        v = e.get(key)
        if v is None or not math.isfinite(float(v)):
            continue
        xs.append(e["epoch"])
        ys.append(float(v))
    return xs, ys


def plot_selection_curves(epochs: Sequence[Mapping], path: str | Path, *,
                          title: Optional[str] = None) -> Path:
    """Selection precision/recall and test accuracy against epoch, on one axes.

    Args:
        epochs: the per-epoch dicts of a run's metrics.json (``metrics["epochs"]``), each with
            "epoch" and optionally "test_acc", "selection_precision", "selection_recall" in [0, 1].
        path: where the PNG goes (folders are created).
        title: optional axes title.

    Returns:
        ``path`` as a Path.
    """
    fig = new_figure((6.4, 4.0))
    ax = fig.subplots()
    drawn = False
    for key, label, style in [
        ("selection_precision", "selection precision", dict(marker="o", color="tab:green")),
        ("selection_recall", "selection recall", dict(marker="s", color="tab:orange")),
        ("test_acc", "test accuracy", dict(linestyle="--", color="tab:blue")),
    ]:
        xs, ys = curve(epochs, key)
        if xs:
            ax.plot(xs, ys, label=label, markersize=4, **style)
            drawn = True
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no "epoch 2.5" ticks
    ax.grid(alpha=0.3)
    if drawn:
        ax.legend(loc="lower right")
    else:
        ax.text(0.5, 0.5, "no metrics recorded", ha="center", va="center", transform=ax.transAxes)
    if title:
        ax.set_title(title)
    return save_png(fig, path)


def plot_image_grid(images, titles: Sequence[str], path: str | Path, *, columns: int = 8,
                    title: Optional[str] = None) -> Path:
    """A contact sheet: images (K, C, H, W) in a grid, each with a short caption (e.g. "given 3 ->
    suggested 5"), for eyeballing suspected label errors."""
    images = to_numpy(images).astype(np.float32)
    count = len(images)
    columns = max(1, min(columns, count))
    rows = max(1, math.ceil(count / columns))
    fig = new_figure((1.6 * columns, 1.8 * rows + (0.4 if title else 0)))
    for k in range(rows * columns):
        ax = fig.add_subplot(rows, columns, k + 1)
        ax.axis("off")
        if k >= count:
            continue
        image = images[k]
        lo, hi = float(image.min()), float(image.max())
        image = (image - lo) / (hi - lo) if hi > lo else np.zeros_like(image)
        if image.shape[0] == 1:
            ax.imshow(image[0], cmap="gray", vmin=0, vmax=1)
        else:
            ax.imshow(np.transpose(image[:3], (1, 2, 0)))
        ax.set_title(titles[k], fontsize=7)
    if title:
        fig.suptitle(title)
    return save_png(fig, path)


__all__ = ["curve", "plot_image_grid", "plot_loss_histograms", "plot_selection_curves"]

"""Figures that compare: metric curves in one panel per setting, transition matrices as heat maps."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Optional

import numpy as np
from matplotlib.ticker import MaxNLocator

from ..noise.summary import is_diagonally_dominant
from .canvas import class_title, new_figure, save_png

# series label -> metric -> (epochs, values)
Series = Mapping[str, Mapping[str, tuple[Sequence[float], Sequence[float]]]]

_LINESTYLES = ("-", "--", ":", "-.")
_ANNOTATE_MAX_CLASSES = 10  # beyond this, numbers in the cells are unreadable


def plot_curve_panels(panels: Mapping[str, Series], path: str | Path, *, ylabel: str,
                      title: Optional[str] = None) -> Path:
    """One axes per panel (e.g. per noise setting), one colour per series (e.g. per method) and one
    line style per metric (e.g. precision solid, recall dashed), y in [0, 1] against epoch.

    Args:
        panels: {panel title: {series label: {metric name: (epochs, values)}}}; a panel may be empty.
        path: where the PNG goes (folders are created).
        ylabel: the y axis label shared by all panels.
        title: optional figure title.
    """
    # The same series keeps its colour in every panel, so methods can be compared across panels.
    labels = list(dict.fromkeys(label for series in panels.values() for label in series))
    colors = {label: f"C{k % 10}" for k, label in enumerate(labels)}
    ncols = max(1, min(3, len(panels)))
    nrows = max(1, math.ceil(len(panels) / ncols))
    fig = new_figure((5.0 * ncols, 3.4 * nrows + (0.4 if title else 0.0)))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, (panel, series) in zip(axes, panels.items()):
        _draw_panel(ax, series, colors)
        ax.set_title(panel, fontsize=10)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    fig.supxlabel("epoch", fontsize=9)
    fig.supylabel(ylabel, fontsize=9)
    if title:
        fig.suptitle(title)
    return save_png(fig, path)


def _draw_panel(ax, series: Series, colors: Mapping[str, str]) -> None:
    drawn = False
    for label, metrics in series.items():
        several = len(metrics) > 1  # only then does the legend need the metric name
        for style, (metric, (xs, ys)) in zip(_LINESTYLES, metrics.items()):
            if len(xs) == 0:
                continue
            ax.plot(xs, ys, linestyle=style, marker="o", markersize=3, color=colors[label],
                    label=f"{label} {metric}" if several else label)
            drawn = True
    ax.set_ylim(0, 1.02)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no "epoch 2.5" ticks
    ax.grid(alpha=0.3)
    ax.tick_params(labelsize=8)
    if drawn:
        ax.legend(fontsize=7, loc="lower right")
    else:
        ax.text(0.5, 0.5, "no values recorded", ha="center", va="center", transform=ax.transAxes)


def dominance_verdict(transition: np.ndarray) -> str:
    """Whether per-class small-loss selection can work on this transition matrix, in words."""
    return "diagonally dominant" if is_diagonally_dominant(transition) else "NOT diagonally dominant"


def plot_transition_matrices(matrices: Mapping[str, np.ndarray], path: str | Path, *,
                             axis_labels: Mapping[str, tuple[str, str]],
                             class_names: Optional[Sequence[str]] = None) -> Path:
    """Row-stochastic (C, C) matrices as heat maps side by side, each titled with its name and
    whether it is diagonally dominant (the premise of per-class small-loss selection).

    Args:
        matrices: {name: (C, C) matrix}, drawn left to right.
        axis_labels: {name: (row axis label, column axis label)}.
        class_names: optional names for the ticks (only used when there are few classes).
    """
    fig = new_figure((4.6 * len(matrices) + 0.8, 4.4))
    axes = fig.subplots(1, len(matrices), squeeze=False).ravel()
    image = None
    for ax, (name, matrix) in zip(axes, matrices.items()):
        matrix = np.asarray(matrix, dtype=np.float64)
        # One colour scale for all panels, so equal shades mean equal probabilities.
        image = ax.imshow(matrix, vmin=0, vmax=1, cmap="viridis")
        ax.set_title(f"{name}\n{dominance_verdict(matrix)}", fontsize=10)
        rows, cols = axis_labels.get(name, ("row", "column"))
        ax.set_ylabel(rows, fontsize=9)
        ax.set_xlabel(cols, fontsize=9)
        _class_ticks(ax, len(matrix), class_names)
        if len(matrix) <= _ANNOTATE_MAX_CLASSES:
            _annotate(ax, matrix)
    fig.colorbar(image, ax=list(axes), shrink=0.8, label="probability")
    return save_png(fig, path)


def _class_ticks(ax, num_classes: int, class_names: Optional[Sequence[str]]) -> None:
    if num_classes > _ANNOTATE_MAX_CLASSES:
        return  # matplotlib's default sparse integer ticks
    names = [class_title(c, class_names) if class_names else str(c) for c in range(num_classes)]
    ax.set_xticks(range(num_classes), names, rotation=90, fontsize=7)
    ax.set_yticks(range(num_classes), names, fontsize=7)


def _annotate(ax, matrix: np.ndarray) -> None:
    for (i, j), value in np.ndenumerate(matrix):
        # Dark text on the bright (yellow) end of viridis, light text elsewhere.
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=6,
                color="black" if value > 0.6 else "white")


__all__ = ["Series", "dominance_verdict", "plot_curve_panels", "plot_transition_matrices"]

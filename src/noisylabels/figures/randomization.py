"""The randomization test's figure (Zhang et al. 2017, Fig. 1): learning curves, the time to fit
every training label, and test accuracy, against the label corruption rate."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Optional

import numpy as np
from matplotlib import colormaps
from matplotlib.ticker import MaxNLocator

from .canvas import new_figure, save_png

ORIGINAL = "original"  # the ``inputs`` of a label-corruption setting
_INPUT_COLORS = {"shuffled_pixels": "tab:orange", "random_pixels": "tab:red", "gaussian": "tab:purple"}
_INPUT_STEP = 0.25  # the input settings sit right of the rate axis, one step apart


def plot_randomization(settings: Sequence[Mapping], path: str | Path, *, num_classes: Optional[int] = None,
                       title: Optional[str] = None) -> Path:
    """Three panels: eval-mode training accuracy per epoch per setting; the first epoch of 100%
    training accuracy (a cross at the last epoch, labelled with the final accuracy, where it was never
    reached); last-epoch test accuracy. The last two against the label corruption rate, with the
    input randomisations (true labels) as their own columns right of it.

    Args:
        settings: dicts as in randomize.json's "settings": setting, corruption_rate, inputs
            ("original" for label corruption, else the randomisation), train_acc (per epoch),
            epochs_to_100 (int or None), final_train_acc, last_test_acc.
        path: where the PNG goes (folders are created).
        num_classes: draws chance level (1 / C) in the test panel when given.
        title: optional figure title.
    """
    fig = new_figure((16.0, 4.6 + (0.3 if title else 0.0)))
    curves, fitted, test = fig.subplots(1, 3)
    positions = _positions(settings)
    for s in settings:
        epochs = np.arange(1, len(s["train_acc"]) + 1)
        curves.plot(epochs, s["train_acc"], label=s["setting"], **_line_style(s))
    curves.set(xlabel="epoch", ylabel="training accuracy (eval mode, fitted labels)", ylim=(0, 1.02))
    curves.xaxis.set_major_locator(MaxNLocator(integer=True))
    curves.legend(fontsize=7, loc="best")
    _draw_fitted(fitted, settings, positions)
    _draw_against_rate(test, settings, positions, [s["last_test_acc"] for s in settings])
    if num_classes:
        test.axhline(1 / num_classes, color="gray", linestyle=":", linewidth=1, label="chance")
        test.legend(fontsize=7, loc="upper right")
    test.set(ylabel="test accuracy (last epoch, true labels)", ylim=(0, 1.02))
    for ax in (curves, fitted, test):
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=8)
    if title:
        fig.suptitle(title)
    return save_png(fig, path)


def _line_style(setting: Mapping) -> dict:
    """Label corruption: solid, viridis from dark (true labels) to yellow (random labels); input
    randomisations: dashed, a colour each."""
    if setting["inputs"] == ORIGINAL:
        return {"color": colormaps["viridis"](0.9 * setting["corruption_rate"]), "linestyle": "-"}
    return {"color": _INPUT_COLORS.get(setting["inputs"], "gray"), "linestyle": "--"}


def _positions(settings: Sequence[Mapping]) -> list[float]:
    """x of each setting in the two rate panels: its rate, or a column right of 1 per input kind."""
    kinds = list(dict.fromkeys(s["inputs"] for s in settings if s["inputs"] != ORIGINAL))
    return [s["corruption_rate"] if s["inputs"] == ORIGINAL else 1 + _INPUT_STEP * (kinds.index(s["inputs"]) + 1)
            for s in settings]


def _draw_against_rate(ax, settings: Sequence[Mapping], positions: Sequence[float], values: Sequence) -> None:
    """The label settings as a line over the rate, the input settings as square markers."""
    labelled = sorted((x, v) for s, x, v in zip(settings, positions, values) if s["inputs"] == ORIGINAL and v is not None)
    if labelled:
        ax.plot(*zip(*labelled), marker="o", color="tab:blue", label="label corruption")
    for s, x, v in zip(settings, positions, values):
        if s["inputs"] != ORIGINAL and v is not None:
            ax.plot([x], [v], marker="s", linestyle="none", color=_line_style(s)["color"])
    ticks = sorted({round(x, 3) for s, x in zip(settings, positions) if s["inputs"] == ORIGINAL})
    names = [f"{x:g}" for x in ticks]
    for s, x in zip(settings, positions):
        if s["inputs"] != ORIGINAL:
            ticks.append(x)
            names.append(s["inputs"].replace("_", "\n"))
    ax.set_xticks(ticks, names)
    if len({s["inputs"] == ORIGINAL for s in settings}) == 2:
        ax.axvline(1 + _INPUT_STEP / 2, color="gray", linewidth=0.8)  # rates left, inputs right
    ax.set_xlabel("label corruption rate | input randomisation (true labels)", fontsize=9)


def _draw_fitted(ax, settings: Sequence[Mapping], positions: Sequence[float]) -> None:
    """Epochs to 100% training accuracy; a cross at the last epoch with the final accuracy where
    the setting never got there."""
    _draw_against_rate(ax, settings, positions, [s["epochs_to_100"] for s in settings])
    budget = max(len(s["train_acc"]) for s in settings)
    for s, x in zip(settings, positions):
        if s["epochs_to_100"] is None:
            ax.plot([x], [len(s["train_acc"])], marker="x", markersize=9, color=_line_style(s)["color"])
            ax.annotate(f"{s['final_train_acc']:.1%}", (x, len(s["train_acc"])), textcoords="offset points",
                        xytext=(0, 7), ha="center", fontsize=7)
    ax.axhline(budget, color="gray", linestyle=":", linewidth=1, label="epochs trained")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_ylim(0, budget * 1.12)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("epochs to 100% training accuracy\n(x: never; final accuracy shown)", fontsize=9)


__all__ = ["plot_randomization"]

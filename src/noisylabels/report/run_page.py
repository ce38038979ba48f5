"""The report of one run folder, and its per-sample view (loss histograms, transition matrices, most
suspicious images) that a bench report also draws for one cell per noise setting."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import rundir
from ..data.prepare import prepare_data
from ..detection.api import rank_label_issues, suggested_labels
from ..detection.scores import epoch_mean
from ..errors import NoisyLabelsError
from ..figures import (class_title, curve, plot_curve_panels, plot_image_grid, plot_loss_histograms,
                       plot_selection_curves, plot_transition_matrices)
from ..noise.summary import estimate_transition
from .page import Page, fmt, html_table, noise_label

SUSPICIOUS_COUNT = 32
# The report's own figures, in its figures folder (not files of the run folder).
ACCURACY_PNG = "accuracy.png"
SELECTION_PNG = "selection.png"
LOSS_HISTOGRAMS_PNG = "loss_histograms.png"
TRANSITION_PNG = "transition.png"
SUSPICIOUS_PNG = "suspicious.png"


def reports_selection(histories: list[list[dict]]) -> bool:
    """Whether any run's epochs record selection precision (only selecting methods do)."""
    return any(e.get("selection_precision") is not None for epochs in histories for e in epochs)


# ---------------------------------------------------------------------- the per-sample view
def reload_training_split(folder: Path, labels: np.ndarray):
    """The run's training split rebuilt from its saved config, or (None, why not)."""
    try:
        data = prepare_data(rundir.read_config(folder))
    except (OSError, ValueError, RuntimeError) as error:  # NoisyLabelsError is a ValueError
        return None, f"its training data could not be reloaded from {rundir.CONFIG} ({error})"
    train = data.train
    if len(train) != len(labels) or not np.array_equal(train.labels.numpy(), labels):
        return None, f"the training data reloaded from {rundir.CONFIG} differ from the run's {rundir.SAMPLES}"
    return train, None


def _class_name(c: int, class_names) -> str:
    # A bare number when the data set has no names: "given 3" reads better than "given class 3".
    return class_title(c, class_names) if class_names else str(c)


def suspicious_caption(given: int, suggested: int, class_names) -> str:
    caption = f"given {_class_name(given, class_names)} -> suggested {_class_name(suggested, class_names)}"
    return caption.replace(" -> ", "\n-> ") if len(caption) > 24 else caption  # fit the grid cell


def add_loss_histograms(page: Page, stats: dict, labels, truth, path: Path, class_names) -> None:
    if truth is None:
        page.note("Loss histograms: the run's true labels are unknown, so clean and mislabeled samples "
                  "cannot be told apart.")
        return
    # epoch-mean loss, NaN where never recorded; in blocks of samples, as the stats of a memmapped
    # run hold a float16 history that may be large
    mean_loss = epoch_mean(stats["loss"], name="loss")
    plot_loss_histograms(mean_loss, labels, truth, path, class_names=class_names,
                         title="epoch-mean training loss, clean vs. mislabeled")
    page.figure(path, "Per observed class: epoch-mean training loss of clean and of mislabeled samples.")


def add_transitions(page: Page, stats: dict, noise: dict, labels, num_classes: int, path: Path,
                    class_names) -> None:
    prediction = stats["prediction"].numpy().astype(np.int64)
    prediction = np.where(prediction >= 0, prediction, labels)  # never predicted: assume the label
    matrices, axes = {}, {}
    true_T = noise.get("estimated_T")
    if true_T:
        matrices["true T (empirical)"] = np.asarray(true_T, dtype=np.float64)
        axes["true T (empirical)"] = ("true label", "observed label")
        num_classes = max(num_classes, len(true_T))
    num_classes = max(2, num_classes, int(prediction.max()) + 1, int(labels.max()) + 1)
    # Without the truth: the final model's prediction stands in for the true label.
    estimated = estimate_transition(prediction, labels, num_classes)
    matrices["estimated T (model predictions)"] = estimated
    axes["estimated T (model predictions)"] = ("predicted label", "observed label")
    plot_transition_matrices(matrices, path, axis_labels=axes, class_names=class_names)
    caption = ("Transition matrices P(observed | true): the empirical one from the known truth, and one "
               "estimated without it from the final model's predictions." if true_T else
               "Transition matrix P(observed | predicted), estimated from the final model's predictions "
               "(the true labels are unknown).")
    page.figure(path, caption)


def add_suspicious(page: Page, folder: Path, labels, train, path: Path, class_names) -> None:
    x = train.x
    if x.ndim not in (3, 4):
        page.note("Most suspicious samples: not drawn, the training data are not images.")
        return
    images = x[:, None] if x.ndim == 3 else x  # (N, H, W) -> (N, 1, H, W)
    order = rank_label_issues(labels, run=folder)[:SUSPICIOUS_COUNT]
    suggested = suggested_labels(labels, run=folder)
    titles = [suspicious_caption(int(labels[i]), int(suggested[i]), class_names) for i in order]
    plot_image_grid(images[order], titles, path, title="most suspicious training samples, given -> suggested label")
    page.figure(path, f"The {len(order)} training samples ranked most likely mislabeled (rank_label_issues).")


def add_run_details(page: Page, folder: Path, figures: Path, prefix: str) -> None:
    """Figures 3-5 for one run: loss histograms, transition matrices, most suspicious images."""
    try:
        labels, truth = rundir.read_labels(folder)
        stats = rundir.read_stats(folder)
    except NoisyLabelsError as error:
        page.note(f"Per-sample figures: not drawn ({error}).")
        return
    noise = rundir.read_json_strict(folder / rundir.NOISE, default={})
    train, why_not = reload_training_split(folder, labels)
    class_names = train.class_names if train is not None else None
    num_classes = train.num_classes if train is not None else int(labels.max()) + 1
    add_loss_histograms(page, stats, labels, truth, figures / f"{prefix}{LOSS_HISTOGRAMS_PNG}", class_names)
    add_transitions(page, stats, noise, labels, num_classes, figures / f"{prefix}{TRANSITION_PNG}", class_names)
    if train is None:
        page.note(f"Most suspicious samples: not drawn, {why_not}.")
    else:
        add_suspicious(page, folder, labels, train, figures / f"{prefix}{SUSPICIOUS_PNG}", class_names)


# ---------------------------------------------------------------------- a run folder
def _at_epoch(metrics: dict, acc: str, epoch: str) -> str:
    return fmt(metrics.get(acc)) + (f" (epoch {metrics[epoch]})" if metrics.get(epoch) else "")


def run_summary_table(metrics: dict, noise: dict) -> str:
    # Selected (by validation accuracy; "-" without a validation split) and last lead; the oracle is labelled.
    row = [metrics.get("method", "?"), metrics.get("dataset", "?"),
           noise_label(metrics.get("noise"), metrics.get("noise_rate")),
           fmt(noise.get("actual_rate", metrics.get("actual_noise_rate"))), metrics.get("status", "?"),
           _at_epoch(metrics, "selected_test_acc", "selected_epoch"), fmt(metrics.get("last_test_acc")),
           _at_epoch(metrics, "best_test_acc", "best_epoch"), len(metrics.get("epochs", [])),
           fmt(metrics.get("total_time"), 1)]
    header = ["method", "dataset", "noise", "actual noise rate", "status", "selected test acc", "last test acc",
              "oracle best (test)", "epochs", "time (s)"]
    return html_table(header, [[str(c) for c in row]])


def build_run_page(folder: Path, figures: Path) -> Page:
    metrics = rundir.read_json_strict(folder / rundir.METRICS)
    noise = rundir.read_json_strict(folder / rundir.NOISE, default={})
    method = str(metrics.get("method", "?"))
    setting = noise_label(metrics.get("noise"), metrics.get("noise_rate"))
    epochs = metrics.get("epochs", [])
    page = Page(f"noisylabels report: {folder.resolve().name}", figures)
    page.heading("Summary")
    page.raw(run_summary_table(metrics, noise))

    page.heading("Test accuracy")
    series = {"test accuracy": curve(epochs, "test_acc")}
    if metrics.get("selected_epoch"):  # the curve the epoch was selected on
        series["validation accuracy"] = curve(epochs, "val_acc")
    panels = {setting: {method: series}}
    path = plot_curve_panels(panels, figures / ACCURACY_PNG, ylabel="accuracy")
    page.figure(path, "Test accuracy after each epoch" + (
        "; dashed: accuracy on the validation split's labels, which selects the epoch." if len(series) > 1 else "."))

    if reports_selection([epochs]):
        page.heading("Sample selection")
        path = plot_selection_curves(epochs, figures / SELECTION_PNG, title=method)
        page.figure(path, "Precision (kept samples that are clean) and recall (clean samples kept) of the "
                          "method's selection after each epoch.")

    page.heading("Per-sample view")
    add_run_details(page, folder, figures, prefix="")
    return page

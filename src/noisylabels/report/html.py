"""``noisylabels report``: one self-contained HTML page for a run folder or a bench folder.

Every figure is written as a PNG file (``<page stem>/*.png`` next to the page) and also inlined in
the page as a base64 ``data:`` URI, so the page can be mailed or archived on its own.

Folders:
  run folder    ``metrics.json`` (and config.yaml, noise.json, stats.pt, samples.csv), written by
                ``noisylabels train``
  bench folder  ``results.csv`` (one row per cell), ``results.md`` and ``cells/<cell>/`` run folders,
                written by ``noisylabels bench``
"""
from __future__ import annotations

import base64
import csv
import html
import json
import math
import re
from collections import defaultdict
from pathlib import Path
from typing import Optional

import numpy as np

from ..config import load_config
from ..data.prepare import prepare_data
from ..detection.api import load_run, rank_label_issues, suggested_labels
from ..detection.detect import read_run_labels
from ..detection.scores import epoch_mean
from ..errors import NoisyLabelsError
from ..io import atomic_write_text
from ..noise.summary import estimate_transition
from .figures import plot_curve_panels, plot_transition_matrices
from .plots import _class_title, _curve, plot_image_grid, plot_loss_histograms, plot_selection_curves

SUSPICIOUS_COUNT = 32
BENCH_COLUMNS = ("noise", "noise_rate", "method", "seed", "status", "best_acc", "run_dir")
FOLDER_HELP = ("pass a run folder (with metrics.json, written by `noisylabels train`) or a bench folder "
               "(with results.csv and cells/, written by `noisylabels bench`)")

_STYLE = """
body { font-family: sans-serif; max-width: 1200px; margin: 1em auto; padding: 0 1em; color: #222; }
img { max-width: 100%; height: auto; }
figure { margin: 1em 0; }
figcaption, .note { color: #555; font-size: 0.9em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
th { background: #f0f0f0; }
"""

# Lets a browser (and the tests, through headless Chromium) check that every figure decoded:
# after load, data-figures-loaded must equal data-figures-total.
_CHECK_SCRIPT = """
<script>
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var loaded = images.filter(function (img) { return img.complete && img.naturalWidth > 0; });
  document.body.dataset.figuresLoaded = loaded.length;
  document.body.dataset.figuresTotal = images.length;
});
</script>
"""


# ---------------------------------------------------------------------- the page
class Page:
    """The page's HTML fragments in order; figures are read back from their PNG files and inlined."""

    def __init__(self, title: str, figures: Path):
        self.title = title
        self.figures = figures  # folder of the PNG files
        self.parts: list[str] = []

    def heading(self, text: str, level: int = 2) -> None:
        self.parts.append(f"<h{level}>{html.escape(text)}</h{level}>")

    def note(self, text: str) -> None:
        self.parts.append(f'<p class="note">{html.escape(text)}</p>')

    def raw(self, fragment: str) -> None:
        self.parts.append(fragment)

    def figure(self, path: Path, caption: str) -> None:
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        link = f"{self.figures.name}/{path.name}"
        self.parts.append(
            f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(caption)}">'
            f'<figcaption>{html.escape(caption)} (<a href="{html.escape(link)}">{html.escape(path.name)}</a>)'
            "</figcaption></figure>")

    def render(self) -> str:
        body = "\n".join(self.parts)
        return (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                f"<title>{html.escape(self.title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
                f"<h1>{html.escape(self.title)}</h1>\n{body}\n{_CHECK_SCRIPT}</body>\n</html>\n")


def html_table(header: list[str], rows: list[list[str]]) -> str:
    """Cells are plain text (escaped here)."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# ---------------------------------------------------------------------- markdown (results.md)
_TABLE_SEPARATOR = re.compile(r"^\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?$")


def _inline(text: str) -> str:
    """Escaped text with `code` and **bold**, the only inline markup the bench tables use."""
    text = html.escape(text)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)


def _table_cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _markdown_table(lines: list[str]) -> str:
    has_header = len(lines) > 1 and _TABLE_SEPARATOR.match(lines[1].strip()) is not None
    rows = [_table_cells(line) for line in lines if not _TABLE_SEPARATOR.match(line.strip())]
    out = ["<table>"]
    for k, cells in enumerate(rows):
        tag = "th" if has_header and k == 0 else "td"
        out.append("<tr>" + "".join(f"<{tag}>{_inline(c)}</{tag}>" for c in cells) + "</tr>")
    out.append("</table>")
    return "".join(out)


def markdown_to_html(text: str) -> str:
    """Enough markdown for a results.md: headings, pipe tables, fenced code and paragraphs."""
    out: list[str] = []
    lines = text.splitlines()
    k = 0
    while k < len(lines):
        line = lines[k].strip()
        if line.startswith("```"):
            end = next((j for j in range(k + 1, len(lines)) if lines[j].strip().startswith("```")), len(lines))
            out.append("<pre>" + html.escape("\n".join(lines[k + 1:end])) + "</pre>")
            k = end + 1
        elif line.startswith("|"):
            end = next((j for j in range(k, len(lines)) if not lines[j].strip().startswith("|")), len(lines))
            out.append(_markdown_table(lines[k:end]))
            k = end
        elif line.startswith("#"):
            level = min(6, len(line) - len(line.lstrip("#")) + 2)  # the page's own h1/h2 stay on top
            out.append(f"<h{level}>{_inline(line.lstrip('#').strip())}</h{level}>")
            k += 1
        elif line:
            end = next((j for j in range(k, len(lines)) if not lines[j].strip()
                        or lines[j].strip()[0] in "|#`"), len(lines))
            out.append("<p>" + _inline(" ".join(s.strip() for s in lines[k:end])) + "</p>")
            k = end
        else:
            k += 1
    return "\n".join(out)


# ---------------------------------------------------------------------- reading folders
def folder_kind(folder: Path) -> str:
    """'bench' or 'run'; anything else is an error saying what the folder should hold."""
    if not folder.is_dir():
        raise NoisyLabelsError(f"{folder} is not a folder; {FOLDER_HELP}")
    if (folder / "results.csv").is_file() and (folder / "cells").is_dir():
        return "bench"
    if (folder / "metrics.json").is_file():
        return "run"
    raise NoisyLabelsError(f"{folder} has neither metrics.json nor results.csv and cells/; {FOLDER_HELP}")


def read_json(path: Path, default: Optional[dict] = None) -> dict:
    if not path.is_file() and default is not None:
        return default
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise NoisyLabelsError(f"could not read {path} ({error}); re-run the training that writes it") from None
    if not isinstance(value, dict):
        raise NoisyLabelsError(f"{path} does not hold a JSON object; re-run the training that writes it")
    return value


def read_bench_rows(folder: Path) -> list[dict]:
    path = folder / "results.csv"
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    missing = [c for c in BENCH_COLUMNS if rows and c not in rows[0]]
    if not rows or missing:
        raise NoisyLabelsError(f"{path} has no rows or lacks the columns {', '.join(missing or BENCH_COLUMNS)}; "
                               "it must be the results.csv of `noisylabels bench`")
    return rows


def _float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _seed_key(row: dict):
    seed = _float(row["seed"])
    return (math.isnan(seed), seed, row["seed"])


def noise_label(noise, rate) -> str:
    if noise in (None, "", "none"):
        return "clean"
    rate = _float(rate)
    return f"{noise} {rate:g}" if not math.isnan(rate) else str(noise)


def _fmt(value, digits: int = 4) -> str:
    value = _float(value)
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def _mean(values) -> float:
    values = [v for v in map(_float, values) if not math.isnan(v)]
    return sum(values) / len(values) if values else math.nan


def mean_curve(histories: list[list[dict]], key: str) -> tuple[list, list]:
    """``key`` against epoch averaged over runs (seeds), over the runs that recorded each epoch."""
    by_epoch: dict = defaultdict(list)
    for epochs in histories:
        for x, y in zip(*_curve(epochs, key)):
            by_epoch[x].append(y)
    xs = sorted(by_epoch)
    return xs, [sum(by_epoch[x]) / len(by_epoch[x]) for x in xs]


def _reports_selection(histories: list[list[dict]]) -> bool:
    return any(e.get("selection_precision") is not None for epochs in histories for e in epochs)


# ---------------------------------------------------------------------- figures 3-5 for one run
def reload_training_split(folder: Path, labels: np.ndarray):
    """The run's training split rebuilt from its config.yaml, or (None, why not)."""
    try:
        data = prepare_data(load_config(folder / "config.yaml"))
    except (OSError, ValueError, RuntimeError) as error:  # NoisyLabelsError is a ValueError
        return None, f"its training data could not be reloaded from config.yaml ({error})"
    train = data.train
    if len(train) != len(labels) or not np.array_equal(train.labels.numpy(), labels):
        return None, "the training data reloaded from config.yaml differ from the run's samples.csv"
    return train, None


def _class_name(c: int, class_names) -> str:
    # A bare number when the data set has no names: "given 3" reads better than "given class 3".
    return _class_title(c, class_names) if class_names else str(c)


def suspicious_caption(given: int, suggested: int, class_names) -> str:
    caption = f"given {_class_name(given, class_names)} -> suggested {_class_name(suggested, class_names)}"
    return caption.replace(" -> ", "\n-> ") if len(caption) > 24 else caption  # fit the grid cell


def add_loss_histograms(page: Page, run, labels, truth, path: Path, class_names) -> None:
    if truth is None:
        page.note("Loss histograms: the run's true labels are unknown, so clean and mislabeled samples "
                  "cannot be told apart.")
        return
    # epoch-mean loss, NaN where never recorded; in blocks of samples, as stats.pt of a memmapped
    # run holds a float16 history that may be large
    mean_loss = epoch_mean(run.stats["loss"], name="loss")
    plot_loss_histograms(mean_loss, labels, truth, path, class_names=class_names,
                         title="epoch-mean training loss, clean vs. mislabeled")
    page.figure(path, "Per observed class: epoch-mean training loss of clean and of mislabeled samples.")


def add_transitions(page: Page, run, noise: dict, labels, num_classes: int, path: Path, class_names) -> None:
    prediction = run.stats["prediction"].numpy().astype(np.int64)
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
        labels, truth = read_run_labels(folder)
        run = load_run(folder)
    except NoisyLabelsError as error:
        page.note(f"Per-sample figures: not drawn ({error}).")
        return
    noise = read_json(folder / "noise.json", default={})
    train, why_not = reload_training_split(folder, labels)
    class_names = train.class_names if train is not None else None
    num_classes = train.num_classes if train is not None else int(labels.max()) + 1
    add_loss_histograms(page, run, labels, truth, figures / f"{prefix}loss_histograms.png", class_names)
    add_transitions(page, run, noise, labels, num_classes, figures / f"{prefix}transition.png", class_names)
    if train is None:
        page.note(f"Most suspicious samples: not drawn, {why_not}.")
    else:
        add_suspicious(page, folder, labels, train, figures / f"{prefix}suspicious.png", class_names)


# ---------------------------------------------------------------------- a run folder
def run_summary_table(metrics: dict, noise: dict) -> str:
    best_epoch = metrics.get("best_epoch")
    row = [metrics.get("method", "?"), metrics.get("dataset", "?"),
           noise_label(metrics.get("noise"), metrics.get("noise_rate")),
           _fmt(noise.get("actual_rate", metrics.get("actual_noise_rate"))), metrics.get("status", "?"),
           _fmt(metrics.get("best_test_acc")) + (f" (epoch {best_epoch})" if best_epoch else ""),
           _fmt(metrics.get("last_test_acc")), len(metrics.get("epochs", [])),
           _fmt(metrics.get("total_time"), 1)]
    header = ["method", "dataset", "noise", "actual noise rate", "status", "best test acc", "last test acc",
              "epochs", "time (s)"]
    return html_table(header, [[str(c) for c in row]])


def build_run_page(folder: Path, figures: Path) -> Page:
    metrics = read_json(folder / "metrics.json")
    noise = read_json(folder / "noise.json", default={})
    method = str(metrics.get("method", "?"))
    setting = noise_label(metrics.get("noise"), metrics.get("noise_rate"))
    epochs = metrics.get("epochs", [])
    page = Page(f"noisylabels report: {folder.resolve().name}", figures)
    page.heading("Summary")
    page.raw(run_summary_table(metrics, noise))

    page.heading("Test accuracy")
    panels = {setting: {method: {"test accuracy": _curve(epochs, "test_acc")}}}
    path = plot_curve_panels(panels, figures / "accuracy.png", ylabel="test accuracy")
    page.figure(path, "Test accuracy after each epoch.")

    if _reports_selection([epochs]):
        page.heading("Sample selection")
        path = plot_selection_curves(epochs, figures / "selection.png", title=method)
        page.figure(path, "Precision (kept samples that are clean) and recall (clean samples kept) of the "
                          "method's selection after each epoch.")

    page.heading("Per-sample view")
    add_run_details(page, folder, figures, prefix="")
    return page


# ---------------------------------------------------------------------- a bench folder
def group_cells(folder: Path, rows: list[dict]) -> dict:
    """{setting: {method: [(row, metrics), ...] by seed}} over the complete cells."""
    several_datasets = len({r.get("dataset") for r in rows}) > 1
    groups: dict = defaultdict(lambda: defaultdict(list))
    for row in sorted(rows, key=_seed_key):
        if row["status"] != "complete":
            continue
        setting = noise_label(row["noise"], row["noise_rate"])
        if several_datasets:
            setting = f"{row.get('dataset')}, {setting}"
        metrics = read_json(folder / row["run_dir"] / "metrics.json", default={})
        groups[setting][row["method"]].append((row, metrics))
    return groups


def representative(methods: dict) -> tuple[str, dict]:
    """The method with the best mean best_acc over seeds, and its first seed's row."""
    def score(item):
        mean = _mean(row["best_acc"] for row, _ in item[1])
        return -math.inf if math.isnan(mean) else mean
    method, cells = max(methods.items(), key=score)
    return method, cells[0][0]


def bench_summary_table(groups: dict) -> str:
    rows = []
    for setting, methods in groups.items():
        for method, cells in methods.items():
            rows.append([setting, method, str(len(cells)), _fmt(_mean(r["best_acc"] for r, _ in cells)),
                         _fmt(_mean(r.get("last_acc") for r, _ in cells))])
    return html_table(["noise", "method", "complete seeds", "mean best test acc", "mean last test acc"], rows)


def _histories(cells) -> list[list[dict]]:
    return [metrics.get("epochs", []) for _, metrics in cells]


def add_bench_curves(page: Page, groups: dict, figures: Path) -> None:
    page.heading("Test accuracy")
    panels = {setting: {method: {"test accuracy": mean_curve(_histories(cells), "test_acc")}
                        for method, cells in methods.items()} for setting, methods in groups.items()}
    path = plot_curve_panels(panels, figures / "accuracy.png", ylabel="test accuracy (mean over seeds)")
    page.figure(path, "Test accuracy after each epoch, one panel per noise setting, mean over seeds.")

    panels = {setting: {method: {"precision": mean_curve(_histories(cells), "selection_precision"),
                                 "recall": mean_curve(_histories(cells), "selection_recall")}
                        for method, cells in methods.items() if _reports_selection(_histories(cells))}
              for setting, methods in groups.items()}
    panels = {setting: series for setting, series in panels.items() if series}
    if panels:
        page.heading("Sample selection")
        path = plot_curve_panels(panels, figures / "selection.png", ylabel="selection precision / recall")
        page.figure(path, "Selection precision (solid: kept samples that are clean) and recall (dashed: clean "
                          "samples kept) after each epoch, mean over seeds, for the methods that select.")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-") or "cell"


def load_bench(folder: Path) -> tuple[list[dict], dict]:
    """results.csv rows and the complete cells grouped (see ``group_cells``); at least one cell."""
    rows = read_bench_rows(folder)
    groups = group_cells(folder, rows)
    if not groups:
        raise NoisyLabelsError(f"{folder / 'results.csv'} has no complete cell; let `noisylabels bench` finish "
                               "some cells first")
    return rows, groups


def build_bench_page(folder: Path, rows: list[dict], groups: dict, figures: Path) -> Page:
    page = Page(f"noisylabels bench report: {folder.resolve().name}", figures)
    page.heading("Summary")
    page.raw(bench_summary_table(groups))
    skipped = sum(r["status"] != "complete" for r in rows)
    if skipped:
        page.note(f"{skipped} of {len(rows)} cells are not complete and are left out of this report.")
    results_md = folder / "results.md"
    if results_md.is_file():
        page.heading("results.md")
        page.raw(markdown_to_html(results_md.read_text()))

    add_bench_curves(page, groups, figures)
    for k, (setting, methods) in enumerate(groups.items()):
        method, row = representative(methods)
        page.heading(f"{setting}: {method}, seed {row['seed']} ({row.get('cell') or row['run_dir']})")
        page.note("The per-sample figures are drawn for one cell per noise setting: the method with the best "
                  "mean best test accuracy, its first seed.")
        add_run_details(page, folder / row["run_dir"], figures, prefix=f"{k + 1:02d}-{_slug(setting)}-")
    return page


# ---------------------------------------------------------------------- entry point
def write_report(folder, out=None) -> Path:
    """Write the report of a run or bench folder; returns the page's path.

    The page goes to ``out`` (default ``<folder>/report.html``), its figures as PNG files into the
    folder named like the page without its suffix (default ``<folder>/report/``).
    """
    folder = Path(folder)
    bench = load_bench(folder) if folder_kind(folder) == "bench" else None  # errors before any file is touched
    out = Path(out) if out is not None else folder / "report.html"
    figures = out.parent / out.stem
    figures.mkdir(parents=True, exist_ok=True)
    for stale in figures.glob("*.png"):  # figures of an earlier report must not pass for this one's
        stale.unlink()
    page = build_bench_page(folder, *bench, figures) if bench else build_run_page(folder, figures)
    atomic_write_text(out, page.render())
    return out

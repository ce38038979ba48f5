"""The report of a bench folder: a summary over the complete cells, the bench's own Markdown results,
mean curves per noise setting, and the per-sample view of one cell per setting."""
from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

from .. import rundir
from ..errors import NoisyLabelsError
from ..figures import curve, plot_curve_panels
from .page import Page, fmt, html_table, markdown_to_html, mean, noise_label, to_float
from .run_page import ACCURACY_PNG, SELECTION_PNG, add_run_details, reports_selection

BENCH_COLUMNS = ("noise", "noise_rate", "method", "seed", "status", "best_acc", "run_dir")


def read_bench_rows(folder: Path) -> list[dict]:
    """The bench's rows, with at least the columns the report groups and ranks cells by."""
    rows = rundir.read_bench_rows(folder)
    missing = [c for c in BENCH_COLUMNS if rows and c not in rows[0]]
    if not rows or missing:
        raise NoisyLabelsError(f"{folder / rundir.RESULTS_CSV} has no rows or lacks the columns "
                               f"{', '.join(missing or BENCH_COLUMNS)}; it must be the {rundir.RESULTS_CSV} "
                               "of `noisylabels bench`")
    return rows


def _seed_key(row: dict):
    seed = to_float(row["seed"])
    return (math.isnan(seed), seed, row["seed"])


def mean_curve(histories: list[list[dict]], key: str) -> tuple[list, list]:
    """``key`` against epoch averaged over runs (seeds), over the runs that recorded each epoch."""
    by_epoch: dict = defaultdict(list)
    for epochs in histories:
        for x, y in zip(*curve(epochs, key)):
            by_epoch[x].append(y)
    xs = sorted(by_epoch)
    return xs, [sum(by_epoch[x]) / len(by_epoch[x]) for x in xs]


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
        metrics = rundir.read_json_strict(folder / row["run_dir"] / rundir.METRICS, default={})
        groups[setting][row["method"]].append((row, metrics))
    return groups


def _headline(row: dict):
    """The accuracy a cell is ranked by: validation-selected, else (older results) the last epoch."""
    selected = to_float(row.get("selected_acc"))
    return row.get("last_acc") if math.isnan(selected) else selected


def representative(methods: dict) -> tuple[str, dict]:
    """The method with the best mean selected accuracy over seeds (last-epoch accuracy where a
    cell has none), and its first seed's row; never the test-set oracle."""
    def score(item):
        value = mean(_headline(row) for row, _ in item[1])
        return -math.inf if math.isnan(value) else value
    method, cells = max(methods.items(), key=score)
    return method, cells[0][0]


def bench_summary_table(groups: dict) -> str:
    rows = []
    for setting, methods in groups.items():
        for method, cells in methods.items():
            rows.append([setting, method, str(len(cells)), fmt(mean(r.get("selected_acc") for r, _ in cells)),
                         fmt(mean(r.get("last_acc") for r, _ in cells)), fmt(mean(r["best_acc"] for r, _ in cells))])
    return html_table(["noise", "method", "complete seeds", "mean selected test acc", "mean last test acc",
                       "mean oracle best (test)"], rows)


def _histories(cells) -> list[list[dict]]:
    return [metrics.get("epochs", []) for _, metrics in cells]


def add_bench_curves(page: Page, groups: dict, figures: Path) -> None:
    page.heading("Test accuracy")
    panels = {setting: {method: {"test accuracy": mean_curve(_histories(cells), "test_acc")}
                        for method, cells in methods.items()} for setting, methods in groups.items()}
    path = plot_curve_panels(panels, figures / ACCURACY_PNG, ylabel="test accuracy (mean over seeds)")
    page.figure(path, "Test accuracy after each epoch, one panel per noise setting, mean over seeds.")

    panels = {setting: {method: {"precision": mean_curve(_histories(cells), "selection_precision"),
                                 "recall": mean_curve(_histories(cells), "selection_recall")}
                        for method, cells in methods.items() if reports_selection(_histories(cells))}
              for setting, methods in groups.items()}
    panels = {setting: series for setting, series in panels.items() if series}
    if panels:
        page.heading("Sample selection")
        path = plot_curve_panels(panels, figures / SELECTION_PNG, ylabel="selection precision / recall")
        page.figure(path, "Selection precision (solid: kept samples that are clean) and recall (dashed: clean "
                          "samples kept) after each epoch, mean over seeds, for the methods that select.")


def load_bench(folder: Path) -> tuple[list[dict], dict]:
    """The bench's rows and the complete cells grouped (see ``group_cells``); at least one cell."""
    rows = read_bench_rows(folder)
    groups = group_cells(folder, rows)
    if not groups:
        raise NoisyLabelsError(f"{folder / rundir.RESULTS_CSV} has no complete cell; let `noisylabels bench` "
                               "finish some cells first")
    return rows, groups


def build_bench_page(folder: Path, rows: list[dict], groups: dict, figures: Path) -> Page:
    page = Page(f"noisylabels bench report: {folder.resolve().name}", figures)
    page.heading("Summary")
    page.raw(bench_summary_table(groups))
    skipped = sum(r["status"] != "complete" for r in rows)
    if skipped:
        page.note(f"{skipped} of {len(rows)} cells are not complete and are left out of this report.")
    results_md = folder / rundir.RESULTS_MD
    if results_md.is_file():
        page.heading(rundir.RESULTS_MD)
        page.raw(markdown_to_html(results_md.read_text()))

    add_bench_curves(page, groups, figures)
    for k, (setting, methods) in enumerate(groups.items()):
        method, row = representative(methods)
        page.heading(f"{setting}: {method}, seed {row['seed']} ({row.get('cell') or row['run_dir']})")
        page.note("The per-sample figures are drawn for one cell per noise setting: the method with the best "
                  "mean selected test accuracy (last-epoch where none was selected), its first seed.")
        add_run_details(page, folder / row["run_dir"], figures, prefix=f"{k + 1:02d}-{rundir.slug(setting)}-")
    return page

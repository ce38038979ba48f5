"""A bench's results: one row per cell, results.csv and results.md, and the per-cell progress line."""
from __future__ import annotations

import csv
import os
import platform
import statistics
from pathlib import Path
from typing import Any, Optional

from .. import rundir
from ..io import atomic_path, atomic_write_text
from .grid import Cell

# selected_acc: test accuracy at the epoch of the best (noisy) validation accuracy; best_acc is the
# oracle (the epoch picked with the test labels). Columns are only ever added, so old files still load.
CSV_COLUMNS = ["cell", "dataset", "noise", "noise_rate", "method", "seed", "status", "selected_acc", "best_acc",
               "last_acc", "precision", "recall", "f1", "epochs", "wall_time", "epoch_time", "epoch_ratio", "run_dir",
               "error"]


# ---------------------------------------------------------------------- rows
def _median_epoch_time(epochs: list) -> Optional[float]:
    times = [e["train_time"] for e in epochs if isinstance(e.get("train_time"), (int, float))]
    return statistics.median(times) if times else None


def _selection(epochs: list) -> tuple:
    """(precision, recall, f1) of the last epoch's sample selection, or Nones."""
    last = epochs[-1] if epochs else {}
    p, r = last.get("selection_precision"), last.get("selection_recall")
    if p is None or r is None:
        return None, None, None
    return p, r, (2 * p * r / (p + r) if p + r > 0 else 0.0)


def cell_row(cell: Cell, out: Path) -> dict:
    """The results row of one cell, from what its folder holds now."""
    folder = rundir.cell_dir(out, cell.name)
    metrics = rundir.read_metrics(folder) or {}
    status = metrics.get("status", "pending")
    if metrics and status != "failed" and not rundir.config_matches(folder, cell.config):
        status = "stale"  # trained with another config; the grid will train it again
    epochs = metrics.get("epochs") or []
    precision, recall, f1 = _selection(epochs)
    return {"cell": cell.name, "dataset": cell.dataset, "noise": cell.noise, "noise_rate": cell.rate,
            "method": cell.method, "seed": cell.seed, "status": status,
            "selected_acc": metrics.get("selected_test_acc"), "best_acc": metrics.get("best_test_acc"),
            "last_acc": metrics.get("last_test_acc"),
            "precision": precision, "recall": recall, "f1": f1, "epochs": len(epochs),
            "wall_time": metrics.get("total_time"), "epoch_time": _median_epoch_time(epochs), "epoch_ratio": None,
            # relative, so a bench folder can be moved
            "run_dir": str(Path(rundir.CELLS) / cell.name),
            "error": metrics.get("error") if status == "failed" else None}


def collect_rows(cells: list[Cell], out: Path) -> list[dict]:
    """One row per cell, with each epoch time as a ratio to its group's ce cell."""
    rows = [cell_row(cell, out) for cell in cells]
    reference = {cell.group: row["epoch_time"] for cell, row in zip(cells, rows) if cell.reference}
    for cell, row in zip(cells, rows):
        ref = reference.get(cell.group)
        if ref and row["epoch_time"] is not None:
            row["epoch_ratio"] = row["epoch_time"] / ref
    return rows


def progress_line(index: int, total: int, row: dict, action: str) -> str:
    head = f"[{index}/{total}] {row['cell']}: "
    if row["status"] != "complete":
        return head + f"{row['status']} ({row['error'] or action})"
    wall = row["wall_time"] or 0.0
    selected = "-" if row.get("selected_acc") is None else f"{100 * row['selected_acc']:.2f}%"
    return head + (f"selected {selected}  last {100 * row['last_acc']:.2f}%  oracle best "
                   f"{100 * row['best_acc']:.2f}%  {wall:.1f}s ({action})")


# ---------------------------------------------------------------------- results.csv
def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def write_csv(path: Path, rows: list[dict]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_value(row[k]) for k in CSV_COLUMNS})


# ---------------------------------------------------------------------- results.md
def _mean_std(values: list[float]) -> Optional[tuple[float, Optional[float]]]:
    if not values:
        return None
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else None)


def _format(stat, bold: bool = False) -> str:
    if stat is None:
        return "-"
    mean, std = stat
    text = f"{100 * mean:.2f}" + ("" if std is None else f" ± {100 * std:.2f}")
    return f"**{text}**" if bold else text


def _rounded(stat: tuple) -> float:
    """The mean as printed, so that ties in the table are all bold."""
    return round(100 * stat[0], 2)


def _accuracy_table(cells: list[Cell], rows: list[dict], key: str) -> str:
    """Methods x noise settings of one dataset; the best mean per column in bold, the clean-label
    ce cells as a reference row at the bottom."""
    done = [(c, r) for c, r in zip(cells, rows) if r["status"] == "complete"]
    ceiling = {c.name for c in cells if c.noise == "none" and c.reference}
    compared = [c for c in cells if c.name not in ceiling]
    settings = list(dict.fromkeys(c.setting for c in compared))
    methods = list(dict.fromkeys(c.method for c in compared))
    # A missing value (selected_acc of a run without a validation split) is left out, shown as "-".
    stats = {(m, s): _mean_std([r[key] for c, r in done
                                if c.method == m and c.setting == s and r[key] is not None])
             for m in methods for s in settings}
    best = {s: max((_rounded(stats[m, s]) for m in methods if stats[m, s]), default=None) for s in settings}
    lines = ["| method | " + " | ".join(settings) + " |", "|---|" + "---|" * len(settings)]
    for m in methods:
        entries = [_format(stats[m, s], bold=bool(stats[m, s]) and _rounded(stats[m, s]) == best[s])
                   for s in settings]
        lines.append(f"| {m} | " + " | ".join(entries) + " |")
    if ceiling:
        clean = _mean_std([r[key] for c, r in done if c.name in ceiling and r[key] is not None])
        lines.append("| ce (clean labels) | " + " | ".join([_format(clean)] * len(settings)) + " |")
    return "\n".join(lines)


def format_markdown(grid: dict, cells: list[Cell], rows: list[dict], command: str, threads: int) -> str:
    seeds = grid["seeds"]
    over = f"seed {seeds[0]}" if len(seeds) == 1 else "mean ± std over seeds " + ", ".join(map(str, seeds))
    complete = sum(r["status"] == "complete" for r in rows)
    failed = [r["cell"] for r in rows if r["status"] == "failed"]
    parts = [f"# Benchmark grid: {grid['name']}",
             f"{complete} of {len(rows)} cells complete" + (f"; failed: {', '.join(failed)}" if failed else "") + "."]
    for dataset in dict.fromkeys(c.dataset for c in cells):
        pick = [i for i, c in enumerate(cells) if c.dataset == dataset]
        sub_cells, sub_rows = [cells[i] for i in pick], [rows[i] for i in pick]
        parts += [f"## {dataset}",
                  f"Selected test accuracy (%): at the epoch of the best noisy-validation accuracy, {over}; "
                  "the best of each column in bold:",
                  _accuracy_table(sub_cells, sub_rows, "selected_acc"),
                  f"Last-epoch test accuracy (%), {over}; the best of each column in bold:",
                  _accuracy_table(sub_cells, sub_rows, "last_acc"),
                  f"Oracle best (test) accuracy (%): the epoch picked with the test labels, not a result a "
                  f"practitioner can reach; {over}:",
                  _accuracy_table(sub_cells, sub_rows, "best_acc")]
    parts += [f"Command: `{command}`",
              f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, torch threads per cell: {threads}. "
              "Epoch times and ratios to ce (results.csv: epoch_time, epoch_ratio) are only meaningful with "
              "--jobs 1: parallel cells compete for the same cores."]
    return "\n\n".join(parts) + "\n"


def write_results(out: Path, grid: dict, cells: list[Cell], command: str, threads: int) -> list[dict]:
    """Rewrite results.csv and results.md from the cell folders; returns the rows."""
    rows = collect_rows(cells, out)
    write_csv(out / rundir.RESULTS_CSV, rows)
    atomic_write_text(out / rundir.RESULTS_MD, format_markdown(grid, cells, rows, command, threads))
    return rows

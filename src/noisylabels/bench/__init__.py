"""``noisylabels bench``: train a grid of (dataset x noise x method x seed) cells and tabulate them.

Each cell is an ordinary run folder under ``DIR/cells/``. Re-running the same grid skips the
complete cells and resumes the interrupted ones from their checkpoints, so a long grid can be
stopped and restarted. ``results.csv`` and ``results.md`` are rewritten after every cell.

A grid's ``methods:`` may hold the entry ``all``: every registered method with its defaults, where
an explicit entry with the same label replaces the method's default one (details in ``grid``).

The package: ``grid`` reads, checks and expands a grid into cells; ``cells`` trains one cell (in
this process or in workers); ``tables`` builds the results rows, results.csv and results.md.
"""
from __future__ import annotations

import fnmatch
import time
from pathlib import Path
from typing import Optional, Union

import yaml

from .. import rundir
from ..errors import NoisyLabelsError
from ..io import atomic_write_text
from .backends import BACKENDS, BackendOptions, check_backend, run_on
from .cells import record_failure, threads_per_job, train_cell
from .grid import ALL_METHODS, Cell, check_grid, check_method, check_methods, expand_grid, load_grid
from .tables import CSV_COLUMNS, cell_row, collect_rows, format_markdown, progress_line, write_csv, write_results

__all__ = ["ALL_METHODS", "BACKENDS", "BackendOptions", "CSV_COLUMNS", "Cell", "cell_row", "check_grid", "check_method", "check_methods",
           "collect_rows", "expand_grid", "format_markdown", "load_grid", "record_failure", "run_bench",
           "train_cell", "write_csv"]


def _copy_grid(grid: Union[str, Path, dict], raw: dict, out: Path) -> None:
    """DIR/grid.yaml: the file as written (comments included), or the dict as YAML."""
    text = Path(grid).read_text() if not isinstance(grid, dict) else yaml.safe_dump(raw, sort_keys=False)
    atomic_write_text(out / rundir.GRID, text)


def _check_jobs(jobs) -> int:
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise NoisyLabelsError(f"--jobs must be a whole number >= 1, got {jobs!r}")
    return jobs


class _Bench:
    """One run of a grid: publishes the results files and prints one progress line per cell."""

    def __init__(self, checked: dict, cells: list[Cell], out: Path, command: str, threads: int):
        self.checked, self.cells, self.out = checked, cells, out
        self.command, self.threads = command, threads
        self.finished = 0

    def publish(self) -> list[dict]:
        return write_results(self.out, self.checked, self.cells, self.command, self.threads)

    def skip_complete(self, rows: list[dict]) -> list[Cell]:
        """Print the complete cells as skipped; return the others, still to train."""
        todo = []
        for cell, row in zip(self.cells, rows):
            if row["status"] != "complete":
                todo.append(cell)
                continue
            self.finished += 1
            print(progress_line(self.finished, len(self.cells), row, "skipped: already complete"), flush=True)
        return todo

    def on_done(self, cell: Cell, result: dict) -> None:
        self.finished += 1
        if result.get("note"):
            print(f"note: {cell.name}: {result['note']}", flush=True)
        row = cell_row(cell, self.out)
        if result["status"] == "failed":
            row.update(status="failed", error=result["error"])
        self.publish()
        print(progress_line(self.finished, len(self.cells), row, result["action"]), flush=True)


def _selected(cells: list[Cell], only: tuple[str, ...]) -> list[Cell]:
    """The cells whose name matches one of the glob patterns ``only`` (all cells without patterns)."""
    if not only:
        return cells
    chosen = [c for c in cells if any(fnmatch.fnmatchcase(c.name, p) for p in only)]
    if not chosen:
        raise NoisyLabelsError(f"--only {' '.join(only)} matches no cell of the grid; cell names look like "
                               f"{cells[0].name}")
    return chosen


def run_bench(grid: Union[str, Path, dict], out: Union[str, Path, None] = None, jobs: int = 1,
              only: tuple[str, ...] = (), backend: str = "local", options: Optional[BackendOptions] = None
              ) -> list[dict]:
    """Train every cell of a grid (a YAML file or a dict) under ``out`` (default runs/bench/<name>)
    and write results.csv and results.md there. Returns the results rows, one per cell.
    ``only``: glob patterns on cell names; the other cells are left as they are (a grid can be
    trained in parts), and the results files still list every cell. ``backend``: ``local``
    (``jobs`` processes here), ``ray`` (a Ray task per cell) or ``slurm`` (a submitit job per
    cell); ``options``: their resources and addresses (``BackendOptions``)."""
    raw = load_grid(grid)
    checked = check_grid(raw)
    jobs = _check_jobs(jobs)
    backend = check_backend(backend)
    options = (options or BackendOptions()).check()
    if backend != "local" and jobs != 1:
        raise NoisyLabelsError(f"--jobs is for the local backend; with {backend}, --cpus-per-cell and the "
                               "cluster decide how many cells run at once (drop --jobs)")
    default_name = Path(grid).stem if not isinstance(grid, dict) else "grid"
    out = Path(out) if out is not None else rundir.default_bench_dir(raw.get("name", default_name))
    cells = expand_grid(checked, out)  # validates every cell's config: nothing is written before this
    selected = _selected(cells, tuple(only))
    _copy_grid(grid, raw, out)
    source = out / rundir.GRID if isinstance(grid, dict) else grid
    import torch

    if backend != "local":
        threads = options.cpus_per_cell
    else:
        threads = torch.get_num_threads() if jobs == 1 else threads_per_job(jobs)
    where = f"--jobs {jobs}" if backend == "local" else f"--backend {backend} --cpus-per-cell {threads}"
    bench = _Bench(checked, cells, out, f"noisylabels bench {source} --out {out} {where}", threads)
    todo = [c for c in bench.skip_complete(bench.publish()) if c in selected]
    start = time.perf_counter()
    try:
        run_on(backend, todo, jobs, bench.on_done, options, out)
    finally:
        rows = bench.publish()  # an interrupted grid still leaves consistent results
    if todo:
        print(f"{len(todo)} cells trained in {time.perf_counter() - start:.0f}s; "
              f"results in {out}/{rundir.RESULTS_MD}")
    return rows

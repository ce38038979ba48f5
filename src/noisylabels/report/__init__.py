"""``noisylabels report``: one self-contained HTML page for a run folder or a bench folder.

Every figure is written as a PNG file (``<page stem>/*.png`` next to the page) and also inlined in
the page as a base64 ``data:`` URI, so the page can be mailed or archived on its own. The files the
page is drawn from are those of ``noisylabels.rundir`` (a run folder from ``noisylabels train``, a
bench folder from ``noisylabels bench``); the figures come from ``noisylabels.figures``.
"""
from __future__ import annotations

from pathlib import Path

from .. import rundir
from ..errors import NoisyLabelsError
from ..io import atomic_write_text
from .bench_page import build_bench_page, load_bench
from .run_page import build_run_page

FOLDER_HELP = (f"pass a run folder (with {rundir.METRICS}, written by `noisylabels train`) or a bench folder "
               f"(with {rundir.RESULTS_CSV} and {rundir.CELLS}/, written by `noisylabels bench`)")


def folder_kind(folder: Path) -> str:
    """'bench' or 'run'; anything else is an error saying what the folder should hold."""
    if not folder.is_dir():
        raise NoisyLabelsError(f"{folder} is not a folder; {FOLDER_HELP}")
    if rundir.is_bench(folder):
        return "bench"
    if rundir.is_run(folder):
        return "run"
    raise NoisyLabelsError(f"{folder} has neither {rundir.METRICS} nor {rundir.RESULTS_CSV} and {rundir.CELLS}/; "
                           f"{FOLDER_HELP}")


def write_report(folder, out=None) -> Path:
    """Write the report of a run or bench folder; returns the page's path.

    The page goes to ``out`` (default ``<folder>/report.html``), its figures as PNG files into the
    folder named like the page without its suffix (default ``<folder>/report/``).
    """
    folder = Path(folder)
    bench = load_bench(folder) if folder_kind(folder) == "bench" else None  # errors before any file is touched
    out = Path(out) if out is not None else folder / rundir.REPORT
    figures = out.parent / out.stem
    figures.mkdir(parents=True, exist_ok=True)
    for stale in figures.glob("*.png"):  # figures of an earlier report must not pass for this one's
        stale.unlink()
    page = build_bench_page(folder, *bench, figures) if bench else build_run_page(folder, figures)
    atomic_write_text(out, page.render())
    return out


__all__ = ["write_report"]

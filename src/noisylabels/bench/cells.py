"""Training (or resuming) one bench cell, in this process or in spawned worker processes."""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Callable, Optional

from .. import plugins, rundir
from ..config import Config
from ..errors import NoisyLabelsError
from ..io import atomic_write_json
from .grid import Cell


def _start_trainer(config: Config, folder: Path) -> tuple[Any, str, Optional[str]]:
    """(trainer, action, note): resume from the checkpoint when there is a usable one."""
    from ..engine import Trainer

    if (folder / rundir.CHECKPOINT).is_file() and rundir.config_matches(folder, config):
        try:
            return Trainer.resume(folder), "resumed", None
        except NoisyLabelsError as error:
            note = f"{error}; starting it again from scratch"
            return Trainer(config), "restarted", note
    return Trainer(config), "fresh", None


def train_cell(config_dict: dict, threads: Optional[int] = None) -> dict:
    """Train (or resume) one cell and return {action, status, error, note}. It also runs in worker
    processes, so it takes and returns plain data; a failure is recorded, not raised."""
    if threads:
        import torch

        torch.set_num_threads(threads)
    config = Config.from_dict(config_dict)
    folder = Path(config.run.out)
    action, note = "fresh", None
    try:
        trainer, action, note = _start_trainer(config, folder)
        trainer.fit()
    except Exception as error:
        record_failure(folder, error)
        return {"action": action, "status": "failed", "error": f"{type(error).__name__}: {error}", "note": note}
    return {"action": action, "status": "complete", "error": None, "note": note}


def record_failure(folder: Path, error: Exception) -> None:
    """fit() records its own failures; a cell that failed before training started needs this."""
    metrics = rundir.read_metrics(folder)
    if metrics is None or metrics.get("status") != "failed":
        atomic_write_json(folder / rundir.METRICS, {"status": "failed", "error": repr(error), "epochs": []})


def threads_per_job(jobs: int) -> int:
    """Torch threads of each worker: the CPUs shared out between the jobs."""
    return max(1, (os.cpu_count() or 1) // jobs)


def load_plugins(sources: list[str]) -> None:
    for source in sources:
        plugins.load_plugin(source)


def run_cells(todo: list[Cell], jobs: int, on_done: Callable[[Cell, dict], None]) -> None:
    """Train the cells in-process (jobs 1) or in ``jobs`` spawned workers; ``on_done(cell, result)``."""
    if jobs == 1 or not todo:
        for cell in todo:
            on_done(cell, train_cell(cell.config.to_dict()))
        return
    # spawned workers start from a fresh interpreter: they load the plugins this process loaded
    pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                               initializer=load_plugins, initargs=(list(plugins.LOADED),))
    try:
        futures = {pool.submit(train_cell, cell.config.to_dict(), threads_per_job(jobs)): cell for cell in todo}
        for future in as_completed(futures):
            try:
                result = future.result()
            except Exception as error:  # the worker died (e.g. out of memory)
                result = {"action": "fresh", "status": "failed", "error": repr(error), "note": None}
                record_failure(Path(futures[future].config.run.out), error)
            on_done(futures[future], result)
    finally:  # on Ctrl-C, start no further cells (the running ones were interrupted too)
        pool.shutdown(wait=True, cancel_futures=True)

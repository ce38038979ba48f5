"""Where a grid's cells train: ``local`` (this process or spawned workers, ``cells.run_cells``),
``ray`` (one Ray task per cell) or ``slurm`` (one submitit job per cell, a job array).

Every backend keeps the local semantics: the caller has validated the grid and skipped the complete
cells; each cell is ``cells.train_cell``, which resumes an interrupted cell from its checkpoint and
records a failure instead of raising; ``on_done(cell, result)`` rewrites the results files as each
cell finishes. Ray and submitit are optional extras, imported only here, only when asked for.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from .. import plugins
from ..errors import NoisyLabelsError
from .cells import load_plugins, record_failure, run_cells, train_cell
from .grid import Cell

BACKENDS = ("local", "ray", "slurm")
SLURM_CLUSTERS = ("slurm", "local")  # local: submitit's local executor (jobs as processes here)
# Spinning OpenMP threads of workers sharing CPUs made a step 7x slower in our measurement.
WORKER_ENV = {"OMP_WAIT_POLICY": "PASSIVE"}
POLL_SECONDS = 2.0


@dataclass
class BackendOptions:
    """The options of the ray and slurm backends (``--ray-address``, ``--cpus-per-cell``, ...)."""

    cpus_per_cell: int = 1
    gpus_per_cell: float = 0
    ray_address: Optional[str] = None  # None: start a local Ray cluster (or use the running one)
    slurm_partition: Optional[str] = None
    slurm_time: int = 60  # minutes per job before SLURM times it out (it is then requeued)
    slurm_array_parallelism: int = 64
    slurm_cluster: str = "slurm"
    slurm_folder: Optional[str] = None  # submitit's logs and pickles; default <bench dir>/slurm

    def check(self) -> "BackendOptions":
        whole = (("cpus_per_cell", 1), ("slurm_time", 1), ("slurm_array_parallelism", 1))
        for name, low in whole:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise NoisyLabelsError(f"--{name.replace('_', '-')} must be a whole number >= {low}, got {value!r}")
        if isinstance(self.gpus_per_cell, bool) or not isinstance(self.gpus_per_cell, (int, float)) \
                or self.gpus_per_cell < 0:
            raise NoisyLabelsError(f"--gpus-per-cell must be a number >= 0, got {self.gpus_per_cell!r}")
        if self.slurm_cluster not in SLURM_CLUSTERS:
            raise NoisyLabelsError(f"--slurm-cluster must be one of {', '.join(SLURM_CLUSTERS)}, got "
                                   f"{self.slurm_cluster!r}")
        return self


def check_backend(name: str) -> str:
    if name not in BACKENDS:
        raise NoisyLabelsError(f"unknown backend {name!r}; choose one of: {', '.join(BACKENDS)}")
    return name


def run_on(backend: str, todo: list[Cell], jobs: int, on_done: Callable[[Cell, dict], None],
           options: BackendOptions, out: Path) -> None:
    """Train ``todo`` on ``backend``, calling ``on_done(cell, result)`` as each cell finishes."""
    if backend == "local":
        run_cells(todo, jobs, on_done)
    elif todo:
        (run_ray if backend == "ray" else run_slurm)(todo, on_done, options, out)


def _import(module: str, extra: str):
    try:
        return __import__(module)
    except ImportError:
        raise NoisyLabelsError(f"the {extra} backend needs {module}: pip install 'noisylabels[{extra}]'") from None


def _failed(cell: Cell, error: BaseException) -> dict:
    """The result of a cell whose worker died (out of memory, a lost node, a cancelled job)."""
    record_failure(Path(cell.config.run.out), error)
    return {"action": "fresh", "status": "failed", "error": f"{type(error).__name__}: {error}", "note": None}


def cell_task(config_dict: dict, threads: int, plugin_sources: list[str]) -> dict:
    """One cell in a fresh worker process: load the plugins the driver loaded, then train."""
    load_plugins(plugin_sources)
    return train_cell(config_dict, threads)


# --------------------------------------------------------------------------- Ray


def run_ray(todo: list[Cell], on_done: Callable[[Cell, dict], None], options: BackendOptions, out: Path) -> None:
    ray = _import("ray", "ray")
    if not ray.is_initialized():
        ray.init(address=options.ray_address, include_dashboard=False, log_to_driver=False)
    task = ray.remote(cell_task).options(num_cpus=options.cpus_per_cell, num_gpus=options.gpus_per_cell,
                                         max_retries=0, runtime_env={"env_vars": dict(WORKER_ENV)})
    pending = {task.remote(cell.config.to_dict(), options.cpus_per_cell, list(plugins.LOADED)): cell
               for cell in todo}
    try:
        while pending:
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            cell = pending.pop(ref)
            try:
                result = ray.get(ref)
            except Exception as error:  # the task's process died
                result = _failed(cell, error)
            on_done(cell, result)
    finally:  # on Ctrl-C, cancel the cells still queued or running
        for ref in pending:
            ray.cancel(ref, force=True)


# --------------------------------------------------------------------------- SLURM (submitit)


class CellJob:
    """One cell as a submitit job. ``checkpoint`` is submitit's hook on preemption and time-out: it
    resubmits the same call, and the requeued job resumes the cell from its checkpoint.pt
    (``train_cell``), so no finished epoch is lost."""

    def __call__(self, config_dict: dict, threads: int, plugin_sources: list[str]) -> dict:
        return cell_task(config_dict, threads, plugin_sources)

    def checkpoint(self, *args, **kwargs):
        from submitit.helpers import DelayedSubmission

        return DelayedSubmission(self, *args, **kwargs)


def slurm_executor(options: BackendOptions, out: Path):
    submitit = _import("submitit", "slurm")
    folder = Path(options.slurm_folder) if options.slurm_folder else out / "slurm"
    executor = submitit.AutoExecutor(folder=folder / "%j", cluster=options.slurm_cluster)
    parameters = {"timeout_min": options.slurm_time, "cpus_per_task": options.cpus_per_cell,
                  "slurm_array_parallelism": options.slurm_array_parallelism, "name": "noisylabels-bench"}
    if options.gpus_per_cell:
        parameters["gpus_per_node"] = int(options.gpus_per_cell)
    if options.slurm_partition:
        parameters["slurm_partition"] = options.slurm_partition
    # each job's shell exports the worker environment before Python (and OpenMP) starts
    parameters[f"{options.slurm_cluster}_setup"] = [f"export {k}={v}" for k, v in WORKER_ENV.items()]
    executor.update_parameters(**parameters)
    return executor


def run_slurm(todo: list[Cell], on_done: Callable[[Cell, dict], None], options: BackendOptions, out: Path,
              submitted: Optional[Callable[[list], None]] = None) -> None:
    """Submit the cells as one job array and collect each as it ends. ``submitted(jobs)``: called
    with the submitit jobs once they are queued (the tests interrupt one)."""
    executor = slurm_executor(options, out)
    with executor.batch():
        jobs = [executor.submit(CellJob(), cell.config.to_dict(), options.cpus_per_cell, list(plugins.LOADED))
                for cell in todo]
    if submitted is not None:
        submitted(jobs)
    pending = dict(zip(jobs, todo))
    try:
        while pending:
            finished = [job for job in pending if job.done()]
            if not finished:
                time.sleep(POLL_SECONDS)
            for job in finished:
                cell = pending.pop(job)
                try:
                    result = job.result()
                except Exception as error:  # the job failed or was cancelled without a requeue
                    result = _failed(cell, error)
                on_done(cell, result)
    finally:  # on Ctrl-C, cancel the jobs still queued or running
        for job in pending:
            job.cancel(check=False)

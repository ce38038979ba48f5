"""`noisylabels bench --backend ray|slurm`: the same cells and numbers as the local backend; a
preempted submitit job is requeued and resumes its cell."""
import copy
import json
import time
from pathlib import Path

import pytest
import ray

from noisylabels import METHODS, NoisyLabelsError, run_bench
from noisylabels.bench import BackendOptions, load_grid
from noisylabels.bench.backends import run_slurm
from noisylabels.bench.grid import check_grid, expand_grid
from noisylabels.cli import main

GRIDS = Path(__file__).resolve().parents[1] / "benchmarks" / "grids"
BASE = {"data": {"subset": 300, "augment": "none"}, "model": {"name": "mlp", "options": {"hidden_sizes": [32]}},
        "optim": {"epochs": 2, "batch_size": 32}, "run": {"device": "cpu", "plots": False}}
KEYS = ("cell", "status", "selected_acc", "best_acc", "last_acc", "precision", "recall", "epochs")


def quick_grid() -> dict:
    quick = load_grid(GRIDS / "quick.yaml")
    quick.update(datasets=["digits"], seeds=[0], base=copy.deepcopy(BASE))
    return quick


@pytest.fixture(scope="module")
def local_quick(tmp_path_factory):
    """The shipped quick grid, every noise setting and method of it, on the bundled digits, locally."""
    return run_bench(quick_grid(), tmp_path_factory.mktemp("local"))


def test_the_quick_grid_runs_on_tiny_data(local_quick):
    methods = set(METHODS.names()) | {"gce+sr"}
    assert len(local_quick) == 2 * len(methods) + 1 and all(r["status"] == "complete" for r in local_quick)
    assert {r["method"] for r in local_quick} == methods
    assert all(0.0 < float(r["best_acc"]) <= 1.0 for r in local_quick)


def test_ray_gives_the_local_numbers(local_quick, tmp_path):
    """A local Ray cluster of 2 CPUs, a task per cell: the same rows as --backend local --jobs 1."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        rows = run_bench(quick_grid(), tmp_path, backend="ray", options=BackendOptions(cpus_per_cell=1))
    finally:
        ray.shutdown()
    assert [[r[k] for k in KEYS] for r in rows] == [[r[k] for k in KEYS] for r in local_quick]
    assert "--backend ray --cpus-per-cell 1" in (tmp_path / "results.md").read_text()


def tiny_grid(epochs: int, batch_size: int = 32) -> dict:
    return {"name": "tiny", "base": {**copy.deepcopy(BASE), "optim": {"epochs": epochs, "batch_size": batch_size}},
            "datasets": ["digits"], "noise": [{"type": "symmetric", "rates": [0.4]}], "methods": ["ce"],
            "seeds": [0], "clean_ce": False}


def without_times(metrics: dict) -> dict:
    epochs = [{k: v for k, v in row.items() if not k.endswith("time")} for row in metrics["epochs"]]
    return {**{k: v for k, v in metrics.items() if k not in ("total_time", "epochs")}, "epochs": epochs}


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (Linux /proc)."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            children = (task / "children").read_text().split() if (task / "children").is_file() else []
            found += [int(c) for c in children]
            todo += [int(c) for c in children]
    return found


def preempt(job) -> None:
    """Send the job's Python process the signal SLURM sends before preempting a job (submitit's
    USR2); the local executor's controller process above it only forwards SIGTERM."""
    import os
    from submitit.core.job_environment import JobEnvironment

    for pid in descendants(job._process.pid):
        if b"submitit.core._submit" in Path(f"/proc/{pid}/cmdline").read_bytes():
            os.kill(pid, JobEnvironment._usr_sig())
            return
    pytest.fail("no running submitit task to preempt")


def test_a_preempted_slurm_job_is_requeued_and_resumes_its_cell(tmp_path):
    """submitit's local executor (real submitit, no SLURM): the job is sent the preemption signal
    once its cell has checkpointed an epoch; it is requeued, resumes from checkpoint.pt and ends
    with the metrics of an uninterrupted run."""
    grid = tiny_grid(epochs=12, batch_size=4)  # 0.1-0.2 s an epoch: the signal comes mid-training
    whole = run_bench(grid, tmp_path / "whole")
    cells = expand_grid(check_grid(grid), tmp_path / "slurm")
    metrics_file = Path(cells[0].config.run.out) / "metrics.json"
    results = []

    def preempt_once_checkpointed(jobs):
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if metrics_file.is_file() and len(json.loads(metrics_file.read_text()).get("epochs", [])) >= 2:
                preempt(jobs[0])
                return
            time.sleep(0.05)
        pytest.fail("the cell never checkpointed an epoch")

    options = BackendOptions(slurm_cluster="local", slurm_time=5).check()
    run_slurm(cells, lambda cell, result: results.append(result), options, tmp_path / "slurm",
              submitted=preempt_once_checkpointed)
    assert [r["status"] for r in results] == ["complete"] and results[0]["action"] == "resumed"
    resumed = json.loads(metrics_file.read_text())
    reference = json.loads((tmp_path / "whole" / "cells" / whole[0]["cell"] / "metrics.json").read_text())
    assert json.dumps(without_times(resumed)) == json.dumps(without_times(reference))


def test_slurm_backend_through_the_cli_records_a_failing_cell_and_goes_on(tmp_path, capsys):
    """The whole path with submitit's local executor: the cells submitted as one array, a cell that
    fails when it starts (rsl's stage1_epochs beyond the budget) recorded, the other complete."""
    import yaml

    grid = {**tiny_grid(2), "methods": ["ce", {"name": "rsl", "options": {"stage1_epochs": 5}}]}
    grid_file = tmp_path / "grid.yaml"
    grid_file.write_text(yaml.safe_dump(grid))
    code = main(["bench", str(grid_file), "--out", str(tmp_path / "out"), "--backend", "slurm",
                 "--slurm-cluster", "local", "--slurm-time", "5"])
    assert code == 1 and "1 cell(s) failed: digits-symmetric0.4-rsl-s0" in capsys.readouterr().err
    table = (tmp_path / "out" / "results.csv").read_text().splitlines()
    assert len(table) == 3 and ",complete," in table[1] and "stage1_epochs" in table[2]


def test_slurm_jobs_get_their_resources_and_the_passive_openmp_policy(tmp_path):
    from noisylabels.bench.backends import slurm_executor

    options = BackendOptions(cpus_per_cell=3, gpus_per_cell=1, slurm_time=90, slurm_cluster="local").check()
    parameters = slurm_executor(options, tmp_path)._executor.parameters
    assert parameters["setup"] == ["export OMP_WAIT_POLICY=PASSIVE"]
    assert parameters["timeout_min"] == 90 and parameters["gpus_per_node"] == 1


def test_backend_errors_are_one_line(tmp_path, capsys):
    with pytest.raises(NoisyLabelsError, match="unknown backend 'dask'; choose one of: local, ray, slurm"):
        run_bench(tiny_grid(1), tmp_path, backend="dask")
    with pytest.raises(NoisyLabelsError, match="--jobs is for the local backend"):
        run_bench(tiny_grid(1), tmp_path, backend="ray", jobs=2)
    with pytest.raises(NoisyLabelsError, match="--cpus-per-cell must be a whole number >= 1"):
        run_bench(tiny_grid(1), tmp_path, backend="ray", options=BackendOptions(cpus_per_cell=0))
    with pytest.raises(NoisyLabelsError, match="--slurm-cluster must be one of slurm, local"):
        run_bench(tiny_grid(1), tmp_path, backend="slurm", options=BackendOptions(slurm_cluster="pbs"))
    assert not (tmp_path / "cells").exists()  # checked before anything is written

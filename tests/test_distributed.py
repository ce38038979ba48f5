"""Distributed training: `noisylabels train` under torchrun, 2 processes, gloo on CPU."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from noisylabels.plugins import LOADED

EPOCHS = 3
METHOD_ARGS = {"rsl": ["stage1_epochs=1"], "coteaching": ["num_gradual=1"], "dividemix": ["warmup=1"], "ce": [],
               "prediction_average": [], "self_ensemble": ["patience=1"], "aux": []}


@pytest.fixture(scope="module", autouse=True)
def blob_file(tmp_path_factory):
    """10 overlapping Gaussian blobs as an .npz. Digits would do as well, but every rank of every
    launch would then import scikit-learn, which is seconds each."""
    global DATA
    rng = np.random.default_rng(0)
    labels = np.arange(600) % 10
    x = (rng.normal(0, 1.5, (10, 32))[labels] + rng.normal(0, 1, (600, 32))).astype(np.float32)
    DATA = str(tmp_path_factory.mktemp("blobs") / "blobs.npz")
    np.savez(DATA, x=x[:500], y=labels[:500], x_test=x[500:], y_test=labels[500:])


DATA = None  # set by blob_file
DATA_FLAGS = ("--dataset", "arrays", "--data-path")


def torchrun(method: str, out, *extra: str) -> subprocess.CompletedProcess:
    args = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
            "-m", "noisylabels", "train", *DATA_FLAGS, DATA, "--subset", "390", "--noise", "symmetric",
            "--noise-rate", "0.3", "--model", "mlp", "--model-arg", "hidden_sizes=[32]", "--method", method,
            "--epochs", str(EPOCHS), "--batch-size", "32", "--device", "cpu", "--out", str(out), "--no-progress",
            "--set", "run.plots=false", *extra]  # plots cost seconds per run and are tested elsewhere
    for option in METHOD_ARGS[method]:
        args += ["--method-arg", option]
    for source in LOADED:  # the suite's example method, a plugin
        args += ["--plugin", source]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(args, capture_output=True, text=True, timeout=300, env=env)


# self_ensemble and aux: (N, C) state merged by index (a prediction average, the auxiliary vectors)
@pytest.mark.parametrize("method", ["ce", "rsl", "coteaching", "dividemix", "self_ensemble", "aux"])
def test_two_processes_cover_every_sample_once_and_agree(method, tmp_path):
    result = torchrun(method, tmp_path / "run")
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["status"] == "complete" and len(metrics["epochs"]) == EPOCHS
    n = metrics["num_train"]
    assert n % 2 == 0  # so that no padding is needed and every sample is seen exactly once
    # Every epoch ended with both ranks holding the same statistics and selection (the engine
    # compares digests and fails otherwise) and the gathered store covering the epoch's samples.
    for row in metrics["epochs"]:
        assert row["ddp_world_size"] == 2
        if method == "dividemix" and row["stage"] == "mixmatch":
            # its store is filled by the GMM's full evaluation pass, which every rank makes
            assert row["ddp_recorded_several"] == n
            continue
        pool = row.get("selection_size", n) if method == "rsl" and row["stage"] == 2 else n
        if method == "coteaching":  # network 1's per-sample loss is recorded for the whole batch
            pool = n
        assert row["ddp_recorded_once"] + row["ddp_recorded_several"] == pool
        assert row["ddp_recorded_several"] <= 1  # padding to an even count, as DistributedSampler does
    stats = torch.load(tmp_path / "run" / "stats.pt")
    assert not torch.isnan(stats["loss"][0]).any()  # every sample's first-epoch loss is in the store
    assert (stats["prediction"] >= 0).all()
    files = sorted(p.name for p in (tmp_path / "run").iterdir())
    assert "metrics.json" in files and "checkpoint.pt" in files  # written once, by rank 0


def test_per_sample_state_of_any_shape_merges_over_ranks(tmp_path):
    """The example method keeps an (N, C) prediction average, as a merged method attribute and as a
    stored value: each rank updates its own samples' rows, and every row ends up on every rank."""
    result = torchrun("prediction_average", tmp_path / "run")
    assert result.returncode == 0, result.stderr[-3000:]
    stats = torch.load(tmp_path / "run" / "stats.pt")
    average = stats["values"]["prob_average"]
    n = json.loads((tmp_path / "run" / "metrics.json").read_text())["num_train"]
    assert average.shape == (n, 10) and not torch.isnan(average).any()  # every sample's row from its rank
    assert torch.allclose(average.sum(1), torch.ones(n), atol=1e-5)
    label_prob = stats["values"]["label_prob"]  # computed after the merge, the same on every rank
    assert torch.allclose(label_prob, average[torch.arange(n), stats["prediction"].new_tensor(
        _labels(tmp_path / "run"))], atol=1e-6)


def _labels(folder):
    from noisylabels import rundir

    return rundir.read_labels(folder)[0]


def test_a_single_process_run_has_no_distributed_fields(tmp_path):
    from noisylabels.cli import main

    assert main(["train", "--dataset", "digits", "--subset", "200", "--model", "mlp", "--epochs", "1",
                 "--device", "cpu", "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    row = json.loads((tmp_path / "run" / "metrics.json").read_text())["epochs"][0]
    assert not any(key.startswith("ddp_") for key in row)


# Rank 0 trains the run and SIGKILLs itself after the first step of epoch 3; torchrun then stops
# rank 1 too, as it does when any worker dies.
KILLED_RANK = """
import os, signal, sys
from noisylabels.cli import main
from noisylabels.engine import Trainer
fit = Trainer.fit
def fit_then_die(self):
    original = self.method.after_step
    def after_step(tr):
        original(tr)
        if tr.epoch == 2 and tr.dist.rank == 0:
            os.kill(os.getpid(), signal.SIGKILL)
    self.method.after_step = after_step
    return fit(self)
Trainer.fit = fit_then_die
sys.exit(main(sys.argv[1:]))
"""


def test_a_killed_distributed_run_resumes_to_the_uninterrupted_result(tmp_path):
    script = tmp_path / "killed_rank.py"
    script.write_text(KILLED_RANK)
    flags = ["train", *DATA_FLAGS, DATA, "--subset", "390", "--noise", "symmetric", "--noise-rate", "0.3",
             "--model", "mlp", "--method", "rsl", "--method-arg", "stage1_epochs=2", "--epochs", "4",
             "--batch-size", "32", "--device", "cpu", "--no-progress", "--set", "run.plots=false"]
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def run(*args):
        return subprocess.run([*launch, *args], capture_output=True, text=True, timeout=300, env=env)

    assert run("-m", "noisylabels", *flags, "--out", str(tmp_path / "whole")).returncode == 0
    assert run(str(script), *flags, "--out", str(tmp_path / "killed")).returncode != 0
    killed = json.loads((tmp_path / "killed" / "metrics.json").read_text())
    assert killed["status"] == "running" and len(killed["epochs"]) == 2
    result = run("-m", "noisylabels", "train", "--resume", str(tmp_path / "killed"))
    assert result.returncode == 0, result.stderr[-3000:]
    resumed, whole = (json.loads((tmp_path / name / "metrics.json").read_text()) for name in ("killed", "whole"))
    keep = ("test_acc", "train_loss", "selection_precision", "ddp_recorded_once")
    assert [[row.get(k) for k in keep] for row in resumed["epochs"]] == \
           [[row.get(k) for k in keep] for row in whole["epochs"]]

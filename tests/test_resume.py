"""Exact resume: a run killed mid-epoch (SIGKILL, in a child process) and resumed ends bit for bit
where an uninterrupted run ends, for every registered method; bad checkpoints get clear errors."""
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from noisylabels import Config, Trainer
from noisylabels.errors import NoisyLabelsError
from noisylabels.methods import METHODS
from noisylabels.plugins import LOADED

EPOCHS = 4
KILL_EPOCH = 2  # killed in the third epoch, after two checkpoints

# Trains the config given as JSON and SIGKILLs itself right after the first optimiser step of
# epoch KILL: the weights have moved on from the last checkpoint, the epoch is half done.
KILLED_RUN = textwrap.dedent("""
    import json, os, signal, sys
    from noisylabels import Config, Trainer
    from noisylabels.plugins import load_plugin
    for source in sys.argv[3:]:  # the plugins the suite registered (the example method)
        load_plugin(source)
    trainer = Trainer(Config.from_dict(json.loads(sys.argv[1])))
    kill_epoch = int(sys.argv[2])
    original = trainer.method.after_step
    def after_step(tr):
        original(tr)
        if tr.epoch == kill_epoch:
            os.kill(os.getpid(), signal.SIGKILL)
    trainer.method.after_step = after_step
    trainer.fit()
""")

METHOD_OPTIONS = {  # budgets small enough for 4 epochs, each stage reached before the kill
    "rsl": {"stage1_epochs": 2}, "rsl_mixmatch": {"stage1_epochs": 2}, "dividemix": {"warmup": 1},
    "aum": {"detect_epochs": 1}, "coteaching": {"num_gradual": 2}, "coteaching_plus": {"init_epoch": 1},
}


@pytest.fixture(scope="module", autouse=True)
def blob_file(tmp_path_factory):
    """360 overlapping Gaussian blobs of 5 classes as an .npz: the killed child process then
    imports no scikit-learn (digits would), which is seconds per method."""
    global BLOBS
    rng = np.random.default_rng(0)
    labels = np.arange(450) % 5
    x = rng.normal(0, 1.5, (5, 16))[labels] + rng.normal(0, 1, (450, 16))
    BLOBS = tmp_path_factory.mktemp("blobs") / "blobs.npz"
    np.savez(BLOBS, x=x[:360].astype(np.float32), y=labels[:360], x_test=x[360:].astype(np.float32),
             y_test=labels[360:])


BLOBS = None  # set by blob_file


def config_for(method: str, out) -> Config:
    return Config.from_dict({
        "data": {"name": "arrays", "path": str(BLOBS)},
        "noise": {"type": "symmetric", "rate": 0.3},
        "model": {"name": "mlp", "options": {"hidden_sizes": [32]}},
        "method": {"name": method, "options": METHOD_OPTIONS.get(method, {})},
        "optim": {"epochs": EPOCHS, "batch_size": 32, "lr": 0.05},
        "run": {"out": str(out), "progress": False, "device": "cpu", "plots": False, "seed": 3},
    })


def without_times(metrics: dict) -> dict:
    epochs = [{k: v for k, v in row.items() if k != "time" and not k.endswith("_time")} for row in metrics["epochs"]]
    return {**{k: v for k, v in metrics.items() if k not in ("total_time", "epochs")}, "epochs": epochs}


@pytest.mark.parametrize("method", METHODS.names())
def test_a_killed_run_resumes_to_the_uninterrupted_result(method, tmp_path):
    assert_resumes_exactly(lambda out: config_for(method, out), method, tmp_path)


@pytest.mark.parametrize("method", ["rsl", "dividemix"])
def test_a_killed_streaming_run_with_memmapped_stats_resumes_exactly(method, tmp_path):
    folder = tmp_path / "data"  # blobs as .npy files, read by worker processes
    folder.mkdir()
    rng = np.random.default_rng(0)
    labels = np.arange(360) % 4
    np.save(folder / "x.npy", (rng.normal(0, 2, (4, 16))[labels] + rng.normal(0, 1, (360, 16))).astype(np.float32))
    np.save(folder / "y.npy", labels)

    def config(out):
        return config_for(method, out).replace(data={"name": "arrays", "path": str(folder), "subset": None,
                                                     "streaming": True, "workers": 1}, run={"stats_memmap": True})

    assert_resumes_exactly(config, method, tmp_path)
    assert (tmp_path / "killed" / "stats_memmap" / "loss.npy").is_file()


def assert_resumes_exactly(config_at, method: str, tmp_path) -> None:
    """A run killed in epoch KILL_EPOCH and resumed ends where an uninterrupted one ends."""
    whole = Trainer(config_at(tmp_path / "whole"))
    expected = whole.fit()

    config = config_at(tmp_path / "killed")
    child = subprocess.run([sys.executable, "-c", KILLED_RUN, json.dumps(config.to_dict()), str(KILL_EPOCH), *LOADED],
                           capture_output=True, text=True, timeout=300)
    assert child.returncode == -9, child.stderr  # SIGKILL, not a crash
    assert json.loads((tmp_path / "killed" / "metrics.json").read_text())["status"] == "running"

    resumed = Trainer.resume(tmp_path / "killed")
    assert resumed.epoch == KILL_EPOCH
    result = resumed.fit()

    # compared as JSON text: NaN entries (epochs that record nothing) compare equal there
    assert json.dumps(without_times(result)) == json.dumps(without_times(expected))
    for a, b in zip(resumed.models, whole.models):
        for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
            assert torch.equal(x, y), f"{method}: weights {name} differ after resume"
    saved, reference = (torch.load(folder / "stats.pt") for folder in (tmp_path / "killed", tmp_path / "whole"))
    for key in ("loss", "margin", "prediction"):
        assert torch.equal(saved[key].nan_to_num(-1), reference[key].nan_to_num(-1)), f"{method}: stats {key}"
    assert saved["values"].keys() == reference["values"].keys()
    for key in saved["values"]:
        assert torch.equal(saved["values"][key].nan_to_num(-1), reference["values"][key].nan_to_num(-1)), key
    assert (tmp_path / "killed" / "samples.csv").read_text() == (tmp_path / "whole" / "samples.csv").read_text()


def test_resume_errors_say_what_is_wrong(tmp_path):
    with pytest.raises(NoisyLabelsError, match="does not exist"):
        Trainer.resume(tmp_path)
    config = config_for("ce", tmp_path / "run").replace(optim={"epochs": 1})
    Trainer(config).fit()
    checkpoint = tmp_path / "run" / "checkpoint.pt"
    data = checkpoint.read_bytes()
    checkpoint.write_bytes(data[: len(data) // 2])  # truncated, as by a full disk
    with pytest.raises(NoisyLabelsError, match="corrupt or truncated"):
        Trainer.resume(tmp_path / "run")
    checkpoint.write_bytes(b"not a checkpoint at all")
    with pytest.raises(NoisyLabelsError, match="corrupt or truncated"):
        Trainer.resume(tmp_path / "run")
    torch.save({"weights": 1}, checkpoint)
    with pytest.raises(NoisyLabelsError, match="not a noisylabels checkpoint"):
        Trainer.resume(tmp_path / "run")


def test_a_kill_during_a_checkpoint_write_leaves_the_previous_one(tmp_path, monkeypatch):
    config = config_for("ce", tmp_path / "run").replace(optim={"epochs": 2})
    trainer = Trainer(config)
    saves, real_save = [], torch.save

    def save_then_die(obj, path):  # the second epoch's checkpoint write dies half-way
        saves.append(path)
        if len(saves) == 2:
            path.write_bytes(b"half")
            raise KeyboardInterrupt
        real_save(obj, path)

    monkeypatch.setattr(torch, "save", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        trainer.fit()
    monkeypatch.undo()
    resumed = Trainer.resume(tmp_path / "run")
    assert resumed.epoch == 1  # the first epoch's checkpoint survived intact
    assert resumed.fit()["status"] == "complete"
    assert not any(p.name.endswith(".tmp") for p in (tmp_path / "run").iterdir())


def test_cli_resume(tmp_path, capsys, interrupt_in_epoch):
    from noisylabels.cli import main

    config = config_for("ce", tmp_path / "run").replace(optim={"epochs": 2})
    trainer = Trainer(config)
    interrupt_in_epoch(trainer, 1)  # Ctrl-C half-way through the second epoch
    with pytest.raises(KeyboardInterrupt):
        trainer.fit()
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["status"] == "interrupted"
    assert main(["train", "--resume", str(tmp_path / "run")]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["status"] == "complete" and len(metrics["epochs"]) == 2
    (tmp_path / "run" / "checkpoint.pt").write_bytes(b"\x00" * 10)
    capsys.readouterr()
    assert main(["train", "--resume", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("noisylabels: error: cannot resume") and "corrupt" in err and "\n" not in err

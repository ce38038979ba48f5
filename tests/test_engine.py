import csv
import json
from pathlib import Path

import pytest
import torch

from noisylabels import NoisyLabelsError, Trainer


def test_fit_writes_a_complete_run_folder(tiny_config, tiny_splits):
    config = tiny_config.replace(noise={"type": "symmetric", "rate": 0.4}, optim={"epochs": 6}, run={"plots": True})
    trainer = Trainer(config, tiny_splits)
    metrics = trainer.fit()
    out = trainer.out
    assert {p.name for p in out.iterdir()} == {"config.yaml", "noise.json", "metrics.json", "checkpoint.pt",
                                               "samples.csv", "stats.pt", "loss_histograms.png"}
    saved = json.loads((out / "metrics.json").read_text())
    assert saved == json.loads(json.dumps(metrics)) and saved["status"] == "complete"
    assert len(saved["epochs"]) == 6 and saved["last_test_acc"] == saved["epochs"][-1]["test_acc"]
    assert saved["best_test_acc"] == max(e["test_acc"] for e in saved["epochs"])  # the oracle
    # By default 10% of the training pool is a validation split with the noisy labels; it selects the epoch.
    n = saved["num_train"]
    assert saved["num_val"] + n == 240 and abs(saved["num_val"] - 24) <= 2
    vals = [e["val_acc"] for e in saved["epochs"]]
    assert saved["selected_epoch"] == vals.index(max(vals)) + 1 and saved["best_val_acc"] == max(vals)
    assert saved["selected_test_acc"] == saved["epochs"][saved["selected_epoch"] - 1]["test_acc"]
    assert saved["selection_rule"] == "best noisy-validation accuracy" and "val_clean_acc" in saved["epochs"][0]
    # Clean test data stays learnable under 40% symmetric noise on separable blobs.
    assert saved["best_test_acc"] > 0.8
    for key in ("train_loss", "train_acc", "time", "train_time", "lr", "clean_loss", "noisy_loss", "memorized"):
        assert key in saved["epochs"][0]
    # Mislabeled samples have the larger loss once the model fits the clean majority.
    assert saved["epochs"][-1]["noisy_loss"] > saved["epochs"][-1]["clean_loss"]
    noise = json.loads((out / "noise.json").read_text())
    assert abs(noise["actual_rate"] - 0.4) < 0.12
    rows = list(csv.DictReader(open(out / "samples.csv")))
    assert len(rows) == n and {"index", "label", "true_label", "mean_loss", "last_loss",
                                 "mean_margin", "prediction"} <= set(rows[0])
    assert sum(r["label"] != r["true_label"] for r in rows) == round(noise["actual_rate"] * n)


def test_same_seed_same_run(tiny_config, tiny_splits, tmp_path):
    runs = [Trainer(tiny_config.replace(run={"out": str(tmp_path / f"r{i}")}), tiny_splits) for i in range(2)]
    first, second = (r.fit() for r in runs)
    assert [e["train_loss"] for e in first["epochs"]] == [e["train_loss"] for e in second["epochs"]]
    assert torch.equal(runs[0].stats.loss, runs[1].stats.loss)


def test_eval_recording_matches_a_fresh_forward_pass(tiny_config, tiny_splits):
    trainer = Trainer(tiny_config.replace(run={"record": "eval"}), tiny_splits)
    trainer.fit()
    model = trainer.models[0].eval()
    with torch.no_grad():
        expected = torch.nn.functional.cross_entropy(model(trainer.train_x), trainer.train_y, reduction="none")
    assert torch.allclose(trainer.stats.loss[-1], expected, atol=1e-5)


def test_validation_split_is_reported(tiny_config, tiny_splits):
    config = tiny_config.replace(data={"val_fraction": 0.25}, noise={"type": "pair", "rate": 0.3})
    metrics = Trainer(config, tiny_splits).fit()
    assert metrics["num_val"] + metrics["num_train"] == 240 and abs(metrics["num_val"] - 60) <= 2
    assert 0 <= metrics["epochs"][0]["val_acc"] <= 1 and 0 <= metrics["epochs"][0]["val_clean_acc"] <= 1
    keys = ["selected_epoch", "selected_test_acc", "best_val_acc", "selection_rule", "last_test_acc",
            "best_test_acc", "best_epoch"]
    assert [k for k in metrics if k in keys] == keys  # selected and last before the oracle


def test_without_a_validation_split_nothing_is_selected(tiny_config, tiny_splits):
    metrics = Trainer(tiny_config.replace(data={"val_fraction": 0}), tiny_splits).fit()
    assert metrics["num_val"] == 0 and metrics["num_train"] == 240 and "val_acc" not in metrics["epochs"][0]
    assert metrics["selected_epoch"] is metrics["selected_test_acc"] is metrics["selection_rule"] is None
    assert metrics["best_test_acc"] is not None


def test_clean_labels_are_selected_on_plain_validation_accuracy(tiny_config, tiny_splits):
    metrics = Trainer(tiny_config, tiny_splits).fit()  # noise none: the user's labels as they are
    assert metrics["selection_rule"] == "best validation accuracy" and metrics["selected_epoch"] in (1, 2)


def test_existing_run_folder_needs_overwrite(tiny_config, tiny_splits):
    Trainer(tiny_config, tiny_splits).fit()
    with pytest.raises(NoisyLabelsError, match="already exists"):
        Trainer(tiny_config, tiny_splits)
    Trainer(tiny_config.replace(run={"overwrite": True}), tiny_splits).fit()


def test_a_crash_is_recorded_as_failed_not_complete(tiny_config, tiny_splits):
    trainer = Trainer(tiny_config, tiny_splits)

    def broken(*_):
        raise RuntimeError("boom")

    trainer.method.on_epoch_end = broken
    with pytest.raises(RuntimeError, match="boom"):
        trainer.fit()
    metrics = json.loads((trainer.out / "metrics.json").read_text())
    assert metrics["status"] == "failed" and "boom" in metrics["error"]
    assert not (trainer.out / "samples.csv").exists()


def test_bad_input_leaves_no_run_folder(tiny_config, tiny_splits):
    with pytest.raises(NoisyLabelsError, match="unknown method 'magic'"):
        Trainer(tiny_config.replace(method={"name": "magic"}), tiny_splits)
    assert not (tiny_config.run.out and __import__("pathlib").Path(tiny_config.run.out).exists())


def test_devices():
    from noisylabels.engine import resolve_device

    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(NoisyLabelsError, match="unknown device 'tpu'"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(NoisyLabelsError, match="not available on this machine"):
            resolve_device("cuda")


def test_checkpoint_restores_the_model(tiny_config, tiny_splits):
    trainer = Trainer(tiny_config, tiny_splits)
    trainer.fit()
    state = torch.load(trainer.out / "checkpoint.pt", weights_only=False)
    assert state["epoch"] == 1 and len(state["history"]) == 2 and state["config"] == tiny_config.to_dict()
    fresh = Trainer(tiny_config.replace(run={"overwrite": True}), tiny_splits)
    fresh.models[0].load_state_dict(state["models"][0])
    assert fresh.evaluate(fresh.data.test) == trainer.evaluate(trainer.data.test)
    assert torch.equal(state["stats"]["loss"].nan_to_num(), trainer.stats.loss.nan_to_num())


def test_image_data_runs_channels_last(tiny_config, make_blobs):
    from noisylabels import Splits

    splits = Splits(make_blobs(120, dim=8, image=True), make_blobs(30, dim=8, seed=1, image=True))
    trainer = Trainer(tiny_config.replace(model={"name": "cnn", "options": {}}), splits)
    assert trainer.train_x.is_contiguous(memory_format=torch.channels_last)
    assert trainer.fit()["status"] == "complete"


def test_tensorboard_logs_every_epoch_metric(tiny_config, tiny_splits):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    config = tiny_config.replace(run={"tensorboard": True}, noise={"type": "symmetric", "rate": 0.2})
    trainer = Trainer(config, tiny_splits)
    metrics = trainer.fit()
    events = EventAccumulator(str(trainer.out / "tensorboard"))
    events.Reload()
    tags = events.Tags()["scalars"]
    assert {"test/acc", "train/loss", "clean/loss", "noisy/loss", "lr"} <= set(tags)
    logged = events.Scalars("test/acc")
    assert [e.step for e in logged] == [row["epoch"] for row in metrics["epochs"]]
    assert [e.value for e in logged] == pytest.approx([row["test_acc"] for row in metrics["epochs"]])


def test_tensorboard_without_the_package_is_a_clear_error(tiny_config, tiny_splits, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if not installed
    with pytest.raises(NoisyLabelsError, match="pip install tensorboard"):
        Trainer(tiny_config.replace(run={"tensorboard": True}), tiny_splits)
    assert not Path(tiny_config.run.out).exists()

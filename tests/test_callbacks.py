"""Outputs are callbacks: they see the loop's events in order, write the run folder, and never
change training; a run without outputs trains exactly as one with them."""
import json

import pytest
import torch

from noisylabels import Trainer
from noisylabels.callbacks import (Callback, Checkpointer, MetricsWriter, PlotsWriter, RunFolder, SamplesWriter,
                                   TensorBoardLogger, default_callbacks)


class Events(Callback):
    def __init__(self):
        self.seen = []

    def on_fit_start(self, trainer):
        self.seen.append("fit_start")

    def on_epoch_start(self, trainer, epoch):
        self.seen.append(f"epoch_start {epoch}")

    def after_step(self, trainer):
        if self.seen[-1] != "step":
            self.seen.append("step")

    def on_epoch_end(self, trainer, epoch, row):
        assert row is trainer.history[-1] and row["epoch"] == epoch + 1
        self.seen.append(f"epoch_end {epoch}")

    def on_fit_end(self, trainer):
        self.seen.append("fit_end")

    def on_fit_failed(self, trainer, status, error):
        self.seen.append(f"failed {status}")

    def teardown(self, trainer):
        self.seen.append("teardown")


def test_a_callback_sees_every_event_in_order(tiny_config, tiny_splits):
    events = Events()
    Trainer(tiny_config, tiny_splits, callbacks=[events]).fit()
    assert events.seen == ["fit_start", "epoch_start 0", "step", "epoch_end 0", "epoch_start 1", "step",
                           "epoch_end 1", "fit_end", "teardown"]


def test_a_failing_run_reports_failed_to_callbacks_and_in_metrics(tiny_config, tiny_splits):
    class Boom(Callback):
        def on_epoch_end(self, trainer, epoch, row):
            raise RuntimeError("boom")

    events = Events()
    trainer = Trainer(tiny_config, tiny_splits, callbacks=[Boom(), events])
    with pytest.raises(RuntimeError, match="boom"):
        trainer.fit()
    assert events.seen[-2:] == ["failed failed", "teardown"]
    metrics = json.loads((trainer.out / "metrics.json").read_text())
    assert metrics["status"] == "failed" and "boom" in metrics["error"]


def test_the_default_outputs_follow_the_run_config(tiny_config):
    kinds = [type(c) for c in default_callbacks(tiny_config.run)]  # plots off in the fixture
    assert kinds[0] is RunFolder and kinds[-1] is MetricsWriter  # metrics.json last: "complete" means done
    assert Checkpointer in kinds and SamplesWriter in kinds and PlotsWriter not in kinds
    quiet = tiny_config.replace(run={"checkpoint": False, "progress": False})
    assert Checkpointer not in [type(c) for c in default_callbacks(quiet.run)]
    with_tb = tiny_config.replace(run={"tensorboard": True})
    assert TensorBoardLogger in [type(c) for c in default_callbacks(with_tb.run)]


def test_outputs_never_change_training(tiny_config, tiny_splits, tmp_path):
    """The same run with every output and with none ends with the same weights and statistics."""
    full = Trainer(tiny_config.replace(run={"plots": True, "out": str(tmp_path / "a")}), tiny_splits)
    full.fit()
    bare = Trainer(tiny_config.replace(run={"out": str(tmp_path / "b")}), tiny_splits)
    bare.callbacks = []  # no outputs at all: nothing is written
    bare.fit()
    assert not (tmp_path / "b").exists()
    for p, q in zip(full.models[0].parameters(), bare.models[0].parameters()):
        assert torch.equal(p, q)
    assert torch.equal(full.stats.loss, bare.stats.loss)
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert {"config.yaml", "noise.json", "metrics.json", "checkpoint.pt", "samples.csv", "stats.pt"} <= set(names)


def test_metrics_record_the_method_metadata(tiny_config, tiny_splits):
    metrics = Trainer(tiny_config.replace(method={"name": "dividemix", "options": {"warmup": 1}}), tiny_splits).fit()
    info = metrics["method_info"]
    assert info["selects"] and info["rate_option"] == "lambda_u"
    assert info["quality"]["value"] == "clean_prob" and info["quality"]["higher_is_cleaner"]

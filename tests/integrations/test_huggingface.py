"""LabelNoiseCallback in a transformers.Trainer fit: planted errors flagged, the index column kept
away from the model, evaluation, checkpoints and resuming, one-line errors."""
import importlib
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import datasets
import numpy as np
import pytest
import torch
from transformers import Trainer, TrainingArguments
from transformers.modeling_outputs import SequenceClassifierOutput

from noisylabels import detection_metrics
from noisylabels.errors import NoisyLabelsError
from noisylabels.integrations.huggingface import LabelNoiseCallback

ROOT = Path(__file__).resolve().parents[2]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def arguments(tmp_path, **overrides) -> TrainingArguments:
    options = dict(output_dir=str(tmp_path / "out"), num_train_epochs=1, per_device_train_batch_size=16,
                   learning_rate=0.05, seed=0, use_cpu=True, report_to=[], save_strategy="no",
                   logging_strategy="no", disable_tqdm=True, remove_unused_columns=False)
    return TrainingArguments(**{**options, **overrides})


class StrictModel(torch.nn.Module):
    """A forward that takes exactly ``features`` and ``labels``: any other keyword is a TypeError."""

    def __init__(self, dim: int = 6, num_classes: int = 3):
        super().__init__()
        self.layer = torch.nn.Linear(dim, num_classes)
        self.seen = set()

    def forward(self, features, labels=None):
        self.seen.add(("features",) + (("labels",) if labels is not None else ()))
        logits = self.layer(features)
        loss = None if labels is None else torch.nn.functional.cross_entropy(logits, labels)
        return SequenceClassifierOutput(loss=loss, logits=logits)


def blobs(n: int, seed: int = 0, start: int = 0, index: bool = True):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    centers = np.random.default_rng(100).normal(0, 3, (3, 6))
    columns = {"features": (centers[labels] + rng.normal(0, 1, (n, 6))).astype(np.float32), "labels": labels}
    if index:
        columns["idx"] = np.arange(start, start + n)
    return datasets.Dataset.from_dict(columns).with_format("torch")


def fit(tmp_path, train_set, callback, eval_set=None, model=None, resume=None, **overrides):
    torch.manual_seed(0)
    model = model or StrictModel()
    trainer = Trainer(model=model, args=arguments(tmp_path, **overrides), train_dataset=train_set,
                      eval_dataset=eval_set, callbacks=[callback])
    trainer.train(resume_from_checkpoint=resume)
    return trainer, model


# ---------------------------------------------------------------------- a tiny transformers model
@pytest.fixture(scope="module")
def digits_fit(tmp_path_factory):
    """A tiny ResNet from its config on 900 digits with 20% of the labels flipped, 3 epochs, an
    evaluation set (with an index column) after every epoch."""
    from sklearn.datasets import load_digits
    from transformers import ResNetConfig, ResNetForImageClassification

    digits = load_digits()
    images, truth = (digits.images / 16.0).astype(np.float32)[:, None], digits.target
    n = 900
    rng = np.random.default_rng(1)
    labels = truth[:n].copy()
    flip = rng.permutation(n)[:n // 5]
    labels[flip] = (labels[flip] + rng.integers(1, 10, len(flip))) % 10
    train_set = datasets.Dataset.from_dict({"pixel_values": images[:n], "labels": labels,
                                            "idx": np.arange(n)}).with_format("torch")
    # eval indices outside [0, n): recording an eval batch would fail Recorder's index check
    eval_set = datasets.Dataset.from_dict({"pixel_values": images[n:1100], "labels": truth[n:1100],
                                           "idx": np.arange(n, 1100)}).with_format("torch")
    torch.manual_seed(0)
    model = ResNetForImageClassification(ResNetConfig(
        num_channels=1, embedding_size=16, hidden_sizes=[16, 32], depths=[1, 1], layer_type="basic",
        downsample_in_first_stage=False, num_labels=10))
    callback = LabelNoiseCallback()
    tmp_path = tmp_path_factory.mktemp("digits")
    trainer, _ = fit(tmp_path, train_set, callback, eval_set, model=model, num_train_epochs=3,
                     per_device_train_batch_size=32, learning_rate=1e-2, eval_strategy="epoch")
    return trainer, model, callback, labels, truth[:n]


def test_tiny_transformers_model_flags_the_planted_errors(digits_fit):
    _, _, callback, labels, truth = digits_fit
    mask = callback.find_label_issues()
    metrics = detection_metrics(mask, labels, truth)
    # measured 0.842 / 0.950 (CPU, seed 0); chance precision is 0.2
    assert metrics["precision"] > 0.65 and metrics["recall"] > 0.85, metrics
    assert callback.recorder.num_epochs == 3 and callback.num_classes == 10
    order, quality = callback.rank_label_issues("aum"), callback.label_quality_scores("aum")
    assert sorted(order.tolist()) == list(range(900)) and not np.isnan(quality).any()
    top = order[:100]
    assert (labels[top] != truth[top]).mean() > 0.8
    assert (callback.recorder.labels == labels).all()  # the given labels, as passed to the forward


def test_evaluation_with_the_index_column_is_not_recorded_and_hooks_go(digits_fit):
    trainer, model, _, _, _ = digits_fit
    evals = [log for log in trainer.state.log_history if "eval_loss" in log]
    assert len(evals) == 3
    assert not model._forward_pre_hooks and not model._forward_hooks  # removed when training ended


def test_example_script_runs_and_flags_the_planted_errors():
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "huggingface_digits.py")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {m[0]: (int(m[1]), float(m[2]), float(m[3]))
            for m in re.findall(r"^(\w+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+[\d.]+$", result.stdout, re.M)}
    assert set(rows) == {"classwise_loss", "aum", "confidence"}, result.stdout
    _, precision, recall = rows["classwise_loss"]
    assert precision > 0.7 and recall > 0.9, result.stdout  # measured 0.888 / 0.993; chance precision 0.2
    assert float(re.search(r"held-out accuracy ([\d.]+)", result.stdout)[1]) > 0.8  # measured 0.933
    suspects = re.findall(r"^\s+(\d+)\s+(\d)\s+(\d)\s+[\d.]+\s+[\d.]+$", result.stdout, re.M)
    assert len(suspects) == 12 and sum(given != true for _, given, true in suspects) >= 10


# ---------------------------------------------------------------------- the index column
def test_index_column_never_reaches_the_model_and_eval_works(tmp_path):
    callback = LabelNoiseCallback()
    trainer, model = fit(tmp_path, blobs(96), callback, eval_set=blobs(30, seed=1, start=96), num_train_epochs=2,
                         eval_strategy="epoch")
    assert model.seen == {("features", "labels")}
    assert callback.recorder.num_epochs == 2 and callback.num_samples == 96 and callback.num_classes == 3
    assert len([log for log in trainer.state.log_history if "eval_loss" in log]) == 2
    assert not np.isnan(callback.label_quality_scores()).any()


def test_custom_index_column_name_and_a_forward_that_takes_it(tmp_path):
    class TakesIndex(StrictModel):
        def forward(self, features, labels=None, sample_id=None):
            assert sample_id is not None or not self.training
            return super().forward(features, labels)

    train_set = blobs(48).rename_column("idx", "sample_id")
    callback = LabelNoiseCallback(index_column="sample_id")
    # the forward takes the column, so the Trainer keeps it even with remove_unused_columns=True
    fit(tmp_path, train_set, callback, model=TakesIndex(), remove_unused_columns=True)
    assert callback.recorder.num_epochs == 1 and not np.isnan(callback.label_quality_scores()).any()


def test_labels_taken_out_by_label_smoothing_come_from_the_training_set(tmp_path):
    model = StrictModel()
    model.config = SimpleNamespace(problem_type=None)  # the Trainer reads it when label smoothing
    callback = LabelNoiseCallback()
    fit(tmp_path, blobs(48), callback, model=model, label_smoothing_factor=0.1)
    assert model.seen == {("features",)}  # the Trainer took the labels out of the forward
    assert (callback.recorder.labels == np.arange(48) % 3).all()


def test_memmapped_histories_are_sized_by_the_trainers_epochs(tmp_path):
    callback = LabelNoiseCallback(memmap_dir=tmp_path / "dyn")
    fit(tmp_path, blobs(48), callback, num_train_epochs=2)
    assert callback.recorder.max_epochs == 2 and (tmp_path / "dyn" / "loss.npy").is_file()
    assert callback.recorder.num_epochs == 2


# ---------------------------------------------------------------------- checkpoints
def test_records_resume_from_a_checkpoint_as_if_uninterrupted(tmp_path):
    whole = LabelNoiseCallback()
    fit(tmp_path, blobs(96), whole, num_train_epochs=2, save_strategy="epoch")
    checkpoints = sorted((tmp_path / "out").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    assert len(checkpoints) == 2 and all((c / "noisylabels_records.pt").is_file() for c in checkpoints)

    resumed = LabelNoiseCallback()
    fit(tmp_path, blobs(96), resumed, num_train_epochs=2, save_strategy="no", resume=str(checkpoints[0]))
    assert resumed.recorder.num_epochs == 2
    for name in ("loss", "margin", "p_given", "correct"):
        np.testing.assert_array_equal(resumed.recorder.history(name), whole.recorder.history(name))  # exact on CPU

    (checkpoints[0] / "noisylabels_records.pt").unlink()
    with pytest.warns(UserWarning, match="earlier epochs are missing"):
        fit(tmp_path, blobs(96), LabelNoiseCallback(), num_train_epochs=2, resume=str(checkpoints[0]))


# ---------------------------------------------------------------------- errors
def one_line(error) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def test_the_trainer_dropping_the_index_column_names_the_setting(tmp_path):
    with pytest.raises(NoisyLabelsError) as error:
        fit(tmp_path, blobs(48), LabelNoiseCallback(), remove_unused_columns=True)
    assert "remove_unused_columns=False" in one_line(error)


def test_a_training_set_without_the_index_column_names_the_fix(tmp_path):
    with pytest.raises(NoisyLabelsError) as error:
        fit(tmp_path, blobs(48, index=False), LabelNoiseCallback())
    assert "add_column('idx'" in one_line(error)


def test_batches_without_the_index_fail_at_the_first_forward(tmp_path):
    class Plain(torch.utils.data.Dataset):  # not a datasets.Dataset: no columns to check up front
        def __len__(self):
            return 32

        def __getitem__(self, i):
            return {"features": torch.randn(6), "labels": i % 3}

    with pytest.raises(NoisyLabelsError) as error:
        fit(tmp_path, Plain(), LabelNoiseCallback())
    assert "carry no 'idx' column" in one_line(error)


def test_label_issues_before_training_fail():
    callback = LabelNoiseCallback()
    for ask in (callback.find_label_issues, callback.rank_label_issues, callback.label_quality_scores):
        with pytest.raises(NoisyLabelsError, match="call trainer.train"):
            ask()


def test_missing_transformers_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)  # import transformers now fails
    monkeypatch.delitem(sys.modules, "noisylabels.integrations.huggingface")
    with pytest.raises(NoisyLabelsError) as error:
        importlib.import_module("noisylabels.integrations.huggingface")
    assert "pip install 'noisylabels[huggingface]'" in one_line(error)

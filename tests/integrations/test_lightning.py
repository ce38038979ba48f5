"""LabelNoiseCallback inside a Lightning fit: planted errors found, DDP merged, checkpoints resumed."""
import importlib
import importlib.util
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import lightning
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.utils.data import DataLoader, TensorDataset

from noisylabels import detection_metrics
from noisylabels.errors import NoisyLabelsError
from noisylabels.integrations.lightning import LabelNoiseCallback

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "lightning_digits.py"
METRICS = re.compile(r"flagged (\d+)\s+precision ([\d.]+)\s+recall ([\d.]+)")
# measured on CPU: 2 epochs, 20% flipped: precision 0.85 / recall 0.98 (one process), 0.90 / 0.98 (DDP)
MIN_PRECISION, MIN_RECALL = 0.7, 0.85
DDP_TEST = "test_ddp_two_processes_merge_every_sample"
pytestmark = [pytest.mark.filterwarnings("ignore:.*LeafSpec"),  # Lightning's use of a torch API this torch deprecates
              pytest.mark.filterwarnings("ignore:You defined a `validation_step` but have no `val_dataloader`"),
              pytest.mark.filterwarnings("ignore:The dirpath has changed")]


def load_example():
    spec = importlib.util.spec_from_file_location("lightning_digits", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ex = load_example()


@pytest.fixture(scope="module", autouse=True)
def ddp_run(request, tmp_path_factory):
    """The example under DDP on 2 CPU processes, started before the other tests so that its start-up
    (mostly imports) overlaps them. Lightning's ddp re-launches the running script for rank 1: it
    must run in a subprocess, never in pytest itself. None when the DDP test is not selected."""
    if not any(item.name == DDP_TEST for item in request.session.items):
        yield None
        return
    folder = tmp_path_factory.mktemp("ddp")
    with open(folder / "stdout", "w") as stdout, open(folder / "stderr", "w") as stderr:
        process = subprocess.Popen([sys.executable, str(EXAMPLE), "--devices", "2", "--strategy", "ddp",
                                    "--save", str(folder / "ddp.npz")], stdout=stdout, stderr=stderr, cwd=folder,
                                   start_new_session=True)
    yield process, folder
    if process.poll() is None:  # the test failed or timed out: end both ranks
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture(scope="module")
def digits():
    return ex.planted_digits(0.2, seed=0)


def trainer(epochs: int, callbacks, **options) -> lightning.Trainer:
    return ex.make_trainer(ex.parse_args(["--epochs", str(epochs)]), callbacks, **options)


def test_two_epoch_fit_flags_the_planted_errors(tmp_path, capsys):
    ex.main(["--save", str(tmp_path / "run.npz")])  # the example itself, in this process (one device)
    printed = METRICS.search(capsys.readouterr().out)
    assert printed, "the example printed no 'flagged N  precision P  recall R' line"
    run = np.load(tmp_path / "run.npz")
    m = detection_metrics(run["flagged"], run["labels"], run["true_labels"])
    assert (int(printed[1]), float(printed[2]), float(printed[3])) == (m["flagged"], round(m["precision"], 3),
                                                                        round(m["recall"], 3))
    assert m["precision"] > MIN_PRECISION and m["recall"] > MIN_RECALL, m
    assert not np.isnan(run["scores"]).any() and sorted(run["order"]) == list(range(len(run["labels"])))


def test_ddp_two_processes_merge_every_sample(ddp_run):
    process, folder = ddp_run
    returncode = process.wait(timeout=300)
    stdout, stderr = (folder / "stdout").read_text(), (folder / "stderr").read_text()
    assert returncode == 0, stderr[-3000:]
    printed = METRICS.search(stdout)
    assert printed and "2 process(es)" in stdout, stdout
    assert float(printed[2]) > MIN_PRECISION and float(printed[3]) > MIN_RECALL, stdout
    rank0, rank1 = np.load(folder / "ddp.npz"), np.load(folder / "ddp.rank1.npz")
    n = len(rank0["labels"])
    assert rank0["scores"].shape == rank0["flagged"].shape == (n,)
    assert not np.isnan(rank0["scores"]).any(), "some training samples were recorded on no rank"
    for key in ("scores", "flagged", "order"):  # every rank holds the merged records
        np.testing.assert_array_equal(rank0[key], rank1[key])
    m = detection_metrics(rank0["flagged"], rank0["labels"], rank0["true_labels"])
    assert m["precision"] > MIN_PRECISION and m["recall"] > MIN_RECALL, m


def test_resume_from_a_checkpoint_continues_the_records(tmp_path, digits):
    x, labels, _, x_test, y_test = digits
    train_loader, val_loader = ex.loaders(x, labels, x_test, y_test)
    lightning.seed_everything(0, verbose=False)
    first = LabelNoiseCallback()
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True)
    trainer(1, [first, checkpoint], enable_checkpointing=True).fit(ex.DigitsMLP(), train_loader, val_loader)
    assert first.recorder.num_epochs == 1

    resumed = LabelNoiseCallback()
    trainer(2, [resumed, ModelCheckpoint(dirpath=tmp_path / "resumed")], enable_checkpointing=True).fit(
        ex.DigitsMLP(), train_loader, val_loader, ckpt_path=checkpoint.last_model_path)
    assert resumed.recorder.num_epochs == 2
    np.testing.assert_array_equal(resumed.recorder.history("loss")[0], first.recorder.history("loss")[0])
    assert not np.isnan(resumed.recorder.history("loss")).any()
    assert resumed.find_label_issues().shape == (len(labels),)


class SeveralForwards(ex.DigitsMLP):
    def training_step(self, batch, batch_idx):
        x, y, idx = batch
        logits = self(x)
        self(x[:1])  # a later forward of another batch size: not this batch's logits
        self.eval()
        self(torch.zeros_like(x))  # a later eval-mode forward: training-mode outputs come first
        self.train()
        return F.cross_entropy(logits, y)


class ReturnsLogits(ex.DigitsMLP):
    def training_step(self, batch, batch_idx):
        x, y, idx = batch
        logits = self.net(x)  # bypasses forward: only the returned logits can be recorded
        return {"loss": F.cross_entropy(logits, y), "logits": logits}


@pytest.mark.parametrize("module_class, options", [(SeveralForwards, {"accumulate_grad_batches": 2}),
                                                   (ReturnsLogits, {})])
def test_records_the_logits_of_each_training_batch(digits, module_class, options):
    x, labels, _, x_test, y_test = digits
    train_loader, val_loader = ex.loaders(x, labels, x_test, y_test)
    lightning.seed_everything(0, verbose=False)
    model, callback = module_class(lr=0.0), LabelNoiseCallback()  # lr 0: the logits stay those of the start
    trainer(1, [callback], **options).fit(model, train_loader, val_loader)  # validation's forwards: not recorded
    with torch.no_grad():
        expected = F.cross_entropy(model(x), torch.tensor(labels), reduction="none").numpy()
    np.testing.assert_allclose(callback.recorder.history("loss")[0], expected, rtol=2e-3, atol=2e-3)
    np.testing.assert_array_equal(callback.recorder.labels, labels)


class NoIndex(ex.DigitsMLP):
    def training_step(self, batch, batch_idx):
        x, y = batch
        return F.cross_entropy(self(x), y)


class NoLogits(ex.DigitsMLP):
    def training_step(self, batch, batch_idx):
        x, y, idx = batch
        return F.cross_entropy(self.net(x), y)


@pytest.mark.parametrize("module_class, wrap, match", [(NoIndex, False, "WithIndex"), (NoLogits, True, r"self\(x\)")])
def test_a_batch_it_cannot_record_is_a_one_line_error(digits, module_class, wrap, match):
    x, labels = digits[0][:64], digits[1][:64]
    dataset = TensorDataset(x, torch.tensor(labels))
    loader = DataLoader(ex.WithIndex(dataset) if wrap else dataset, batch_size=32)
    with pytest.raises(NoisyLabelsError, match=match) as error:
        trainer(1, [LabelNoiseCallback()]).fit(module_class(), loader)
    assert "\n" not in str(error.value)


def test_asking_before_fit_is_an_error():
    with pytest.raises(NoisyLabelsError, match="fit with the callback first"):
        LabelNoiseCallback().find_label_issues()


def test_only_the_lightning_module_imports_lightning():
    package = ROOT / "src" / "noisylabels"
    importing = [str(p.relative_to(package)) for p in package.rglob("*.py")
                 if re.search(r"^\s*(import|from)\s+(lightning|pytorch_lightning)\b", p.read_text(), re.M)]
    assert importing == ["integrations/lightning.py"]


def test_without_lightning_the_error_says_what_to_install(monkeypatch):
    for name in ("lightning", "lightning.pytorch"):
        monkeypatch.setitem(sys.modules, name, None)  # import of a None entry raises ImportError
    monkeypatch.delitem(sys.modules, "noisylabels.integrations.lightning")
    with pytest.raises(NoisyLabelsError, match=r"pip install 'noisylabels\[lightning\]'"):
        importlib.import_module("noisylabels.integrations.lightning")

"""adaptive_loss: the meta-gradient of a robust loss's hyperparameter against a slow reference, the
virtual step leaving the real model alone, the clean meta split, its errors and its report."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from noisylabels import LabeledData, NoisyLabelsError, Splits, Trainer
from noisylabels.losses import create_loss
from noisylabels.methods.meta_loss import EDGE, RAW_LIMIT, SCALE, UNIT, Range, loss_with, meta_gradient
from noisylabels.plugins import LOADED


def run(tiny_config, splits, epochs=2, noise=None, loss="ce", **options):
    config = tiny_config.replace(method={"name": "adaptive_loss", "options": options, "loss": loss},
                                 noise=noise or {"type": "symmetric", "rate": 0.3}, optim={"epochs": epochs})
    return Trainer(config, splits)


def batches(seed=0, n=12, dim=5, classes=3):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, dim, generator=gen, dtype=torch.float64)
    return x, torch.randint(0, classes, (n,), generator=gen)


# ---------------------------------------------------------------------- the meta-gradient
def reference_meta_loss(weight, bias, loss_of, lr, train, meta):
    """CE on the meta batch after one hand-written SGD step of a linear model (no functional_call)."""
    w, b = weight.clone().requires_grad_(True), bias.clone().requires_grad_(True)
    gw, gb = torch.autograd.grad(loss_of(train[0] @ w.T + b, train[1]), [w, b])
    return F.cross_entropy(meta[0] @ (w - lr * gw).T + (b - lr * gb), meta[1]).item()


def gce_by_hand(q):
    return lambda logits, y: ((1 - F.softmax(logits, 1)[torch.arange(len(y)), y] ** q) / q).mean()


def sce_by_hand(alpha, beta):
    def loss(logits, y):
        p_y = F.softmax(logits, 1)[torch.arange(len(y)), y]
        return (alpha * -p_y.log() + beta * -np.log(1e-4) * (1 - p_y)).mean()
    return loss


@pytest.mark.parametrize("name, ranges, by_hand, raw", [
    ("gce", {"q": UNIT}, lambda v: gce_by_hand(*v), [0.3]),
    ("sce", {"alpha": SCALE, "beta": SCALE}, lambda v: sce_by_hand(*v), [-2.0, 0.5]),
])
def test_the_meta_gradient_matches_finite_differences_of_a_hand_written_step(name, ranges, by_hand, raw):
    model = torch.nn.Linear(5, 3).double()
    train, meta, lr = batches(0), batches(1), 0.7
    raw = torch.tensor(raw, dtype=torch.float64, requires_grad=True)
    base = create_loss(name)

    def train_loss(logits, y):
        values = {k: r.value(raw[i]) for i, (k, r) in enumerate(ranges.items())}
        return loss_with(base, values)(logits, y).mean()

    grad, meta_loss = meta_gradient(model, train_loss, raw, lr, train, meta)

    def reference(raw_values):
        values = [r.value(torch.tensor(v, dtype=torch.float64)) for v, r in zip(raw_values, ranges.values())]
        return reference_meta_loss(model.weight.detach(), model.bias.detach(), by_hand(values), lr, train, meta)

    start = raw.detach().tolist()
    assert meta_loss.item() == pytest.approx(reference(start), rel=1e-10)
    h = 1e-5
    for i in range(len(start)):
        up, down = list(start), list(start)
        up[i] += h
        down[i] -= h
        numeric = (reference(up) - reference(down)) / (2 * h)
        assert grad[i].item() == pytest.approx(numeric, rel=1e-5, abs=1e-9)
    assert grad.abs().max() > 1e-6  # the hyperparameter really moves the meta loss


def test_the_virtual_step_leaves_the_real_model_alone():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(),
                                torch.nn.Linear(8, 3)).double()
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    raw = torch.tensor([0.0], dtype=torch.float64, requires_grad=True)
    gce = create_loss("gce")

    def train_loss(logits, y):
        return loss_with(gce, {"q": UNIT.value(raw[0])})(logits, y).mean()

    grad, _ = meta_gradient(model, train_loss, raw, 0.5, batches(0), batches(1))
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    for name, value in model.state_dict().items():  # weights and batch-norm running statistics
        assert torch.equal(value, before[name]), name
    assert all(p.grad is None for p in model.parameters())
    assert gce.q == 0.7  # the run's loss keeps its float


@pytest.mark.parametrize("name, values", [("gce", {"q": 0.3}), ("ngce", {"q": 0.5}),
                                          ("sce", {"alpha": 0.4, "beta": 2.0}), ("nce_rce", {"alpha": 3.0, "beta": 0.5})])
def test_a_loss_computes_with_tensor_hyperparameters_as_with_floats(name, values):
    logits, labels = torch.randn(16, 4, dtype=torch.float64), torch.randint(0, 4, (16,))
    tensors = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in values.items()}
    original = create_loss(name)
    result = loss_with(original, tensors)(logits, labels)
    assert torch.allclose(result, create_loss(name, **values)(logits, labels), rtol=1e-12)
    result.sum().backward()
    assert all(t.grad is not None for t in tensors.values())
    assert all(isinstance(getattr(original, k), float) for k in values)


def test_the_parametrisation_keeps_values_in_range_and_inverts():
    for r in (UNIT, SCALE, Range(1.0, 3.0)):
        extreme = r.value(torch.tensor([-1e4, -30.0, 0.0, 30.0, 1e4]))
        assert (extreme >= r.low).all() and (extreme <= r.high).all()
        middle = r.low + 0.3 * (r.high - r.low)
        assert r.value(torch.tensor(r.raw(middle), dtype=torch.float64)).item() == pytest.approx(middle)
        assert -RAW_LIMIT <= r.raw(r.low) < r.raw(r.high) <= RAW_LIMIT  # ends are pulled inside


# ---------------------------------------------------------------------- the method in a run
def test_meta_split_per_class_is_excluded_from_training(tiny_config, tiny_splits):
    trainer = run(tiny_config, tiny_splits, meta_per_class=5)
    method, seen = trainer.method, []
    step = method.training_step

    def spy(tr, batch):
        seen.append(batch.idx)
        return step(tr, batch)

    method.training_step = spy
    metrics = trainer.fit()
    meta = method.meta_idx
    assert torch.bincount(trainer.true_y[meta], minlength=3).tolist() == [5, 5, 5]
    assert torch.equal(method.meta_y, trainer.true_y[meta])  # labelled with the truth
    trained = torch.cat(seen)
    assert not torch.isin(trained, meta).any()
    assert len(trained.unique()) + len(meta) == len(trainer.train_y)  # everything else trains
    assert metrics["report"]["meta_samples"] == 15 and metrics["report"]["meta_source"] == "true labels"
    assert not torch.isnan(trainer.stats.loss[0]).any()  # meta samples recorded from an eval pass
    assert trainer.stats.values["meta_sample"][meta].eq(1).all()
    again = run(tiny_config.replace(run={"overwrite": True}), tiny_splits, meta_per_class=5).method
    assert torch.equal(again.meta_idx, meta)  # the same choice for the same seed


def test_the_real_step_trains_with_the_updated_hyperparameter(tiny_config, tiny_splits):
    trainer = run(tiny_config, tiny_splits, loss="gce", meta_lr=0.5)
    method = trainer.method
    method.on_epoch_start(trainer, 0)
    batch = next(iter(trainer.loader))
    before = method.values()["q"].item()
    out = method.training_step(trainer, batch)
    after = method.values()["q"].detach()
    assert after.item() != before
    with torch.no_grad():
        expected = create_loss("gce", q=after.item())(trainer.forward(0, batch.x), batch.y).mean()
    assert out.loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert torch.allclose(out.losses, create_loss("gce")(out.logits.detach(), batch.y))  # the run's loss


@pytest.mark.parametrize("loss, names, high", [("gce", ["q"], 1.0), ("sce", ["alpha", "beta"], 20.0)])
def test_the_trajectory_stays_in_range_and_is_in_metrics_json(loss, names, high, tiny_config, tiny_splits):
    # a huge meta learning rate drives the raw values far out: the values still stay in range
    trainer = run(tiny_config, tiny_splits, epochs=3, loss=loss, meta_lr=50.0, meta_optim="sgd")
    trainer.fit()
    metrics = json.loads((trainer.out / "metrics.json").read_text())
    report = metrics["report"]
    assert report["loss"] == loss and list(report["trajectory"]) == names
    for name in names:
        trajectory = report["trajectory"][name]
        assert trajectory == [row[f"learned_{name}"] for row in metrics["epochs"]]
        assert len(trajectory) == 3  # pushed to the ends at most, within EDGE (float32 rounding aside)
        assert all(EDGE * high * 0.999 <= v <= (1 - EDGE) * high * 1.000001 for v in trajectory), trajectory
        assert report["final"][name] == trajectory[-1]
    assert len(report["meta_loss"]) == 3 and all(np.isfinite(report["meta_loss"]))


def user_labels(splits):
    """The same training data as a user's labels: no truth known, no synthetic noise."""
    train = splits.train
    return Splits(LabeledData(train.x, train.labels, train.num_classes, name="blobs"), splits.test)


def test_a_meta_index_file_gives_the_meta_set(tiny_config, tiny_splits, tmp_path):
    path = tmp_path / "clean.npy"
    np.save(path, np.array([7, 3, 11, 40, 2]))
    config = tiny_config.replace(data={"val_fraction": 0})
    trainer = run(config, user_labels(tiny_splits), noise={"type": "none"}, meta_index=str(path))
    report = trainer.fit()["report"]
    assert trainer.method.meta_idx.tolist() == [2, 3, 7, 11, 40]
    assert torch.equal(trainer.method.meta_y, trainer.train_y[trainer.method.meta_idx])  # trusted as clean
    assert report["meta_source"] == "meta_index" and "meta_label_errors" not in report
    # with synthetic noise the truth counts the trusted labels that are wrong
    csv = tmp_path / "clean.csv"
    csv.write_text("\n".join(str(i) for i in range(30)) + "\n")
    trainer = run(config.replace(run={"overwrite": True}), tiny_splits, epochs=1, meta_index=str(csv))
    errors = int((trainer.train_y[:30] != trainer.true_y[:30]).sum())
    assert errors > 0 and trainer.fit()["report"]["meta_label_errors"] == errors


@pytest.mark.parametrize("options, loss, message", [
    ({}, "mae", "--loss mae has none it can learn"),
    ({}, "polysoft", "--loss polysoft has none it can learn"),
    ({}, "gce+sr", "--loss gce\\+sr has none it can learn"),
    ({"meta_per_class": 0}, "ce", "meta_per_class"),
    ({"meta_per_class": 1000}, "ce", "too few for meta_per_class=1000"),
    ({"meta_lr": -1.0}, "ce", "meta_lr"),
    ({"meta_optim": "rmsprop"}, "ce", "meta_optim"),
    ({"meta_per_class": 3, "meta_index": "x.npy"}, "ce", "meta_per_class or meta_index, not both"),
    ({"meta_index": "missing.npy"}, "ce", "not found"),
])
def test_bad_options_fail_before_training_with_one_line(options, loss, message, tiny_config, tiny_splits):
    with pytest.raises(NoisyLabelsError, match=message) as error:
        run(tiny_config, tiny_splits, loss=loss, **options)
    assert "\n" not in str(error.value)
    assert not (tiny_config.run.out and os.path.exists(tiny_config.run.out))  # no run folder left


@pytest.mark.parametrize("content, message", [
    (b"garbage, not an array", "could not read meta_index"),
    (np.array([1, 2, 5000]), "index 5000 is out of range"),
    (np.array([1, -1]), "index -1 is out of range"),
    (np.array([1.5, 2.0]), "whole-number"),
    (np.array([3, 3]), "more than once"),
    (np.array([], dtype=np.int64), "holds no indices"),
])
def test_bad_meta_index_files_are_named(content, message, tiny_config, tiny_splits, tmp_path):
    path = tmp_path / "meta.npy"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        np.save(path, content)
    with pytest.raises(NoisyLabelsError, match=message) as error:
        run(tiny_config, tiny_splits, meta_index=str(path))
    assert "\n" not in str(error.value)


def test_without_truth_or_file_it_asks_for_meta_index(tiny_config, tiny_splits):
    with pytest.raises(NoisyLabelsError, match="pass --method-arg meta_index=FILE"):
        run(tiny_config, user_labels(tiny_splits), noise={"type": "none"})


def test_two_processes_keep_the_same_hyperparameter(tmp_path):
    """torchrun, 2 gloo processes: the meta-gradient is averaged, so phi agrees (the method checks
    it every epoch and would fail the run otherwise)."""
    out = tmp_path / "run"
    args = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
            "-m", "noisylabels", "train", "--dataset", "digits", "--subset", "398", "--noise", "symmetric",
            "--noise-rate", "0.3", "--model", "mlp", "--model-arg", "hidden_sizes=[16]", "--method", "adaptive_loss",
            "--method-arg", "meta_lr=0.05", "--epochs", "2", "--batch-size", "64", "--device", "cpu",
            "--out", str(out), "--no-progress", "--set", "run.plots=false"]
    for source in LOADED:
        args += ["--plugin", source]
    result = subprocess.run(args, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "complete" and all(row["ddp_world_size"] == 2 for row in metrics["epochs"])
    trajectory = metrics["report"]["trajectory"]["q"]
    assert len(trajectory) == 2 and trajectory[0] != 0.7
    trained = metrics["num_train"] - metrics["report"]["meta_samples"]  # the ranks shard the rest
    assert all(row["ddp_recorded_once"] + row["ddp_recorded_several"] == trained for row in metrics["epochs"])
    assert not torch.isnan(torch.load(out / "stats.pt")["loss"][0]).any()  # meta samples too, on every rank

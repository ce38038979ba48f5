"""SELF: mean teacher, per-sample prediction average, rounds of filtering at the best validation epoch."""
import math

import pytest
import torch

from noisylabels import NoisyLabelsError, Trainer
from noisylabels.methods.self_ensemble import sigmoid_rampup


def make(tiny_config, tiny_splits, epochs=2, val_fraction=0.2, **options):
    config = tiny_config.replace(method={"name": "self_ensemble", "options": options}, optim={"epochs": epochs},
                                 noise={"type": "symmetric", "rate": 0.4}, data={"val_fraction": val_fraction},
                                 run={"overwrite": True})
    return Trainer(config, tiny_splits)


def test_the_consistency_ramp_is_the_mean_teachers_sigmoid():
    assert sigmoid_rampup(0, 10) == pytest.approx(math.exp(-5))
    assert sigmoid_rampup(5, 10) == pytest.approx(math.exp(-5 * 0.25))
    assert sigmoid_rampup(10, 10) == sigmoid_rampup(99, 10) == 1.0 == sigmoid_rampup(0, 0)


def test_a_step_averages_the_teachers_prediction_into_the_batch_rows(tiny_config, tiny_splits):
    trainer = make(tiny_config, tiny_splits, momentum=0.75, augment="noise")
    method = trainer.method
    batch = next(iter(trainer.loader))
    before = method.ensemble.clone()
    state = trainer.loader.generator.get_state()
    method.training_step(trainer, batch)
    trainer.loader.generator.set_state(state)
    method.augment(batch.x, trainer.loader.generator)  # the student's view, then the teacher's
    teacher = method.teacher.model(method.augment(batch.x, trainer.loader.generator)).softmax(1)
    assert torch.allclose(method.ensemble[batch.idx], 0.75 * before[batch.idx] + 0.25 * teacher, atol=1e-6)
    untouched = torch.ones(len(before), dtype=torch.bool)
    untouched[batch.idx] = False
    assert torch.equal(method.ensemble[untouched], before[untouched])


def test_a_round_ends_at_its_best_epoch_and_filters_by_the_average(tiny_config, tiny_splits):
    trainer = make(tiny_config, tiny_splits, epochs=6, patience=2)
    method = trainer.method
    trainer.history = [{"val_acc": 0.6}]
    method.on_epoch_start(trainer, 1)  # epoch 1's row is the best so far: saved
    saved = {k: v.clone() for k, v in trainer.models[0].state_dict().items()}
    method.ensemble = torch.nn.functional.one_hot(trainer.train_y, trainer.num_classes).float()
    method.ensemble[:10] = method.ensemble[:10].roll(1, dims=1)  # the average disagrees with 10 labels
    method.best["ensemble"] = method.ensemble.clone()
    with torch.no_grad():
        for p in trainer.models[0].parameters():
            p.add_(1.0)
    for epoch in (2, 3):  # two epochs without a better accuracy: the round ends
        trainer.history.append({"val_acc": 0.5})
        method.on_epoch_start(trainer, epoch)
    for name, value in trainer.models[0].state_dict().items():
        assert torch.equal(value, saved[name]), name
    assert not method.kept[:10].any() and method.kept[10:].all()
    assert method.filterings == [{"epoch": 3, "best_epoch": 1, "best_val_acc": 0.6, "filtered": True,
                                  "kept": len(trainer.train_y) - 10}]
    assert method.filtering and method.best is None
    assert trainer.schedule_start == [3] and trainer.schedule_end == [6]  # the new round's own schedule


def test_filtering_stops_when_a_round_is_no_better(tiny_config, tiny_splits):
    trainer = make(tiny_config, tiny_splits, patience=1)
    method = trainer.method
    method.previous_best = 0.7
    trainer.history = [{"val_acc": 0.6}]
    method.on_epoch_start(trainer, 1)
    kept = method.kept.clone()
    trainer.history.append({"val_acc": 0.5})
    method.on_epoch_start(trainer, 2)
    assert not method.filtering and torch.equal(method.kept, kept) and not method.filterings[-1]["filtered"]


def test_training_filters_mostly_wrong_labels(tiny_config, tiny_splits):
    trainer = make(tiny_config, tiny_splits, epochs=10, patience=1, consistency=1.0)
    metrics = trainer.fit()
    assert any(f["filtered"] for f in metrics["report"]["filterings"])
    method = trainer.method
    clean = trainer.train_y == trainer.true_y
    assert clean[method.kept].float().mean() > clean.float().mean() + 0.2
    assert 0.0 < metrics["report"]["noise_rate_estimate"] < 1.0
    x = trainer.data.test.x
    assert torch.equal(method.predict(trainer, x), method.teacher.model(x))
    stored = torch.load(trainer.out / "stats.pt")["values"]  # the (N, C) average is in the store
    assert torch.equal(stored["ensemble"], method.ensemble.cpu())


def test_it_needs_a_validation_split(tiny_config, tiny_splits):
    with pytest.raises(NoisyLabelsError, match="validation split"):
        make(tiny_config, tiny_splits, val_fraction=0.0)

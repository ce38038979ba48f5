import pytest
import torch

from noisylabels import NoisyLabelsError, Trainer
from noisylabels.functional import aum_flags, combine_runs


def make(tiny_config, tiny_splits, epochs=9, noise=None, run=None, **options):
    # All 240 samples train: the thresholds here are sized for them, not for a validation hold-out.
    config = tiny_config.replace(method={"name": "aum", "options": options}, optim={"epochs": epochs},
                                 noise=noise or {"type": "symmetric", "rate": 0.4}, run=run or {},
                                 data={"val_fraction": 0})
    return Trainer(config, tiny_splits)


def spy_output_sizes(trainer) -> list[int]:
    """Network 0's number of outputs at the end of every epoch."""
    sizes, on_epoch_end = [], trainer.method.on_epoch_end

    def spy(tr, epoch):
        sizes.append(tr.models[0](tr.train_x[:1]).shape[1])
        return on_epoch_end(tr, epoch)

    trainer.method.on_epoch_end = spy
    return sizes


def test_two_detection_runs_then_retraining_on_the_kept_samples(tiny_config, tiny_splits):
    # With 60 threshold samples per run the 99th percentile is their maximum, which one lucky
    # threshold sample sets on data this small; the 90th is the robust choice here.
    trainer = make(tiny_config, tiny_splits, detect_epochs=3, percentile=90)
    sizes = spy_output_sizes(trainer)
    metrics = trainer.fit()
    method, rows, report = trainer.method, metrics["epochs"], metrics["report"]
    assert [row["stage"] for row in rows] == ["detect1"] * 3 + ["detect2"] * 3 + ["retrain"] * 3
    assert sizes == [4] * 6 + [3] * 3  # C+1 outputs while detecting, a fresh C-output network after
    assert trainer.schedule_start == [6]
    # Threshold sets: N//(C+1) samples each, disjoint.
    assert method.is_threshold.sum(1).tolist() == [60, 60] and not method.is_threshold.all(0).any()
    # Stored values follow the rule: flags per run from its AUM, removal by the two-run vote.
    values = trainer.stats.values
    flags = [aum_flags(values[f"aum_run{r + 1}"], method.is_threshold[r], 90) for r in range(2)]
    removed = combine_runs(flags, list(method.is_threshold))
    assert torch.equal(values["flagged"].bool(), removed)
    assert torch.equal(method.kept, ~removed)
    assert not torch.isnan(values["aum"]).any()  # disjoint sets: every sample is real in some run
    assert torch.equal(trainer.loader.indices, method.kept.nonzero().flatten())
    # Detection works: 40% base rate of mislabeled samples, the removed set is far more often mislabeled.
    assert report["flagged"] == [rows[2]["flagged"], rows[5]["flagged"]] and len(report["threshold_aum"]) == 2
    assert report["removed"] == rows[5]["removed"] == int(removed.sum())
    assert report["removed_precision"] > 0.6 and report["removed_recall"] > 0.7
    assert rows[-1]["selection_precision"] > 0.8  # the kept set (60% clean before) is far cleaner
    assert all(0.0 <= row["test_acc"] <= 1.0 for row in rows)


def test_threshold_sets_are_reproducible_from_the_seed(tiny_config, tiny_splits):
    first, second = (make(tiny_config, tiny_splits).method for _ in range(2))
    assert torch.equal(first.is_threshold, second.is_threshold)
    other = make(tiny_config.replace(run={"seed": 1}), tiny_splits).method
    assert not torch.equal(first.is_threshold, other.is_threshold)


def test_one_run_detection_only(tiny_config, tiny_splits):
    trainer = make(tiny_config, tiny_splits, epochs=3, runs=1, detect_epochs=3, retrain=False)
    sizes = spy_output_sizes(trainer)
    metrics = trainer.fit()
    assert [row["stage"] for row in metrics["epochs"]] == ["detect1"] * 3 and sizes == [4] * 3
    method = trainer.method
    assert torch.equal(~method.kept, method.flags[0])  # one run: its flags are the removal
    assert method.kept[method.is_threshold[0]].all()  # threshold samples never vote: kept
    assert trainer.loader.indices is None  # nothing retrained
    assert trainer.method.predict(trainer, trainer.train_x[:5]).shape == (5, 3)


@pytest.mark.parametrize("epochs, expected", [(2, (1, False)), (3, (1, True)), (10, (3, True))])
def test_default_budget_split(tiny_config, tiny_splits, epochs, expected):
    method = make(tiny_config, tiny_splits, epochs=epochs).method
    assert (method.detect_epochs, method.retrain) == expected


def test_eval_recording_during_detection(tiny_config, tiny_splits):
    trainer = make(tiny_config, tiny_splits, epochs=2, run={"record": "eval"})
    assert trainer.fit()["status"] == "complete"
    assert not torch.isnan(trainer.stats.loss).any()


@pytest.mark.parametrize("options, message", [
    ({"detect_epochs": 0}, "detect_epochs must be a whole number"),
    ({"runs": 0}, "runs must be a whole number >= 1"),
    ({"percentile": 0}, r"percentile must be in \(0, 100\], got 0"),
    ({"percentile": 101}, r"percentile must be in \(0, 100\], got 101"),
    ({"retrain": "yes"}, "retrain must be true or false"),
    ({"detect_epochs": 5}, r"runs\*detect_epochs = 2\*5 = 10 epochs but optim.epochs is 9"),
    ({"detect_epochs": 3, "runs": 3, "retrain": True}, "retrain needs epochs after the 9 detection epochs"),
    ({"detect_epochs": 2, "retrain": False}, "retrain=false leaves 5 epochs unused"),
    ({"runs": 5}, "use fewer runs"),
    ({"window": 3}, "has no option window"),
])
def test_bad_options(tiny_config, tiny_splits, options, message):
    with pytest.raises(NoisyLabelsError, match=message):
        make(tiny_config, tiny_splits, **options)

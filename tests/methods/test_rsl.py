import pytest
import torch

from noisylabels import NoisyLabelsError, Trainer
from noisylabels.functional import classwise_select, rsl_keep_counts, window_mean


def make(tiny_config, tiny_splits, epochs=6, noise=None, **options):
    config = tiny_config.replace(method={"name": "rsl", "options": options}, optim={"epochs": epochs},
                                 noise=noise or {"type": "symmetric", "rate": 0.4})
    return Trainer(config, tiny_splits)


def test_selection_follows_the_official_rule(tiny_config, tiny_splits):
    trainer = make(tiny_config, tiny_splits, epochs=7, stage1_epochs=5, eta="true")
    metrics = trainer.fit()
    method, labels = trainer.method, trainer.train_y
    scores = window_mean(trainer.stats.loss, [0, 1, 2, 3, 4])
    counts = rsl_keep_counts(torch.bincount(labels), trainer.data.noise["per_observed_class_rate"], 0.2)
    assert torch.equal(method.selected, classwise_select(scores, labels, counts))
    assert metrics["report"]["keep_counts"] == counts.tolist()
    weights = trainer.stats.values["weight"][method.selected]
    assert weights.min() >= 0.7 - 1e-6 and weights.max() <= 1.0
    # Stage two: a fresh network trained on the kept samples only.
    assert torch.equal(trainer.loader.indices, method.selected.nonzero().flatten())
    assert trainer.schedule_start == [5]
    assert [row["stage"] for row in metrics["epochs"]] == [1, 1, 1, 1, 1, 2, 2]
    # 60% of the labels are clean; the kept set is far cleaner.
    assert metrics["epochs"][4]["selection_precision"] > 0.8


def test_report_puts_estimates_next_to_the_truth(tiny_config, tiny_splits):
    trainer = make(tiny_config, tiny_splits, epochs=3, stage1_epochs=3, eta="estimate")  # selection only
    report = trainer.fit()["report"]
    assert report["eta_source"] == "estimated" and len(report["eta_estimated"]) == len(report["eta_true"]) == 3
    assert report["eta_abs_error"] < 0.2
    premise = report["premise"]
    assert premise["dominant_rows_true"] == [True] * 3 and all(premise["premise_holds"])
    assert len(premise["transition_estimated"]) == 3


def test_window_options(tiny_config, tiny_splits):
    trainer = make(tiny_config, tiny_splits, stage1_epochs=4, average_last=2)
    assert trainer.method.window(4) == [2, 3]
    trainer = make(tiny_config, tiny_splits, stage1_epochs=4, average_until=2)
    assert trainer.method.window(4) == [0, 1]


@pytest.mark.parametrize("options, message", [
    ({"stage1_epochs": 9}, r"stage1_epochs must be in \[1, 6\]"),
    ({"stage1_epochs": 3, "average_last": 4}, "window longer than the 3 recorded"),
    ({"stage1_epochs": 3, "average_until": 5}, "window longer than the 3 recorded"),
    ({"eta": [0.1, 0.2]}, "2 noise rates for 3 classes"),
    ({"eta": 1.2}, r"eta must be one of 'auto', 'estimate', 'true' or in \[0, 1\) or a list .*got 1.2"),
    ({"eta": "guess"}, "eta must be"),
    ({"estimator": "oracle"}, "estimator must be one of 'gmm', 'prediction', got 'oracle'"),
])
def test_bad_options(tiny_config, tiny_splits, options, message):
    with pytest.raises(NoisyLabelsError, match=message):
        make(tiny_config, tiny_splits, **options)


def test_true_rates_need_the_truth_and_classes_need_samples(tiny_config, tiny_splits):
    with pytest.raises(NoisyLabelsError, match="needs known true labels"):
        make(tiny_config, tiny_splits, noise={"type": "none"}, eta="true")
    from noisylabels import LabeledData, Splits

    train = tiny_splits.train
    no_class_2 = LabeledData(train.x, train.labels.clamp_max(1), num_classes=3)
    with pytest.raises(NoisyLabelsError, match=r"class\(es\) \[2\] have no training samples"):
        make(tiny_config, Splits(no_class_2, tiny_splits.test), noise={"type": "none"}, eta=0.1)


def test_run_draws_the_diagnostic_plots(tiny_config, tiny_splits):
    trainer = make(tiny_config.replace(run={"plots": True}), tiny_splits, epochs=3, stage1_epochs=2)
    trainer.fit()
    for name in ("loss_histograms.png", "selection.png"):
        assert (trainer.out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_stage_one_ends_annealed_and_stage_two_restarts_with_its_own_schedule(tiny_config, tiny_splits):
    trainer = make(tiny_config, tiny_splits, epochs=6, stage1_epochs=3)  # the default cosine schedule
    first = trainer.models[0]
    rows = trainer.fit()["epochs"]
    lr = trainer.config.optim.lr
    assert rows[2]["lr"] < 1e-6 * lr  # stage one's complete schedule ends at ~0
    assert rows[3]["lr"] > 0.5 * lr and rows[5]["lr"] < 1e-6 * lr  # stage two: a complete schedule of its own
    assert trainer.models[0] is not first and (trainer.schedule_start, trainer.schedule_end) == ([3], [6])
    assert trainer.metrics("complete")["report"]["restart"] is True


def test_continue_variant_keeps_the_weights(tiny_config, tiny_splits):
    trainer = make(tiny_config, tiny_splits, epochs=6, stage1_epochs=3, restart=False)
    method, seen = trainer.method, {}
    end, start = method.on_epoch_end, method.on_epoch_start

    def at_end(t, epoch):
        if epoch == 2:
            seen["stage1"] = {k: v.clone() for k, v in t.models[0].state_dict().items()}
        return end(t, epoch)

    def at_start(t, epoch):
        start(t, epoch)
        if epoch == 3:
            seen["stage2"] = {k: v.clone() for k, v in t.models[0].state_dict().items()}
            seen["optimizer"] = t.optimizers[0]

    method.on_epoch_end, method.on_epoch_start = at_end, at_start
    optimizer = trainer.optimizers[0]
    rows = trainer.fit()["epochs"]
    assert all(torch.equal(seen["stage1"][k], seen["stage2"][k]) for k in seen["stage1"])
    assert seen["optimizer"] is optimizer  # the same network and optimiser go on
    lr = trainer.config.optim.lr
    assert rows[2]["lr"] < 1e-6 * lr and rows[3]["lr"] > 0.5 * lr  # a new complete schedule
    assert (trainer.schedule_start, trainer.schedule_end) == ([3], [6])
    assert torch.equal(trainer.loader.indices, method.selected.nonzero().flatten())

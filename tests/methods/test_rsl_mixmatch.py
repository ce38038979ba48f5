import pytest
import torch

from noisylabels import NoisyLabelsError, Trainer
from noisylabels.methods.semi import MixBatch


def make(tiny_config, tiny_splits, epochs=4, **options):
    config = tiny_config.replace(method={"name": "rsl_mixmatch", "options": {"eta": "true", **options}},
                                 optim={"epochs": epochs}, noise={"type": "symmetric", "rate": 0.4},
                                 run={"overwrite": True})
    return Trainer(config, tiny_splits)


def test_stage_two_mixes_kept_labeled_with_rejected_unlabeled(tiny_config, tiny_splits):
    trainer = make(tiny_config, tiny_splits, epochs=4, stage1_epochs=2, iterations=5)
    method = trainer.method
    seen = []
    step = method.training_step
    method.training_step = lambda t, b: (seen.append(b), step(t, b))[1]
    metrics = trainer.fit()
    batches = [b for b in seen if isinstance(b, MixBatch)]
    assert len(batches) == 2 * 5  # `iterations` steps in each of the two stage-two epochs
    for b in batches:
        assert method.selected[b.labeled.idx].all() and not method.selected[b.unlabeled.idx].any()
    # Stage two: a fresh network under Adam at the published learning rate, evaluated through its EMA.
    assert isinstance(trainer.optimizers[0], torch.optim.Adam) and trainer.optimizers[0].param_groups[0]["lr"] == 0.002
    assert method.ema is not None and trainer.schedule_start == [2]
    ema_logits = method.ema.model(trainer.data.test.x)
    assert not torch.allclose(ema_logits, trainer.models[0].eval()(trainer.data.test.x))
    assert [row["stage"] for row in metrics["epochs"]] == [1, 1, 2, 2]
    assert metrics["epochs"][-1]["train_acc"] is None  # mixed inputs have no accuracy on observed labels
    assert "selection_precision" in metrics["epochs"][-1]


def test_labeled_draw_follows_the_rsl_weights(tiny_config, tiny_splits):
    trainer = make(tiny_config, tiny_splits, epochs=3, stage1_epochs=2)
    trainer.fit()
    method = trainer.method
    epoch = method.batches(trainer, 2)
    kept = method.selected.nonzero().flatten()
    assert torch.equal(epoch.labeled.indices, kept)
    assert torch.equal(epoch.labeled.weights, method.weights[kept])
    unweighted = make(tiny_config, tiny_splits, epochs=3, stage1_epochs=2, weighted=False)
    unweighted.fit()
    assert unweighted.method.batches(unweighted, 2).labeled.weights is None


@pytest.mark.parametrize("options, message", [
    ({"stage1_epochs": 4}, "needs epochs after stage one"),
    ({"alpha": 0}, "alpha"),
    ({"ema_decay": 1.0}, "ema_decay"),
    ({"augment": "none"}, "needs augmented views"),
])
def test_bad_options(tiny_config, tiny_splits, options, message):
    with pytest.raises(NoisyLabelsError, match=message):
        make(tiny_config, tiny_splits, epochs=4, **options)


def test_each_mixmatch_epoch_runs_a_ce_epochs_steps_and_lambda_u_ramps_over_the_stage(tiny_config, tiny_splits):
    trainer = make(tiny_config, tiny_splits, epochs=4, stage1_epochs=2)
    method, weights = trainer.method, []
    step = method.training_step
    method.training_step = lambda t, b: (step(t, b), weights.append(method.weight_u))[0]
    ce_steps = len(trainer.loader)  # 240 samples in batches of 32: 8
    metrics = trainer.fit()
    rows = metrics["epochs"]
    kept = int(method.selected.sum())
    assert kept // 32 < ce_steps  # the kept set alone would give fewer steps: it is revisited
    assert [row["mixmatch_steps"] for row in rows[2:]] == [ce_steps, 2 * ce_steps]
    assert "mixmatch_steps" not in rows[1]
    # lambda_u = 75 ramped linearly over all the MixMatch stage's steps, counted in steps.
    total = 2 * ce_steps
    assert metrics["report"]["lambda_u_ramp_steps"] == total
    assert weights[-total:] == pytest.approx([75 * k / total for k in range(total)])
    half = make(tiny_config, tiny_splits, epochs=4, stage1_epochs=2, rampup=0.5)
    half.fit()
    assert half.method.weight_u == 75 and half.method.ramp_steps == ce_steps


def test_views_are_crop_and_flip_for_images_and_feature_noise_for_vectors(tiny_config, tiny_splits, make_blobs):
    from noisylabels import Splits
    from noisylabels.data.augment import make_augment

    images = Splits(make_blobs(240, dim=16, image=True), make_blobs(90, dim=16, seed=1, image=True))
    for splits, expected in ((images, "crop_flip"), (tiny_splits, "noise")):
        method = make(tiny_config, splits, epochs=3, stage1_epochs=2).method
        x = splits.train.x[:64]
        views = method.augment(x, torch.Generator().manual_seed(0))
        assert torch.equal(views, make_augment(expected, x.shape[1:])(x, torch.Generator().manual_seed(0)))
        assert not torch.equal(views, x)


def test_stage_two_always_restarts(tiny_config, tiny_splits):
    with pytest.raises(NoisyLabelsError, match="restart=false is rsl's equal-compute variant"):
        make(tiny_config, tiny_splits, restart=False)

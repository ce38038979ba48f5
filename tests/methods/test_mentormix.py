import pytest
import torch

from noisylabels import NoisyLabelsError, Trainer
from noisylabels.methods.mentormix import preset_for
from noisylabels.methods import mentornet as mentornet_module
from noisylabels.methods.mentornet import curriculum_error, load_mentornet_pd, train_mentornet_pd


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("mentornet_cache")


@pytest.fixture(autouse=True)
def private_cache(shared_cache, monkeypatch):
    """MentorNet-PD caches go to a folder of this session (trained once), never ~/.cache."""
    monkeypatch.setenv("NOISYLABELS_CACHE", str(shared_cache))


def mentormix(tiny_config, rate=0.4, epochs=2, **options):
    return tiny_config.replace(method={"name": "mentormix", "options": options},
                               noise={"type": "symmetric", "rate": rate}, optim={"epochs": epochs})


def test_burn_in_trusts_every_sample(tiny_config, tiny_splits):
    trainer = Trainer(mentormix(tiny_config, burn_in=0.5), tiny_splits)
    metrics = trainer.fit()
    first, second = metrics["epochs"]
    assert first["burn_in"] and first["mentor_weight_mean"] == 1.0 and first["selection_size"] == len(trainer.train_y)
    assert not second["burn_in"] and second["mentor_weight_mean"] < 1.0
    assert 0.0 <= second["selection_precision"] <= 1.0 and "selection_recall" in second


def test_weights_follow_the_moving_average_after_burn_in(tiny_config, tiny_splits):
    trainer = Trainer(mentormix(tiny_config, burn_in=0.0, percentile=0.5), tiny_splits)
    method = trainer.method
    method.on_epoch_start(trainer, 0)
    batch = next(iter(trainer.loader))
    out = method.training_step(trainer, batch)
    v = trainer.stats.values["mentor_weight"][batch.idx]
    # First batch: the average is the batch's median loss, so about half the batch is trusted.
    assert torch.equal(v, (out.losses < method.average.value).float())
    assert 0 < v.sum() < len(v)
    assert out.logits.shape == (len(batch.idx), 3) and out.loss.requires_grad


@pytest.mark.parametrize("rate, preset", [(0.1, "0.2"), (0.2, "0.2"), (0.35, "0.4"), (0.5, "0.4"),
                                          (0.6, "0.6"), (0.75, "0.8"), (0.9, "0.8")])
def test_preset_follows_the_noise_rate(rate, preset):
    assert preset_for(rate) == preset


def test_preset_settings_and_overrides(tiny_config, tiny_splits):
    method = Trainer(mentormix(tiny_config, rate=0.8), tiny_splits).method
    assert (method.preset_used, method.alpha, method.percentile, method.second_reweight) == ("0.8", 4.0, 0.2, True)
    method = Trainer(mentormix(tiny_config, rate=0.8, preset="0.4", alpha=1.5), tiny_splits).method
    assert (method.alpha, method.percentile, method.second_reweight) == (1.5, 0.6, False)
    method = Trainer(tiny_config.replace(method={"name": "mentormix"}), tiny_splits).method  # no noise
    assert method.preset_used == "0.2" and method.percentile == 0.8  # until the estimate after burn-in
    assert method.rate_source == "estimate"


def test_second_reweight_weights_the_mixed_losses(tiny_config, tiny_splits):
    trainer = Trainer(mentormix(tiny_config, rate=0.6, burn_in=0.0), tiny_splits)
    method = trainer.method
    assert method.second_reweight
    method.on_epoch_start(trainer, 0)
    out = method.training_step(trainer, next(iter(trainer.loader)))
    assert method.mixed_average.value is not None and torch.isfinite(out.loss)
    metrics = trainer.fit()
    assert metrics["status"] == "complete" and metrics["report"]["second_reweight"] is True


def test_mentornet_pd_reproduces_the_self_paced_curriculum():
    net = train_mentornet_pd("self_paced")  # the shipped settings: about 3 s on one CPU core
    assert curriculum_error(net, "self_paced") < 0.05  # mean absolute error on a fresh grid (measured: 0.0003)
    # Trusted below the moving average, distrusted above it, whatever the loss and progress.
    loss = torch.tensor([0.5, 3.0, 0.5, 3.0])
    assert torch.equal(net(loss, torch.tensor([-1.0, -1.0, 1.0, 1.0]), 0.5).round(), torch.tensor([1., 1., 0., 0.]))


def test_mentornet_pd_is_cached(tmp_path, monkeypatch):
    first = load_mentornet_pd("focal", cache=tmp_path)
    assert (tmp_path / "mentornet_pd_focal.pt").exists()

    def no_training(*args, **kwargs):
        raise AssertionError("retrained although the cache holds the network")

    monkeypatch.setattr(mentornet_module, "train_mentornet_pd", no_training)
    second = load_mentornet_pd("focal", cache=tmp_path)
    x = torch.rand(8) * 5
    assert torch.equal(first(x, x - 1, 0.3), second(x, x - 1, 0.3))


@pytest.mark.parametrize("options, message", [
    ({"mentornet": "lstm"}, "unknown mentornet 'lstm'; choose one of: pd, threshold"),
    ({"percentile": 80}, r"percentile must be in \(0, 1\] or null, got 80"),
    ({"alpha": 0}, "alpha"),
    ({"preset": "0.5"}, "preset must be"),
    ({"burn_in": 10}, "burn_in"),
    ({"ema_decay": 1.0}, "ema_decay"),
    ({"curriculum": "self_paced"}, "only applies to mentornet=pd"),
    ({"mentornet": "pd", "curriculum": "easy_first"}, "curriculum must be one of 'self_paced', .*got 'easy_first'"),
    ({"second_reweight": "yes"}, "true or false"),
    ({"gamma": 1}, "has no option gamma"),
])
def test_bad_options_say_what_to_fix(options, message, tiny_config, tiny_splits):
    with pytest.raises(NoisyLabelsError, match=message):
        Trainer(mentormix(tiny_config, **options), tiny_splits)


def test_other_losses_are_refused(tiny_config, tiny_splits):
    config = mentormix(tiny_config).replace(method={"loss": "gce"})
    with pytest.raises(NoisyLabelsError, match="leave method.loss at ce"):
        Trainer(config, tiny_splits)


@pytest.mark.parametrize("mentornet", ["threshold", "pd"])
def test_end_to_end_records_weights(mentornet, tiny_config, tiny_splits):
    trainer = Trainer(mentormix(tiny_config, mentornet=mentornet, burn_in=0.0), tiny_splits)
    metrics = trainer.fit()
    weights = trainer.stats.values["mentor_weight"]
    assert not torch.isnan(weights).any() and ((weights >= 0) & (weights <= 1)).all()
    last = metrics["epochs"][-1]
    assert 0.0 <= last["selection_precision"] <= 1.0 and last["selection_size"] > 0
    assert last["loss_moving_average"] > 0 and not torch.isnan(trainer.stats.loss[1]).any()
    assert metrics["report"]["mentornet"] == mentornet


def test_checkpoint_state_round_trips(tiny_config, tiny_splits):
    trainer = Trainer(mentormix(tiny_config, mentornet="pd", epochs=1), tiny_splits)
    trainer.fit()
    state = trainer.method.state_dict()
    fresh = Trainer(mentormix(tiny_config.replace(run={"overwrite": True}), mentornet="pd", epochs=1), tiny_splits)
    fresh.method.load_state_dict(state)
    assert fresh.method.average.value.item() == trainer.method.average.value.item()
    assert fresh.method.mentor.curriculum == "mentornet_pd"


@pytest.mark.parametrize("batch_size, steps_per_epoch", [(32, 7), (16, 14)])
def test_burn_in_counts_optimiser_steps(tiny_config, tiny_splits, batch_size, steps_per_epoch):
    config = mentormix(tiny_config, burn_in=0.25).replace(optim={"batch_size": batch_size})
    trainer = Trainer(config, tiny_splits)
    method, flags = trainer.method, []
    step = method.training_step
    method.training_step = lambda t, b: (step(t, b), flags.append(method.last_burn_in))[0]
    report = trainer.fit()["report"]
    assert len(trainer.loader) == steps_per_epoch  # 216 training samples (10% are validation)
    total = 2 * steps_per_epoch
    burn_in = -(-total // 4)  # ceil(25% of the steps)
    assert flags == [True] * burn_in + [False] * (total - burn_in)
    assert (report["burn_in_steps"], report["total_steps"]) == (burn_in, total)
    assert Trainer(mentormix(tiny_config.replace(run={"overwrite": True})), tiny_splits).method.burn_in == 0.09


def weighted_step(trainer, weight: float) -> torch.Tensor:
    """One training step's loss with every second (mixed-loss) weight set to ``weight``: the first
    weights (which set the mix) stay 1."""
    method = trainer.method
    method.weigh = lambda average, losses, progress, burn_in: torch.full_like(
        losses, weight if average is method.mixed_average else 1.0)
    trainer.loader.generator.manual_seed(5)  # the same batch and mix for every call
    return method.training_step(trainer, next(iter(trainer.loader))).loss


def test_second_reweight_scales_the_weight_decay_by_the_mean_weight(tiny_config, tiny_splits):
    config = mentormix(tiny_config, rate=0.6, burn_in=0.0).replace(optim={"weight_decay": 0.01})
    trainer = Trainer(config, tiny_splits)
    assert trainer.method.second_reweight and trainer.method.weight_decay == 0.01
    assert trainer.optimizers[0].param_groups[0]["weight_decay"] == 0.0  # the method applies it itself
    squares = sum(p.pow(2).sum() for p in trainer.models[0].parameters()).item()
    decay = 0.5 * 0.01 * squares  # what the optimiser's decay is the gradient of
    full = weighted_step(trainer, 1.0).item()
    mixed = full - decay  # the mixed loss at weight 1
    quarter = weighted_step(trainer, 0.25).item()
    assert quarter == pytest.approx(0.25 * mixed + 0.25 * decay, rel=1e-5)  # unscaled would be + decay
    # At mean weight 0 nothing is left, decay included (the optimiser's decay would still pull on w).
    trainer.models[0].zero_grad()
    zero = weighted_step(trainer, 0.0)
    zero.backward()
    assert zero.item() == 0 and all(p.grad is None or not p.grad.any() for p in trainer.models[0].parameters())
    metrics = trainer.fit()
    assert 0 <= metrics["epochs"][-1]["weight_decay_scale"] <= 1 and metrics["report"]["weight_decay_in_loss"] == 0.01


def test_weight_decay_stays_with_the_optimiser_without_second_reweighting(tiny_config, tiny_splits):
    config = mentormix(tiny_config, rate=0.4).replace(optim={"weight_decay": 0.01})
    trainer = Trainer(config, tiny_splits)
    assert not trainer.method.second_reweight and trainer.method.weight_decay == 0.0
    assert trainer.optimizers[0].param_groups[0]["weight_decay"] == 0.01
    adamw = mentormix(tiny_config, rate=0.8).replace(optim={"name": "adamw", "weight_decay": 0.01})
    with pytest.raises(NoisyLabelsError, match="adamw's decoupled decay cannot"):
        Trainer(adamw, tiny_splits)

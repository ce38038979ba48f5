"""No method needs to be told the noise rate: every rate option defaults to ``auto``, the configured
rate under synthetic noise, else an estimate from the statistics store, reported in metrics.json."""
import pytest
import torch

from noisylabels import LabeledData, NoisyLabelsError, Splits, Trainer
from noisylabels.functional import forget_rate_schedule
from noisylabels.methods import METHODS
from noisylabels.methods.rates import MAX_FORGET, estimate_rate

SELECTING = [name for name in METHODS.names() if METHODS.get(name).info.selects]
TAKES_RATE = [name for name in METHODS.names() if METHODS.get(name).info.rate_option is not None]
FLIPPED = 0.3


def test_the_selecting_methods_are_all_covered():
    assert {"small_loss", "coteaching", "coteaching_plus", "rsl", "rsl_mixmatch", "dividemix", "mentormix",
            "aum"} <= set(SELECTING)
    assert "aum" not in TAKES_RATE and set(TAKES_RATE) <= set(SELECTING)


def run(tiny_config, splits, name, noise, epochs=4, **options):
    config = tiny_config.replace(method={"name": name, "options": options}, noise=noise, optim={"epochs": epochs},
                                 run={"overwrite": True})  # several runs per test, one folder
    trainer = Trainer(config, splits)
    return trainer, trainer.fit()


@pytest.fixture
def user_labels(make_blobs):
    """Blobs whose labels the user holds with errors: 30% flipped to another class, no noise config."""
    train, test = make_blobs(600, seed=0), make_blobs(90, seed=1)
    gen = torch.Generator().manual_seed(0)
    flip = torch.rand(len(train.labels), generator=gen) < FLIPPED
    shift = torch.randint(1, train.num_classes, (len(train.labels),), generator=gen)
    labels = torch.where(flip, (train.labels + shift) % train.num_classes, train.labels)
    return Splits(LabeledData(train.x, labels, train.num_classes, true_labels=train.labels, name="blobs"), test)


@pytest.mark.parametrize("name", SELECTING)
def test_selection_methods_run_on_user_labels_without_a_rate(name, tiny_config, user_labels):
    metrics = run(tiny_config, user_labels, name, {"type": "none"})[1]
    assert metrics["status"] == "complete"
    assert metrics["actual_noise_rate"] == pytest.approx(FLIPPED, abs=0.05)  # the truth, next to the estimate
    report = metrics["report"]
    assert 0.05 < report["noise_rate_estimate"] < 0.7, report
    if name in TAKES_RATE:  # the rate it trained with is the estimate, logged in the epoch it was made
        assert report["noise_rate_source"] == "estimate"
        assert report["noise_rate_used"] == pytest.approx(report["noise_rate_estimate"], abs=0.15)
        assert report["noise_rate_estimate"] in [row.get("noise_rate_estimate") for row in metrics["epochs"]]


@pytest.mark.parametrize("name", TAKES_RATE)
def test_auto_takes_the_configured_rate_under_synthetic_noise(name, tiny_config, tiny_splits):
    _, metrics = run(tiny_config, tiny_splits, name, {"type": "symmetric", "rate": 0.4})
    report = metrics["report"]
    assert report["noise_rate_source"] == "config" and report["noise_rate_used"] == pytest.approx(0.4)
    assert name in ("rsl", "rsl_mixmatch") or "noise_rate_estimate" not in report  # rsl always estimates too


def test_what_each_rate_option_makes_of_the_configured_rate(tiny_config, tiny_splits):
    noise = {"type": "symmetric", "rate": 0.4}
    method = run(tiny_config, tiny_splits, "small_loss", noise, num_gradual=1)[0].method
    assert method.schedule == [0.0, 0.4, 0.4, 0.4]
    method = run(tiny_config, tiny_splits, "coteaching", {"type": "uniform", "rate": 0.6}, num_gradual=0)[0].method
    assert method.schedule == pytest.approx([0.4] * 4)  # uniform: r (C-1)/C of the labels change
    metrics = run(tiny_config, tiny_splits, "rsl", noise, stage1_epochs=2)[1]
    assert metrics["report"]["eta_used"] == [0.4] * 3
    method = run(tiny_config, tiny_splits, "dividemix", noise, epochs=2)[0].method
    assert method.lambda_u == 25.0  # the paper's value for 40% noise
    method = run(tiny_config, tiny_splits, "mentormix", {"type": "symmetric", "rate": 0.8}, epochs=1)[0].method
    assert (method.preset_used, method.alpha, method.percentile) == ("0.8", 4.0, 0.2)


@pytest.mark.parametrize("name, options, used", [
    ("small_loss", {"forget_rate": 0.3}, 0.3), ("coteaching", {"forget_rate": 0.3}, 0.3),
    ("rsl", {"eta": 0.3}, 0.3), ("rsl", {"eta": [0.1, 0.2, 0.3]}, 0.2),
    ("dividemix", {"lambda_u": 25}, None), ("mentormix", {"preset": "0.4"}, None),
])
def test_explicit_values_are_given(name, options, used, tiny_config, user_labels):
    _, metrics = run(tiny_config, user_labels, name, {"type": "none"}, **options)
    report = metrics["report"]
    assert report["noise_rate_source"] == "given"
    assert report["noise_rate_used"] == (None if used is None else pytest.approx(used, abs=0.01))


def test_rsl_true_rates_are_the_truth_and_estimate_always_estimates(tiny_config, tiny_splits):
    noise = {"type": "symmetric", "rate": 0.4}
    report = run(tiny_config, tiny_splits, "rsl", noise, stage1_epochs=2, eta="true")[1]["report"]
    assert report["noise_rate_source"] == "truth"
    report = run(tiny_config, tiny_splits, "rsl", noise, stage1_epochs=2, eta="estimate")[1]["report"]
    assert report["noise_rate_source"] == "estimate" and report["eta_used"] == report["eta_estimated"]


def test_the_estimate_is_made_at_the_documented_point(tiny_config, user_labels):
    trainer, metrics = run(tiny_config, user_labels, "small_loss", {"type": "none"}, epochs=3, num_gradual=0)
    rows = metrics["epochs"]
    assert rows[0]["forget_rate"] == 0.0 and "noise_rate_estimate" not in rows[0]  # nothing recorded yet
    assert rows[1]["forget_rate"] == rows[1]["noise_rate_estimate"] == trainer.method.rate_estimate
    trainer, metrics = run(tiny_config, user_labels, "dividemix", {"type": "none"}, warmup=2)
    assert [i for i, row in enumerate(metrics["epochs"]) if "noise_rate_estimate" in row] == [2]  # first division
    assert metrics["report"]["lambda_u"] == (0.0 if trainer.method.rate_estimate <= 0.2 else 25.0)


def test_a_one_epoch_run_without_a_rate_forgets_nothing(tiny_config, user_labels):
    metrics = run(tiny_config, user_labels, "coteaching", {"type": "none"}, epochs=1)[1]
    assert metrics["report"] == {"noise_rate_used": None, "noise_rate_source": "estimate"}


def test_mentormix_needs_a_burn_in_to_estimate_from(tiny_config, user_labels):
    with pytest.raises(NoisyLabelsError, match="burn_in=0 leaves nothing to estimate from"):
        Trainer(tiny_config.replace(method={"name": "mentormix", "options": {"burn_in": 0.0}}), user_labels)


@pytest.mark.parametrize("name", ["small_loss", "coteaching", "coteaching_plus"])
def test_the_forget_rate_is_re_estimated_every_epoch_until_the_ramp_ends(name, tiny_config, user_labels):
    trainer, metrics = run(tiny_config, user_labels, name, {"type": "none"}, epochs=5, num_gradual=3)
    rows, method = metrics["epochs"], trainer.method
    estimated = [i for i, row in enumerate(rows) if "noise_rate_estimate" in row]
    assert estimated == [1, 2, 3]  # epochs 1..T_k, then the last estimate stays
    for epoch in estimated:  # each from the previous epoch's recorded losses
        assert rows[epoch]["noise_rate_estimate"] == estimate_rate(trainer, [epoch - 1])
    last = rows[3]["noise_rate_estimate"]
    assert metrics["report"]["noise_rate_estimate"] == last == method.rate_estimate
    assert method.schedule == pytest.approx(forget_rate_schedule(min(last, MAX_FORGET), 5, 3))
    assert rows[4]["forget_rate"] == pytest.approx(last)

import pytest

from noisylabels.config import Config, apply_overrides, load_config
from noisylabels.errors import NoisyLabelsError


def test_defaults_round_trip_through_yaml(tmp_path):
    from noisylabels.config import save_config

    config = Config().replace(noise={"type": "pair", "rate": 0.3}, optim={"milestones": [2, 4]})
    save_config(config, tmp_path / "c.yaml")
    assert load_config(tmp_path / "c.yaml") == config


@pytest.mark.parametrize("raw, message", [
    ({"optimiser": {}}, "unknown config section optimiser"),
    ({"optim": {"learning_rate": 1}}, "unknown key optim.learning_rate"),
    ({"optim": {"name": "rmsprop"}}, "optim.name must be one of sgd, adam, adamw"),
    ({"optim": {"epochs": 0}}, "optim.epochs must be a whole number >= 1"),
    ({"optim": {"lr": -1}}, "optim.lr must be a positive number"),
    ({"optim": {"schedule": "multistep"}}, "needs optim.milestones"),
    ({"noise": {"rate": 1.5}}, r"noise.rate must be in \[0, 1\]"),
    ({"run": {"record": "sometimes"}}, "run.record must be one of train, eval"),
    ({"data": {"val_fraction": 1.0}}, r"data.val_fraction must be in \[0, 1\)"),
])
def test_bad_values_name_the_key(raw, message):
    with pytest.raises(NoisyLabelsError, match=message):
        Config.from_dict(raw)


def test_validation_split_is_on_by_default_and_val_noisy_is_gone():
    assert Config().data.val_fraction == 0.1
    for value in (True, False):  # an old config (or run folder) that still sets it: one line to fix it
        with pytest.raises(NoisyLabelsError, match="data.val_noisy was removed.*drop data.val_noisy"):
            Config.from_dict({"data": {"val_noisy": value}})


def test_overrides_parse_yaml_values():
    raw = apply_overrides({}, ["optim.lr=0.2", "optim.milestones=[1, 2]", "method.options.q=0.7"])
    assert raw == {"optim": {"lr": 0.2, "milestones": [1, 2]}, "method": {"options": {"q": 0.7}}}
    with pytest.raises(NoisyLabelsError, match="section.key=value"):
        apply_overrides({}, ["lr=0.2"])


def test_missing_and_broken_config_files(tmp_path):
    with pytest.raises(NoisyLabelsError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("optim: [1, 2\n")
    with pytest.raises(NoisyLabelsError, match="not valid YAML"):
        load_config(bad)

"""Property-based tests (hypothesis) of the config loader: round trips and errors that name the key.

Generated valid configs survive to_dict -> from_dict, save_config -> load_config and ``--set``
assignments unchanged; unknown sections and keys, values of the wrong type and broken YAML give a
``NoisyLabelsError`` naming the key or the file.
"""
import dataclasses
import math
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import assume, given, settings, strategies as st

from noisylabels.config import (OPTIMIZERS, RECORD_MODES, SCHEDULES, SECTIONS, Config, apply_overrides, load_config,
                                parse_assignment, save_config)
from noisylabels.errors import NoisyLabelsError

FAST = settings(max_examples=40, deadline=None, database=None)
names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12)
identifiers = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)
plain = st.one_of(st.integers(-10**6, 10**6), st.floats(-1e6, 1e6, allow_nan=False), st.booleans(), names, st.none())
options = st.dictionaries(identifiers, st.one_of(plain, st.lists(st.integers(0, 100), max_size=4)), max_size=4)
fractions = st.floats(0, 1, exclude_max=True)
positive = st.floats(1e-8, 1e3)

SECTION_VALUES = {
    "data": {"name": names, "path": st.one_of(st.none(), names), "options": options,
             "subset": st.one_of(st.none(), st.integers(1, 10**6)), "test_subset": st.one_of(st.none(), st.integers(1, 10**6)),
             "val_fraction": fractions, "test_fraction": st.floats(0.01, 0.99),
             "augment": st.sampled_from(["auto", "none", "flip", "crop", "crop_flip"])},
    "noise": {"type": names, "rate": st.floats(0, 1), "options": options},
    "model": {"name": names, "options": options},
    "optim": {"name": st.sampled_from(OPTIMIZERS), "lr": positive, "momentum": fractions, "nesterov": st.booleans(),
              "weight_decay": st.floats(0, 1), "schedule": st.sampled_from([s for s in SCHEDULES if s != "multistep"]),
              "milestones": st.lists(st.integers(1, 500), max_size=4), "gamma": fractions,
              "warmup_epochs": st.floats(0, 10), "grad_clip": st.one_of(st.none(), positive),
              "batch_size": st.integers(1, 4096), "epochs": st.integers(1, 1000)},
    "method": {"name": names, "options": options, "loss": names, "loss_options": options},
    "run": {"seed": st.integers(-2**31, 2**31), "device": st.sampled_from(["auto", "cpu", "cuda", "cuda:1"]),
            "amp": st.booleans(), "channels_last": st.booleans(), "out": st.one_of(st.none(), names),
            "overwrite": st.booleans(), "record": st.sampled_from(RECORD_MODES), "eval_batch_size": st.integers(1, 10**5),
            "checkpoint": st.booleans(), "plots": st.booleans(), "progress": st.booleans(), "tensorboard": st.booleans()},
}
valid_raw = st.fixed_dictionaries({}, optional={
    section: st.fixed_dictionaries({}, optional=values) for section, values in SECTION_VALUES.items()})
# (section, key, strategy of one valid value) for --set
assignments = st.sampled_from([(s, k, v) for s, values in SECTION_VALUES.items() for k, v in values.items()])


def test_the_strategies_cover_every_config_key_they_know_of():
    known = {(s, f.name) for s, cls in SECTIONS.items() for f in dataclasses.fields(cls)}
    generated = {(s, k) for s, values in SECTION_VALUES.items() for k in values}
    assert generated <= known  # a renamed key must be renamed here too


@FAST
@given(valid_raw)
def test_valid_configs_round_trip_through_dicts_and_keep_every_given_value(raw):
    config = Config.from_dict(raw)
    assert Config.from_dict(config.to_dict()) == config
    for section, values in raw.items():
        for key, value in values.items():
            assert getattr(getattr(config, section), key) == value


@FAST
@given(valid_raw)
def test_valid_configs_round_trip_through_saved_yaml(raw):
    config = Config.from_dict(raw)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.yaml"
        save_config(config, path)
        assert load_config(path) == config


def as_assignment_value(value) -> str:
    """How a user would type ``value`` after ``--set key=``: one line of YAML."""
    text = yaml.safe_dump(value, default_flow_style=True, width=math.inf, allow_unicode=True)
    return text.removesuffix("\n...\n").strip(" \n")  # str.strip() would also eat a no-break space


@FAST
@given(valid_raw, assignments, st.data())
def test_set_assignments_override_exactly_one_key(raw, assignment, data):
    section, key, values = assignment
    value = data.draw(values)
    text = as_assignment_value(value)
    assume("\n" not in text)
    assert parse_assignment(f"{section}.{key}={text}") == (f"{section}.{key}", value)
    before = Config.from_dict(raw)
    after = Config.from_dict(apply_overrides({s: dict(v) for s, v in raw.items()}, [f"{section}.{key}={text}"]))
    assert getattr(getattr(after, section), key) == value
    expected = before.to_dict()
    expected[section][key] = value
    assert after.to_dict() == expected


@FAST
@given(st.sampled_from(list(SECTIONS)), identifiers, plain)
def test_unknown_keys_are_named_with_their_section(section, key, value):
    known = {f.name for f in dataclasses.fields(SECTIONS[section])}
    assume(key not in known)
    with pytest.raises(NoisyLabelsError, match=f"unknown key {section}.{key}; keys in '{section}'"):
        Config.from_dict({section: {key: value}})
    with pytest.raises(NoisyLabelsError, match=f"unknown key {section}.{key}"):
        Config.from_dict(apply_overrides({}, [f"{section}.{key}=1"]))


@FAST
@given(identifiers)
def test_unknown_sections_are_named(section):
    assume(section not in SECTIONS)
    with pytest.raises(NoisyLabelsError, match=f"unknown config section {section}; sections are data, noise"):
        Config.from_dict({section: {}})


not_a_number = st.one_of(names, st.none(), st.lists(st.integers(), max_size=2), st.dictionaries(identifiers, st.integers(),
                                                                                                 max_size=1))
WRONG_TYPES = {  # checked keys -> values of the wrong type or outside the range
    ("optim", "epochs"): st.one_of(not_a_number, st.floats(1, 100), st.integers(-5, 0)),
    ("optim", "batch_size"): st.one_of(not_a_number, st.floats(1, 100), st.integers(-5, 0)),
    ("optim", "lr"): st.one_of(not_a_number, st.booleans(), st.floats(-10, 0)),
    ("optim", "weight_decay"): st.one_of(not_a_number, st.booleans(), st.floats(-10, -1e-9)),
    ("optim", "name"): st.one_of(names.filter(lambda s: s not in OPTIMIZERS), st.integers()),
    ("optim", "schedule"): st.one_of(names.filter(lambda s: s not in SCHEDULES), st.integers()),
    ("run", "record"): st.one_of(names.filter(lambda s: s not in RECORD_MODES), st.integers()),
    ("run", "seed"): st.one_of(not_a_number, st.floats(0.5, 10)),
    ("data", "val_fraction"): st.one_of(not_a_number, st.booleans(), st.floats(1, 10), st.floats(-10, -1e-9)),
    ("data", "test_fraction"): st.one_of(not_a_number, st.booleans(), st.floats(1, 10), st.floats(-10, 0)),
    ("data", "subset"): st.one_of(names, st.floats(1, 10), st.integers(-5, 0)),
    ("noise", "rate"): st.one_of(not_a_number, st.booleans(), st.floats(1.001, 100), st.floats(-10, -1e-9),
                                 st.just(math.nan)),
}


@FAST
@given(st.sampled_from(sorted(WRONG_TYPES)), st.data())
def test_wrong_types_and_ranges_are_errors_naming_the_key(section_key, data):
    section, key = section_key
    value = data.draw(WRONG_TYPES[section_key])
    with pytest.raises(NoisyLabelsError, match=f"{section}.{key} must"):
        Config.from_dict({section: {key: value}})


@settings(max_examples=60, deadline=None, database=None)
@given(st.text(max_size=60))
def test_any_yaml_text_loads_or_raises_an_error(text):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "any.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            config = load_config(path)
        except NoisyLabelsError as error:
            try:
                yaml.safe_load(text)
            except yaml.YAMLError:
                assert str(path) in str(error) and "not valid YAML" in str(error)
            return
        except TypeError:  # the non-string keys gap below
            assume(False)
        assert isinstance(config, Config)


@pytest.mark.parametrize("text", ["optim: [1, 2\n", "data:\n  name: x\n name: y\n", "optim: {lr: !!python/object:os.system x}\n",
                                  "run:\n\t- seed: 1\n", "a: b: c\n"])
def test_broken_yaml_names_the_file(tmp_path, text):
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    with pytest.raises(NoisyLabelsError, match=f"config file {path} is not valid YAML"):
        load_config(path)


def test_a_config_that_is_not_a_mapping_is_refused(tmp_path):
    for text in ("- 1\n- 2\n", "just text\n", "3\n"):
        (tmp_path / "c.yaml").write_text(text)
        with pytest.raises(NoisyLabelsError, match="a config must be a mapping of sections"):
            load_config(tmp_path / "c.yaml")
    with pytest.raises(NoisyLabelsError, match="config section 'optim' must be a mapping"):
        Config.from_dict({"optim": [1, 2]})
    (tmp_path / "empty.yaml").write_text("")
    assert load_config(tmp_path / "empty.yaml") == Config()


@pytest.mark.parametrize("text", ["lr0.1", "=0.1", ""])
def test_assignments_without_key_or_equals_are_refused(text):
    with pytest.raises(NoisyLabelsError, match="expected key=value"):
        parse_assignment(text)


# ----------------------------------------------------------------------------- inputs that once raised raw errors


@pytest.mark.parametrize("raw", [{1: {}}, {1: {}, "data": {}}, {"optim": {1: 2, "lr": 0.1, "x": 1}}])
def test_non_string_section_or_key_names(raw):
    with pytest.raises(NoisyLabelsError, match="unknown"):
        Config.from_dict(raw)


@pytest.mark.parametrize("text", ["optim.lr=[", "optim.lr={a", "optim.lr=!!python/name:os.system"])
def test_set_value_that_is_not_yaml(text):
    with pytest.raises(NoisyLabelsError, match="optim.lr"):
        parse_assignment(text)


@pytest.mark.parametrize("raw, text", [({"optim": 5}, "optim.lr=1"), ({"method": {"options": 5}}, "method.options.q=1")])
def test_set_into_a_value_that_is_not_a_mapping(raw, text):
    with pytest.raises(NoisyLabelsError, match=text.split("=")[0].rsplit(".", 1)[0]):
        apply_overrides(raw, [text])


def test_config_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"optim:\n  lr: \xff\xfe\n")
    with pytest.raises(NoisyLabelsError, match=str(path)):
        load_config(path)


@pytest.mark.parametrize("section, key, value", [
    ("optim", "epochs", True), ("optim", "batch_size", True), ("run", "seed", True), ("data", "subset", True),
    ("optim", "momentum", "0.9x"), ("optim", "milestones", "60,120"), ("run", "amp", "yes"),
    ("method", "options", [1, 2]), ("run", "eval_batch_size", 0), ("data", "test_subset", -1),
])
def test_unchecked_types(section, key, value):
    with pytest.raises(NoisyLabelsError, match=f"{section}.{key}"):
        Config.from_dict({section: {key: value}})

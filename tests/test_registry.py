import inspect
from pathlib import Path

import pytest

from noisylabels.data import DATASETS
from noisylabels.errors import NoisyLabelsError
from noisylabels.losses import LOSSES
from noisylabels.methods import METHODS
from noisylabels.methods.mentornet import MENTORNETS
from noisylabels.models import MODELS
from noisylabels.noise import NOISE
from noisylabels.options import Choice, Interval, Real, accepts
from noisylabels.registry import Registry


def make():
    reg = Registry("widget")

    @reg.register("alpha")
    def alpha(size=1):
        return ("alpha", size)

    @reg.register("beta")
    def beta():
        return "beta"

    return reg


def test_get_names_and_glob():
    reg = make()
    assert reg.names() == ["alpha", "beta"]
    assert reg.names("a*") == ["alpha"]
    assert "alpha" in reg and "gamma" not in reg
    assert reg.build("alpha", size=3) == ("alpha", 3)


def test_duplicate_name_is_an_error():
    reg = make()
    with pytest.raises(ValueError, match="already registered"):
        reg.register("alpha")(lambda: None)


def test_unknown_name_lists_choices():
    with pytest.raises(NoisyLabelsError, match="unknown widget 'gamma'; choose one of: alpha, beta"):
        make().get("gamma")


def test_unknown_option_lists_accepted():
    with pytest.raises(NoisyLabelsError, match="widget 'alpha' has no option colour; accepted: size"):
        make().build("alpha", colour="red")


# --- declared option constraints ------------------------------------------------------------------
REGISTRIES = [DATASETS, NOISE, MODELS, METHODS, MENTORNETS, LOSSES]
ENTRIES = [(reg, name) for reg in REGISTRIES for name in reg.names()]
ENTRY_IDS = [f"{reg.kind}:{name}" for reg, name in ENTRIES]


class Unlikely:
    """A value no declared constraint but "any value" accepts."""

    def __repr__(self):
        return "Unlikely()"


def declared():
    reg = Registry("widget")

    @reg.register("scaled", constraints={"scale": Interval(Real, 0, None, closed="neither")})
    def scaled(scale=1.0):
        return scale

    @reg.register("base")
    class Base:
        option_constraints = {"mode": Choice("a", "b"), "size": [Interval(Real, 0, 10), None]}

        def __init__(self, mode="a", size=None):
            self.mode, self.size = mode, size

    @reg.register("forwarding")
    class Forwarding(Base):
        option_constraints = {**Base.option_constraints, "extra": Interval(Real, 0, 1)}

        def __init__(self, extra=0.5, **base_options):
            super().__init__(**base_options)
            self.extra = extra

    return reg


def test_function_and_class_declarations_are_checked():
    reg = declared()
    assert reg.build("scaled", scale=2.0) == 2.0
    with pytest.raises(NoisyLabelsError, match=r"^widget 'scaled': scale must be > 0, got -1$"):
        reg.build("scaled", scale=-1)
    with pytest.raises(NoisyLabelsError, match=r"^widget 'base': mode must be one of 'a', 'b', got 'c'$"):
        reg.build("base", mode="c")
    assert reg.build("base", size=None).size is None


def test_a_forwarding_constructor_takes_its_own_and_the_declared_options():
    reg = declared()
    assert reg.accepted("forwarding") == ["extra", "mode", "size"]
    built = reg.build("forwarding", extra=0.1, mode="b")
    assert (built.extra, built.mode) == (0.1, "b")
    unknown = r"^widget 'forwarding' has no option sise; accepted: extra, mode, size$"
    with pytest.raises(NoisyLabelsError, match=unknown):
        reg.build("forwarding", sise=3)
    with pytest.raises(NoisyLabelsError, match=r"^widget 'forwarding': size must be in \[0, 10\] or null, got 11$"):
        reg.build("forwarding", size=11)  # a forwarded option is checked too


def test_declaring_wrongly_fails_at_registration():
    reg = Registry("widget")
    with pytest.raises(ValueError, match="declare option_constraints on it"):
        reg.register("cls", constraints={})(type("Cls", (), {}))
    with pytest.raises(TypeError, match="not a Constraint"):
        reg.register("fn", constraints={"size": int})(lambda size=1: size)


def test_fixed_parameters_are_no_options():
    reg = Registry("widget", fixed=("num_classes",))
    reg.register("w")(lambda num_classes, width=1: (num_classes, width))
    assert reg.accepted("w") == ["width"]
    assert reg.build("w", num_classes=3, width=2) == (3, 2)


@pytest.mark.parametrize("reg, name", ENTRIES, ids=ENTRY_IDS)
def test_every_option_is_declared_and_its_default_allowed(reg, name):
    constraints = reg.constraints(name)
    params = inspect.signature(reg.get(name)).parameters
    for option in reg.accepted(name):
        assert option in constraints, f"{reg.kind} '{name}' declares no constraint for {option}"
        default = params[option].default if option in params else inspect.Parameter.empty
        if default is not inspect.Parameter.empty:
            assert accepts(constraints[option], default), f"{reg.kind} '{name}': default {option}={default!r}"
    assert set(constraints) <= set(reg.accepted(name)), "a constraint for an option it does not take"


@pytest.mark.parametrize("reg, name", ENTRIES, ids=ENTRY_IDS)
def test_an_unknown_option_is_one_line_naming_it_and_the_valid_ones(reg, name):
    with pytest.raises(NoisyLabelsError) as error:
        reg.build(name, bogus_option=1)
    accepted = ", ".join(reg.accepted(name)) or "none"
    assert str(error.value) == f"{reg.kind} '{name}' has no option bogus_option; accepted: {accepted}"


@pytest.mark.parametrize("reg, name", ENTRIES, ids=ENTRY_IDS)
def test_a_declared_constraint_rejects_a_bad_value(reg, name):
    for option, constraint in reg.constraints(name).items():
        if accepts(constraint, Unlikely()):
            continue  # "any value" (in-memory arrays): nothing to reject
        with pytest.raises(NoisyLabelsError) as error:
            reg.build(name, **{option: Unlikely()})  # checked before the constructor runs
        message = str(error.value)
        assert message.startswith(f"{reg.kind} '{name}': {option} must be ") and message.endswith("got Unlikely()")
        assert "\n" not in message


def test_some_constraints_were_exercised():
    assert any(not accepts(c, Unlikely()) for reg, name in ENTRIES for c in reg.constraints(name).values())


def test_a_misspelled_forwarded_option_names_it_and_the_valid_ones(tiny_config, tiny_splits):
    """Before: rsl_mixmatch took **rsl_options unchecked, and RSL.__init__ raised a raw TypeError."""
    from noisylabels import Trainer

    message = r"method 'rsl_mixmatch' has no option etta; accepted: alpha, .*, stage1_epochs, eta, "
    with pytest.raises(NoisyLabelsError, match=message):
        METHODS.build("rsl_mixmatch", etta=0.3)
    config = tiny_config.replace(method={"name": "rsl_mixmatch", "options": {"etta": 0.3}})
    with pytest.raises(NoisyLabelsError, match=message):
        Trainer(config, tiny_splits)
    assert not Path(tiny_config.run.out).exists()  # refused before any file is written
    with pytest.raises(NoisyLabelsError, match=r"^method 'rsl_mixmatch': eta must be .*got 1.5$"):
        METHODS.build("rsl_mixmatch", eta=1.5)  # a forwarded option's value is checked too

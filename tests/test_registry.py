import pytest

from noisylabels.errors import NoisyLabelsError
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

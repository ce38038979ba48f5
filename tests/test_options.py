"""The option constraint types: what each accepts and how it says what is allowed."""
import math
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import pytest

from noisylabels.errors import NoisyLabelsError
from noisylabels.options import (PATH, Choice, Interval, ListOf, Type, accepts, allowed, check_declaration,
                                 check_option, show)


@pytest.mark.parametrize("closed, low_ok, high_ok", [
    ("both", True, True), ("left", True, False), ("right", False, True), ("neither", False, False),
])
def test_interval_ends(closed, low_ok, high_ok):
    interval = Interval(Real, 0, 1, closed=closed)
    assert interval.accepts(0) is low_ok and interval.accepts(1) is high_ok
    assert interval.accepts(0.5) and not interval.accepts(-0.1) and not interval.accepts(1.1)


def test_interval_rejects_what_is_no_number():
    interval = Interval(Real, None, None)
    for value in (True, False, float("nan"), "1", None, [1], complex(1, 0)):
        assert not interval.accepts(value), value
    assert interval.accepts(np.float32(2.5)) and interval.accepts(np.int64(3)) and interval.accepts(math.inf)
    assert not Interval(Real, 0, math.inf, closed="left").accepts(math.inf)  # a finite bound excludes inf


def test_integer_interval_wants_whole_numbers():
    whole = Interval(Integral, 1, None)
    assert whole.accepts(1) and whole.accepts(np.int32(7)) and not whole.accepts(0)
    assert not whole.accepts(2.0) and not whole.accepts(True)
    assert Interval(int, 0, 3).kind is Integral and Interval(float, 0, 3).kind is Real


@pytest.mark.parametrize("constraint, text", [
    (Interval(Real, 0, 1, closed="right"), "in (0, 1]"),
    (Interval(Real, 0, 1, closed="left"), "in [0, 1)"),
    (Interval(Real, 0, None, closed="neither"), "> 0"),
    (Interval(Real, 1, None, closed="left"), ">= 1"),
    (Interval(Real, None, 5, closed="right"), "<= 5"),
    (Interval(Integral, 1, None), "a whole number >= 1"),
    (Interval(Integral, 0, 10), "a whole number in [0, 10]"),
    (Interval(Real, 0, math.inf, closed="left"), "in [0, inf)"),
    (Choice("a", True, None), "one of 'a', true, null"),
    (Type(bool), "true or false"),
    (Type(str, dict), "a string or a mapping"),
    (PATH, "a file path"),
    (ListOf(Interval(Integral, 1, None)), "a list with every entry a whole number >= 1"),
])
def test_descriptions(constraint, text):
    assert constraint.describe() == text


def test_bad_declarations_are_programming_errors():
    with pytest.raises(TypeError):
        Interval(str, 0, 1)
    with pytest.raises(ValueError):
        Interval(Real, 0, 1, closed="open")
    with pytest.raises(ValueError):
        Choice()
    with pytest.raises(TypeError):
        Type("str")
    with pytest.raises(TypeError, match="not a Constraint"):
        check_declaration({"q": (0, 1)})
    with pytest.raises(TypeError, match="must be a dict"):
        check_declaration([Type(str)])


def test_choice_tells_booleans_from_numbers():
    flag = Choice("auto", True, False)
    assert flag.accepts("auto") and flag.accepts(True) and flag.accepts(False)
    assert not flag.accepts(1) and not flag.accepts(0) and not flag.accepts("true")
    assert Choice(0.2, 0.4).accepts(0.4) and not Choice(0.2, 0.4).accepts(np.array([0.2, 0.4]))


def test_type_keeps_booleans_out_of_numbers_only():
    assert not Type(int, float).accepts(True) and Type(int, bool).accepts(True)
    assert Type(object).accepts(True) and Type(object).accepts(None)
    assert PATH.accepts("a.npy") and PATH.accepts(Path("a.npy")) and not PATH.accepts(3)


def test_list_of_checks_every_entry():
    sizes = ListOf(Interval(Integral, 1, None))
    assert sizes.accepts([1, 2]) and sizes.accepts((3,)) and sizes.accepts([])
    assert not sizes.accepts([1, 0]) and not sizes.accepts("12") and not sizes.accepts(3)


def test_alternatives_and_none():
    spec = [Interval(Real, 0, None, closed="neither"), None]
    assert accepts(spec, None) and accepts(spec, 2.0) and not accepts(spec, 0)
    assert allowed(spec) == "> 0 or null"
    assert not accepts(Interval(Real, 0, 1), None)  # None only where declared


def test_check_option_is_one_line_naming_everything():
    with pytest.raises(NoisyLabelsError) as error:
        check_option("loss 'gce'", "q", Interval(Real, 0, 1, closed="right"), 1.5)
    assert str(error.value) == "loss 'gce': q must be in (0, 1], got 1.5"
    check_option("loss 'gce'", "q", Interval(Real, 0, 1, closed="right"), 0.7)  # no error


def test_show_keeps_values_on_one_short_line():
    assert show(None) == "null" and show(True) == "true" and show("x") == "'x'"
    text = show(np.zeros((30, 30)))
    assert "\n" not in text and len(text) <= 60

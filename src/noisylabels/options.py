"""Option constraints declared as data and checked by ``Registry`` before a constructor runs.

A registered class declares ``option_constraints = {"option": constraint, ...}``; a registered
function passes ``constraints={...}`` to ``Registry.register``. A constraint is an ``Interval``,
``Choice``, ``Type`` or ``ListOf``, ``None`` (the value None is allowed), or a list of these: the
value must satisfy one of them (as in scikit-learn's ``_parameter_constraints``).

    option_constraints = {"q": Interval(Real, 0, 1, closed="right"),
                          "lam": [Interval(Real, 0, None, closed="neither"), None],
                          "mode": Choice("RGB", "L")}
"""
from __future__ import annotations

import math
import os
from numbers import Integral, Real
from typing import Any

from .errors import NoisyLabelsError

__all__ = ["Constraint", "Interval", "Choice", "Type", "ListOf", "Integral", "Real",
           "POSITIVE", "NON_NEGATIVE", "POSITIVE_INT", "NON_NEGATIVE_INT", "BOOL", "PATH",
           "accepts", "allowed", "check_option", "check_declaration", "show"]

_CLOSED = ("both", "left", "right", "neither")
_NUMERIC = (int, float, Real, Integral)


def show(value: Any) -> str:
    """A value as a user writes it in YAML or on the command line, on one short line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = " ".join(repr(value).split())  # array reprs span lines
    return text if len(text) <= 60 else text[:57] + "..."


class Constraint:
    """What values one option accepts; ``describe`` completes "must be ..."."""

    def accepts(self, value: Any) -> bool:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe()})"


class Interval(Constraint):
    """A number of ``kind`` (Real or Integral) between ``low`` and ``high`` (None: unbounded).

    ``closed``: which ends are included, "both", "left", "right" or "neither". Booleans and NaN
    are never numbers here; infinity passes an unbounded end.
    """

    def __init__(self, kind: type, low: float | None = None, high: float | None = None, *, closed: str = "both"):
        if kind not in (Real, Integral, float, int):
            raise TypeError(f"Interval kind must be Real or Integral, got {kind!r}")
        if closed not in _CLOSED:
            raise ValueError(f"Interval closed must be one of {_CLOSED}, got {closed!r}")
        self.kind = Integral if kind in (Integral, int) else Real
        self.low, self.high, self.closed = low, high, closed

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, self.kind) or value != value:  # NaN != NaN
            return False
        left, right = self.closed in ("both", "left"), self.closed in ("both", "right")
        if self.low is not None and not (value >= self.low if left else value > self.low):
            return False
        return self.high is None or (value <= self.high if right else value < self.high)

    def describe(self) -> str:
        prefix = "a whole number " if self.kind is Integral else ""
        left, right = self.closed in ("both", "left"), self.closed in ("both", "right")
        if self.low is not None and self.high is not None:
            return f"{prefix}in {'[' if left else '('}{_bound(self.low)}, {_bound(self.high)}{']' if right else ')'}"
        if self.low is not None:
            return f"{prefix}{'>=' if left else '>'} {_bound(self.low)}"
        if self.high is not None:
            return f"{prefix}{'<=' if right else '<'} {_bound(self.high)}"
        return prefix.strip() or "a number"


def _bound(x: float) -> str:
    return "inf" if x == math.inf else f"{x:g}"


class Choice(Constraint):
    """One of the listed values; True and 1 are different choices."""

    def __init__(self, *values: Any):
        if not values:
            raise ValueError("Choice needs at least one value")
        self.values = values

    def accepts(self, value: Any) -> bool:
        return any(_same(value, v) for v in self.values)

    def describe(self) -> str:
        return "one of " + ", ".join(show(v) for v in self.values)


def _same(value: Any, choice: Any) -> bool:
    if isinstance(value, bool) != isinstance(choice, bool):
        return False
    try:
        return bool(value == choice)
    except (TypeError, ValueError):  # arrays compare elementwise
        return False


_TYPE_NAMES = {bool: "true or false", str: "a string", dict: "a mapping", list: "a list", object: "any value",
               os.PathLike: "a path"}


class Type(Constraint):
    """An instance of one of ``types``. A bool is no number: it passes only if ``bool`` is listed
    or no numeric type is. ``name`` replaces the generated description."""

    def __init__(self, *types: type, name: str | None = None):
        if not types or not all(isinstance(t, type) for t in types):
            raise TypeError(f"Type needs one or more types, got {types!r}")
        self.types, self.name = types, name

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool) and bool not in self.types and any(t in _NUMERIC for t in self.types):
            return False
        return isinstance(value, self.types)

    def describe(self) -> str:
        if self.name:
            return self.name
        return " or ".join(_TYPE_NAMES.get(t, f"a {t.__name__}") for t in self.types)


class ListOf(Constraint):
    """A list (or tuple) whose every entry satisfies ``item`` (a constraint or a list of them)."""

    def __init__(self, item: Any):
        check_declaration({"item": item})
        self.item = item

    def accepts(self, value: Any) -> bool:
        return isinstance(value, (list, tuple)) and all(accepts(self.item, v) for v in value)

    def describe(self) -> str:
        return f"a list with every entry {allowed(self.item)}"


# The constraints most options use.
POSITIVE = Interval(Real, 0, None, closed="neither")
NON_NEGATIVE = Interval(Real, 0, None, closed="left")
POSITIVE_INT = Interval(Integral, 1, None)
NON_NEGATIVE_INT = Interval(Integral, 0, None)
BOOL = Type(bool)
PATH = Type(str, os.PathLike, name="a file path")


def _alternatives(spec: Any) -> list:
    return list(spec) if isinstance(spec, (list, tuple)) else [spec]


def accepts(spec: Any, value: Any) -> bool:
    """Whether ``value`` satisfies a declared constraint (one of its alternatives)."""
    return any(value is None if c is None else c.accepts(value) for c in _alternatives(spec))


def allowed(spec: Any) -> str:
    """What a declared constraint allows, in words."""
    return " or ".join("null" if c is None else c.describe() for c in _alternatives(spec))


def check_option(where: str, option: str, spec: Any, value: Any) -> None:
    """A one-line NoisyLabelsError unless ``value`` satisfies ``spec``; ``where`` names the constructor."""
    if not accepts(spec, value):
        raise NoisyLabelsError(f"{where}: {option} must be {allowed(spec)}, got {show(value)}")


def check_declaration(constraints: Any) -> None:
    """A TypeError for a malformed declaration: a programming error, caught when registering."""
    if not isinstance(constraints, dict):
        raise TypeError(f"option constraints must be a dict of option name -> constraint, got {constraints!r}")
    for option, spec in constraints.items():
        for c in _alternatives(spec):
            if c is not None and not isinstance(c, Constraint):
                raise TypeError(f"option {option!r}: {c!r} is not a Constraint (Interval, Choice, Type, "
                                "ListOf) or None")

"""Name -> constructor registries: ``@REG.register("name")``, ``REG.get(name)``, ``REG.names("res*")``.

Constructors declare what their options accept (see ``options``): a class with an
``option_constraints`` attribute, a function with ``register(name, constraints={...})``.
``check_options`` and ``build`` reject unknown option names and values outside their constraint.
"""
from __future__ import annotations

import fnmatch
import inspect
from typing import Callable, Iterator, Optional, TypeVar

from .errors import NoisyLabelsError
from .options import check_declaration, check_option

T = TypeVar("T", bound=Callable)


class Registry:
    """A named collection of constructors. Registering a name twice is an error.

    ``fixed``: parameters every constructor has that the caller fills in (a model's num_classes),
    so they are never user options.
    """

    def __init__(self, kind: str, fixed: tuple[str, ...] = ()):
        self.kind = kind
        self.fixed = tuple(fixed)
        self._items: dict[str, Callable] = {}
        self._constraints: dict[str, dict] = {}  # functions' declarations; classes carry their own

    def register(self, name: str, constraints: Optional[dict] = None) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} '{name}' is already registered")
            if constraints is not None and inspect.isclass(obj):
                raise ValueError(f"{self.kind} '{name}' is a class: declare option_constraints on it instead")
            check_declaration(constraints if constraints is not None else getattr(obj, "option_constraints", {}))
            self._items[name] = obj
            if constraints is not None:
                self._constraints[name] = dict(constraints)
            return obj

        return decorator

    def get(self, name: str) -> Callable:
        if name not in self._items:
            raise NoisyLabelsError(
                f"unknown {self.kind} '{name}'; choose one of: {', '.join(self.names())}"
            )
        return self._items[name]

    def constraints(self, name: str) -> dict:
        """The declared constraints of ``name``'s options (option -> constraint)."""
        obj = self.get(name)
        return self._constraints.get(name) or dict(getattr(obj, "option_constraints", {}))

    def accepted(self, name: str, given: tuple[str, ...] = ()) -> list[str]:
        """The option names ``name`` takes: its named parameters, plus, when it forwards
        ``**kwargs``, the declared constraint keys (the options it passes on)."""
        params = inspect.signature(self.get(name)).parameters
        skip = set(given) | set(self.fixed) | {"self"}
        names = [n for n, p in params.items() if n not in skip
                 and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if any(p.kind == p.VAR_KEYWORD for p in params.values()):
            names += [n for n in self.constraints(name) if n not in names and n not in skip]
        return names

    def check_options(self, name: str, options: dict, given: tuple[str, ...] = ()) -> None:
        """Raise a one-line error for an option ``name`` does not take, or a value outside its
        declared constraint.

        ``given``: parameter names the caller fills in itself, so they are not user options.
        """
        accepted = self.accepted(name, given)
        unknown = sorted(set(options) - set(accepted))
        if unknown:
            raise NoisyLabelsError(
                f"{self.kind} '{name}' has no option {', '.join(unknown)}; accepted: {', '.join(accepted) or 'none'}"
            )
        constraints = self.constraints(name)
        for option, value in options.items():
            if option in constraints:
                check_option(f"{self.kind} '{name}'", option, constraints[option], value)

    def build(self, name: str, *args, **options):
        """Call the constructor registered as ``name`` after checking the options."""
        positional = list(inspect.signature(self.get(name)).parameters)[: len(args)]
        user = {k: v for k, v in options.items() if k not in self.fixed}  # fixed ones come from the caller
        self.check_options(name, user, given=tuple(positional))
        return self.get(name)(*args, **options)

    def names(self, pattern: str = "*") -> list[str]:
        return sorted(n for n in self._items if fnmatch.fnmatch(n, pattern))

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

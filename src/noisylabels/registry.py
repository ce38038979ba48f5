"""Name -> constructor registries: ``@REG.register("name")``, ``REG.get(name)``, ``REG.names("res*")``."""
from __future__ import annotations

import fnmatch
import inspect
from typing import Callable, Iterator, TypeVar

from .errors import NoisyLabelsError

T = TypeVar("T", bound=Callable)


class Registry:
    """A named collection of constructors. Registering a name twice is an error."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, Callable] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} '{name}' is already registered")
            self._items[name] = obj
            return obj

        return decorator

    def get(self, name: str) -> Callable:
        if name not in self._items:
            raise NoisyLabelsError(
                f"unknown {self.kind} '{name}'; choose one of: {', '.join(self.names())}"
            )
        return self._items[name]

    def check_options(self, name: str, options: dict, given: tuple[str, ...] = ()) -> None:
        """Raise a clear error for option names that the constructor ``name`` does not take.

        ``given``: parameter names the caller fills in itself, so they are not user options.
        """
        params = inspect.signature(self.get(name)).parameters
        if any(p.kind == p.VAR_KEYWORD for p in params.values()):
            return
        accepted = [n for n, p in params.items() if n not in given and n != "self"
                    and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
        unknown = sorted(set(options) - set(accepted))
        if unknown:
            raise NoisyLabelsError(
                f"{self.kind} '{name}' has no option {', '.join(unknown)}; accepted: {', '.join(accepted) or 'none'}"
            )

    def build(self, name: str, *args, **options):
        """Call the constructor registered as ``name`` after checking the option names."""
        positional = list(inspect.signature(self.get(name)).parameters)[: len(args)]
        self.check_options(name, options, given=tuple(positional))
        return self.get(name)(*args, **options)

    def names(self, pattern: str = "*") -> list[str]:
        return sorted(n for n in self._items if fnmatch.fnmatch(n, pattern))

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

"""Your own methods, losses, models or datasets, registered by importing a file or module of yours
(``noisylabels train --plugin my_method.py --method my_method``)."""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path

from .errors import NoisyLabelsError

LOADED: list[str] = []  # the sources loaded in this process, in order (child processes may repeat them)


def load_plugin(source: str) -> None:
    """Import ``source``: a ``.py`` file (loaded once per process) or an importable module name.
    Its ``@REGISTRY.register`` decorators add the names it defines."""
    if source.endswith(".py"):
        path = Path(source).resolve()
        if not path.is_file():
            raise NoisyLabelsError(f"plugin file {source} not found; pass the path of a .py file that registers "
                                   "your method, loss, model or dataset")
        name = f"noisylabels_plugin_{hashlib.sha1(str(path).encode()).hexdigest()[:12]}"
        if name in sys.modules:
            return
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as error:
            del sys.modules[name]
            raise NoisyLabelsError(f"plugin {source} failed to import ({type(error).__name__}: {error}); "
                                   "fix the file") from None
        LOADED.append(str(path))
        return
    try:
        importlib.import_module(source)
    except ImportError as error:
        raise NoisyLabelsError(f"plugin module {source!r} cannot be imported ({error}); pass a .py file or an "
                               "installed module name") from None
    if source not in LOADED:
        LOADED.append(source)

"""Finding a dataset's folder: explicit path, then ``$NOISYLABELS_DATA``, then system locations.

``SYSTEM_DATA_DIRS`` is read here at call time, so tests monkeypatch
``noisylabels.data.loaders.lookup.SYSTEM_DATA_DIRS`` (patching the re-export in the package
``__init__`` would not reach ``find_data_dir``).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Sequence, Union

from ...errors import NoisyLabelsError
from .common import PathLike

DATA_ENV_VAR = "NOISYLABELS_DATA"

# Where distribution packages install datasets; a module constant so tests can monkeypatch it.
SYSTEM_DATA_DIRS: dict[str, tuple[str, ...]] = {
    "fashion_mnist": ("/usr/share/datasets/fashion-mnist",),  # Debian: dataset-fashion-mnist
}

_WHERE_TO_POINT = f"pass --data-path DIR or set {DATA_ENV_VAR}=DIR"
DOWNLOAD_HINTS: dict[str, str] = {
    "fashion_mnist": (
        "install it with `apt-get install dataset-fashion-mnist`, or put the four Fashion-MNIST IDX files "
        f"(train-images-idx3-ubyte[.gz] etc.) in a folder and {_WHERE_TO_POINT}"
    ),
    "mnist": (
        "put the four MNIST IDX files (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], "
        f"t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]) in a folder and {_WHERE_TO_POINT}"
    ),
    "cifar10": (
        "download the CIFAR-10 python version (cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html), "
        f"extract it and {_WHERE_TO_POINT} (the cifar-10-batches-py folder or its parent)"
    ),
    "cifar100": (
        "download the CIFAR-100 python version (cifar-100-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html), "
        f"extract it and {_WHERE_TO_POINT} (the cifar-100-python folder or its parent)"
    ),
}


def find_data_dir(
    dataset_name: str,
    path: Optional[PathLike],
    required_files: Sequence[Union[str, tuple[str, ...]]],
    subdirs: Sequence[str] = (),
) -> Path:
    """The folder holding all ``required_files`` for ``dataset_name``.

    Looks, in order, in: the explicit ``path``; ``$NOISYLABELS_DATA/<dataset_name>`` (also with
    ``-`` for ``_``) and ``$NOISYLABELS_DATA``; the system locations in ``SYSTEM_DATA_DIRS``.
    Each place is tried as-is and with each of ``subdirs`` appended (e.g. an archive's folder).

    Parameters
    ----------
    required_files : file names; an entry that is a tuple lists acceptable alternatives
        (e.g. plain or ``.gz``).
    subdirs : folder names the files may sit in below each place.

    Raises
    ------
    NoisyLabelsError : an explicit ``path`` that is missing or lacks the files (no fall-through,
        since the user asked for that folder), or nothing found anywhere; the message says
        where it looked and how to get the data.
    """
    hint = DOWNLOAD_HINTS.get(dataset_name, f"put the files in a folder and {_WHERE_TO_POINT}")
    if path is not None:
        root = Path(path).expanduser()
        if not root.exists():
            raise NoisyLabelsError(f"{dataset_name}: data path {root} does not exist; {hint}")
        if not root.is_dir():
            raise NoisyLabelsError(
                f"{dataset_name}: data path {root} is a file; pass the folder that holds "
                f"{_describe_files(required_files)}"
            )
        found = _dir_holding(root, required_files, subdirs)
        if found is None:
            closest = next((root / s for s in subdirs if (root / s).is_dir()), root)
            missing = [f for f in required_files if not _existing_file(closest, f)]
            raise NoisyLabelsError(f"{dataset_name}: {closest} lacks {_describe_files(missing)}; {hint}")
        return found

    candidates: list[Path] = []
    looked: list[str] = []
    env_value = os.environ.get(DATA_ENV_VAR)
    if env_value:
        base = Path(env_value).expanduser()
        for candidate in (base / dataset_name, base / dataset_name.replace("_", "-"), base):
            if candidate not in candidates:
                candidates.append(candidate)
    else:
        looked.append(f"${DATA_ENV_VAR} (not set)")
    candidates += [Path(p) for p in SYSTEM_DATA_DIRS.get(dataset_name, ())]

    for candidate in candidates:
        found = _dir_holding(candidate, required_files, subdirs)
        if found is not None:
            return found
        looked.append(str(candidate))
    raise NoisyLabelsError(f"{dataset_name} data not found (looked in: {', '.join(looked)}); {hint}")


def _alternatives(entry: Union[str, tuple[str, ...]]) -> tuple[str, ...]:
    return entry if isinstance(entry, tuple) else (entry,)


def _existing_file(folder: Path, entry: Union[str, tuple[str, ...]]) -> Optional[Path]:
    """The first alternative of ``entry`` present in ``folder``, or None."""
    for name in _alternatives(entry):
        if (folder / name).is_file():
            return folder / name
    return None


def _dir_holding(root: Path, required_files, subdirs: Sequence[str]) -> Optional[Path]:
    for folder in (root, *(root / s for s in subdirs)):
        if folder.is_dir() and all(_existing_file(folder, f) for f in required_files):
            return folder
    return None


def _describe_files(entries) -> str:
    return ", ".join(" or ".join(_alternatives(e)) for e in entries)

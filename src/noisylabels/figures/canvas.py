"""The drawing ground shared by every figure: an off-screen Agg figure, written atomically as PNG.

The Figure API with an explicit Agg canvas is used instead of pyplot, so plotting here never
changes the user's backend or leaves figures open in pyplot's global registry.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..io import atomic_path

DPI = 100


def to_numpy(x) -> np.ndarray:
    """Any array-like or tensor (on any device) -> numpy array."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def new_figure(figsize: tuple[float, float]) -> Figure:
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)  # attaches itself to fig; no pyplot, no global state
    return fig


def save_png(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` to ``path`` so that ``path`` is never a half-written file."""
    path = Path(path)
    with atomic_path(path) as tmp:
        # The temp name ends in ".tmp", so the format cannot be inferred from the suffix.
        fig.savefig(tmp, format="png", dpi=DPI)
    return path


def class_title(c: int, class_names: Optional[Sequence[str]]) -> str:
    """The name of class ``c``, or "class c" when the data set names none."""
    if class_names is not None and 0 <= c < len(class_names):
        return str(class_names[c])
    return f"class {c}"


__all__ = ["DPI", "class_title", "new_figure", "save_png", "to_numpy"]

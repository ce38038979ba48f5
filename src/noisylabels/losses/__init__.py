"""Per-sample losses: (logits (B, C), labels (B,)) -> (B,) tensor. The caller reduces.

Every loss subclasses ``Loss`` (base.py), which checks the pair once and has the engine's hooks.

Importing a family module registers its losses under their names (see LOSSES.names()).
"""
from .base import Loss
from .bitempered import BiTemperedLoss, tempered_softmax
from .ce import CrossEntropy
from .generalized import GeneralizedCrossEntropy, NormalizedGeneralizedCrossEntropy
from .normalized import FocalLoss, NCEAndRCE, NormalizedCrossEntropy, NormalizedFocalLoss
from .polysoft import PolySoftLoss
from .registry import LOSSES, create_loss
from .sparse import SR_PRESETS, SparseRegularization
from .squared import SquaredLoss
from .symmetric import MeanAbsoluteError, ReverseCrossEntropy, SymmetricCrossEntropy

__all__ = [
    "LOSSES", "Loss", "create_loss", "CrossEntropy",
    "MeanAbsoluteError", "ReverseCrossEntropy", "SymmetricCrossEntropy",
    "GeneralizedCrossEntropy", "NormalizedGeneralizedCrossEntropy",
    "NormalizedCrossEntropy", "NCEAndRCE", "FocalLoss", "NormalizedFocalLoss",
    "BiTemperedLoss", "tempered_softmax",
    "PolySoftLoss", "SparseRegularization", "SR_PRESETS", "SquaredLoss",
]

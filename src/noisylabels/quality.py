"""How a training run's stored statistics become per-sample label quality, described as data.

A training method declares a ``LabelQuality`` (in its ``MethodInfo``); the run records it in
metrics.json, and ``label_quality_scores(run=..., method="auto")`` reads it back, so detection
knows no method by name. ``NAMED`` holds the scores ``method=`` may also ask for by name.
This module is plain data: methods and detection both import it, it imports neither.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional

from .errors import NoisyLabelsError

HISTORIES = ("mean_loss", "last_loss", "mean_margin")


@dataclass(frozen=True)
class LabelQuality:
    """Where a run's per-sample quality comes from.

    value: a per-sample value the method stores in stats.pt (``trainer.stats.set_value``), used
        when the run has it; None: computed from the recorded histories.
    higher_is_cleaner: the direction of ``value``.
    history: the fallback (or the only source) when ``value`` is absent: ``mean_loss`` (epoch-mean
        loss), ``last_loss`` (the last recorded loss) or ``mean_margin`` (epoch-mean logit margin,
        i.e. AUM); None: the value is required.
    classwise: min-max normalise the loss-like score within each observed class (RSL's rule).
    flag_value / flag_below: the method's own flags, if it decides them: a stored value and
        whether a sample is flagged when it is not above 0.5 (clean probabilities) rather than above it
        (a 0/1 flag).
    """

    value: Optional[str] = None
    higher_is_cleaner: bool = False
    history: Optional[str] = "mean_loss"
    classwise: bool = False
    flag_value: Optional[str] = None
    flag_below: bool = False

    def __post_init__(self):
        if self.history not in HISTORIES + (None,):
            raise ValueError(f"LabelQuality.history must be one of {HISTORIES} or None, got {self.history!r}")
        if self.value is None and self.history is None:
            raise ValueError("LabelQuality needs a value, a history or both")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw, where: str) -> "LabelQuality":
        fields = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(raw, dict) or set(raw) - fields:
            raise NoisyLabelsError(f"{where}: method_info.quality is not a label-quality description "
                                   f"(keys: {', '.join(sorted(fields))}); re-run the training or pass method=")
        try:
            return cls(**raw)
        except ValueError as error:
            raise NoisyLabelsError(f"{where}: {error}; re-run the training or pass method=") from None


# The scores ``method=`` can name for a run folder (the training method's own one is "auto").
NAMED = {
    "classwise_loss": LabelQuality(value="score", history="mean_loss", classwise=True),
    "small_loss": LabelQuality(history="last_loss"),
    "aum": LabelQuality(value="aum", higher_is_cleaner=True, history="mean_margin", flag_value="flagged"),
    "clean_prob": LabelQuality(value="clean_prob", higher_is_cleaner=True, history=None, flag_value="clean_prob",
                               flag_below=True),
    "mentor_weight": LabelQuality(value="mentor_weight", higher_is_cleaner=True, history=None),
}

"""Which epoch a run reports without looking at the test set: the one with the best validation accuracy.

The validation split holds the labels as the user has them (noisy under label noise), so this is the
rule a practitioner can apply. The best test accuracy over epochs (``best_test_acc``) is an oracle:
it picks the epoch with the test labels.
"""
from __future__ import annotations

from typing import Optional

NOISY_RULE = "best noisy-validation accuracy"
CLEAN_RULE = "best validation accuracy"


def selected_epoch(history: list[dict], key: str = "val_acc") -> Optional[int]:
    """0-based index of the epoch with the highest ``key`` (the first on ties); None when no epoch has it."""
    scored = [(value, i) for i, row in enumerate(history) if (value := row.get(key)) is not None]
    if not scored:
        return None
    best = max(value for value, _ in scored)
    return next(i for value, i in scored if value == best)


def selection_metrics(history: list[dict], val) -> dict:
    """The metrics.json keys of the selection rule; Nones when the run has no validation split.

    val: the validation ``LabeledData`` or None; its labels are noisy when they differ from its truth.
    """
    at = selected_epoch(history) if val is not None else None
    if at is None:
        return {"selected_epoch": None, "selected_test_acc": None, "best_val_acc": None, "selection_rule": None}
    noisy = val.true_labels is not None and bool((val.true_labels != val.labels).any())
    return {"selected_epoch": at + 1, "selected_test_acc": history[at]["test_acc"],
            "best_val_acc": history[at]["val_acc"], "selection_rule": NOISY_RULE if noisy else CLEAN_RULE}

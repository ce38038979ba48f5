"""The epoch a run reports without the test set: the best validation accuracy, first on ties."""
import torch

from noisylabels.data import LabeledData
from noisylabels.model_selection import selected_epoch, selection_metrics

HISTORY = [{"epoch": 1, "val_acc": 0.5, "test_acc": 0.6}, {"epoch": 2, "val_acc": 0.7, "test_acc": 0.65},
           {"epoch": 3, "val_acc": 0.7, "test_acc": 0.9}, {"epoch": 4, "val_acc": 0.6, "test_acc": 0.8}]


def val_split(true_labels=None) -> LabeledData:
    return LabeledData(torch.zeros(4, 2), torch.tensor([0, 1, 0, 1]), 2, true_labels)


def test_the_first_of_tied_best_validation_epochs_is_selected():
    assert selected_epoch(HISTORY) == 1
    assert selected_epoch([]) is None and selected_epoch([{"test_acc": 0.9}]) is None
    assert selected_epoch([{"val_acc": None}, {"val_acc": 0.1}]) == 1


def test_selection_metrics_with_and_without_a_validation_split():
    noisy = selection_metrics(HISTORY, val_split(torch.tensor([0, 1, 1, 1])))
    # Epoch 3 has the best test accuracy (the oracle), but the rule cannot see it: epoch 2.
    assert noisy == {"selected_epoch": 2, "selected_test_acc": 0.65, "best_val_acc": 0.7,
                     "selection_rule": "best noisy-validation accuracy"}
    for clean in (val_split(), val_split(torch.tensor([0, 1, 0, 1]))):
        assert selection_metrics(HISTORY, clean)["selection_rule"] == "best validation accuracy"
    assert selection_metrics(HISTORY, None) == {"selected_epoch": None, "selected_test_acc": None,
                                                "best_val_acc": None, "selection_rule": None}

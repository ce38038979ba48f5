"""noisylabels: train deep classifiers on noisy labels, and find the wrong labels."""
__version__ = "0.1.0"

from .bench import run_bench
from .config import Config, load_config
from .data import DATASETS, DeviceLoader, LabeledData, Splits, load_dataset
from .detection import (Recorder, detection_metrics, find_label_issues, label_quality_scores, rank_label_issues,
                        label_issues_dataframe, suggested_labels, write_label_issues_csv)
from .engine import Trainer, train
from .errors import NoisyLabelsError
from .losses import LOSSES, create_loss
from .methods import METHODS, Method, StepOutput
from .models import MODELS, create_model
from .noise import NOISE, make_noise, noise_summary
from .stats import SampleStats

__all__ = [
    "Config", "load_config", "DATASETS", "DeviceLoader", "LabeledData", "Splits", "load_dataset",
    "Trainer", "train", "NoisyLabelsError", "LOSSES", "create_loss", "METHODS", "Method", "StepOutput",
    "MODELS", "create_model", "NOISE", "make_noise", "noise_summary", "SampleStats",
    "Recorder", "label_quality_scores", "rank_label_issues", "find_label_issues", "suggested_labels",
    "write_label_issues_csv", "label_issues_dataframe", "NoisyLabelClassifier", "detection_metrics", "run_bench",
]


def __getattr__(name: str):
    # The scikit-learn estimator is loaded on first use: importing scikit-learn costs seconds that
    # the command line and the engine do not need.
    if name == "NoisyLabelClassifier":
        from .estimator import NoisyLabelClassifier

        return NoisyLabelClassifier
    raise AttributeError(f"module 'noisylabels' has no attribute {name!r}")

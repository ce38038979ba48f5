"""noisylabels: train deep classifiers on noisy labels, and find the wrong labels."""
__version__ = "0.1.0"

from .config import Config, load_config
from .data import DATASETS, DeviceLoader, LabeledData, Splits, load_dataset
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
]

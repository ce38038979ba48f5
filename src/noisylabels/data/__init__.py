"""Data: in-memory splits, loaders by name, the device-resident batch loader, augmentations."""
from .augment import make_augment, random_crop, random_flip
from .dataset import LabeledData, Splits
from .device_loader import Batch, DeviceLoader
from .loaders import DATASETS, load_dataset
from .split import stratified_split, stratified_subset

__all__ = ["LabeledData", "Splits", "Batch", "DeviceLoader", "DATASETS", "load_dataset", "make_augment",
           "random_crop", "random_flip", "stratified_split", "stratified_subset"]

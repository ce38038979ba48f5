"""Classifier backbones: ``create_model(name, num_classes, in_shape, **options)``."""
from .factory import MODELS, create_model

# Importing each family registers its models in MODELS.
from . import cnn, mlp, resnet, wrn  # noqa: F401

__all__ = ["MODELS", "create_model"]

"""Training methods, registered by name. Each is one small file over the one engine."""
from . import coteaching, erm, rsl, small_loss
from .base import METHODS, Method, StepOutput

__all__ = ["METHODS", "Method", "StepOutput", "coteaching", "erm", "rsl", "small_loss"]

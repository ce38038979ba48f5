"""Training methods, registered by name. Each is one small file over the one engine."""
from . import erm
from .base import METHODS, Method, StepOutput

__all__ = ["METHODS", "Method", "StepOutput", "erm"]

"""Training methods, registered by name. Each is one small file over the one engine."""
from . import aum, coteaching, dividemix, erm, mentormix, rsl, rsl_mixmatch, small_loss
from .base import METHODS, Method, MethodInfo, RunContext, StepOutput

__all__ = ["METHODS", "Method", "MethodInfo", "RunContext", "StepOutput", "aum", "coteaching", "dividemix", "erm", "mentormix", "rsl", "rsl_mixmatch", "small_loss"]

"""Training methods, registered by name. Each is one small file over the one engine."""
from . import adaptive_loss, aum, aux, coteaching, dividemix, erm, mentormix, rdi, rsl, rsl_mixmatch, self_ensemble, small_loss
from .base import METHODS, Method, MethodInfo, RunContext, StepOutput

__all__ = ["METHODS", "Method", "MethodInfo", "RunContext", "StepOutput", "adaptive_loss", "aum", "aux", "coteaching",
           "dividemix", "erm", "mentormix", "rdi", "rsl", "rsl_mixmatch", "self_ensemble", "small_loss"]

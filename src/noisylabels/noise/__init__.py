"""Label noise: generators registered by name, and summaries of how noisy a label set is."""
from .generators import NOISE, make_noise
from .summary import estimate_transition, format_noise_summary, noise_summary

__all__ = ["NOISE", "make_noise", "noise_summary", "estimate_transition", "format_noise_summary"]

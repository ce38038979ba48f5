"""Area under the margin (Pleiss et al., NeurIPS 2020): threshold samples and the flagging rule.

A sample's AUM is its logit margin z_y - max_{k != y} z_k (``logit_margin``) averaged over the
measured training steps. Threshold samples are relabelled to a fake extra class, so they are
mislabeled by construction; a real sample whose AUM is below almost all of theirs is flagged.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import torch

from ..errors import NoisyLabelsError
from .checks import check_tensor, is_real


def assign_threshold_samples(num_samples: int, num_classes: int, generator: torch.Generator,
                             exclude: Optional[torch.Tensor] = None) -> torch.Tensor:
    """(N,) bool (on the CPU): N // (C+1) random samples, none of them in ``exclude``.

    N/(C+1) makes the fake class as large as an average real one. Pass the earlier runs' sets
    as ``exclude`` so every run's threshold samples are disjoint from the others'.
    """
    count = num_samples // (num_classes + 1)
    if count == 0:
        raise NoisyLabelsError(f"aum needs at least {num_classes + 1} training samples (C+1) to draw threshold "
                               f"samples, got {num_samples}")
    if exclude is not None and tuple(exclude.shape) != (num_samples,):
        raise NoisyLabelsError(f"aum exclude must be a ({num_samples},) mask, one entry per sample, got shape "
                               f"{tuple(exclude.shape)}")
    free = torch.ones(num_samples, dtype=torch.bool) if exclude is None else ~exclude.cpu().bool()
    candidates = free.nonzero().flatten()
    if len(candidates) < count:
        raise NoisyLabelsError(f"aum cannot draw {count} more threshold samples from the {len(candidates)} samples "
                               "left over by earlier runs; use fewer runs")
    chosen = candidates[torch.randperm(len(candidates), generator=generator)[:count]]
    mask = torch.zeros(num_samples, dtype=torch.bool)
    mask[chosen] = True
    return mask


def threshold_labels(labels: torch.Tensor, is_threshold: torch.Tensor, num_classes: int) -> torch.Tensor:
    """The labels a detection run trains on: threshold samples get the fake class ``num_classes``."""
    if is_threshold.shape != labels.shape:
        raise NoisyLabelsError(f"threshold_labels: is_threshold has shape {tuple(is_threshold.shape)} but labels "
                               f"{tuple(labels.shape)}; give one entry per sample")
    is_threshold = is_threshold.bool()
    return torch.where(is_threshold.to(labels.device), torch.full_like(labels, num_classes), labels)


def aum_threshold(aum: torch.Tensor, is_threshold: torch.Tensor, percentile: float = 99.0) -> float:
    """The AUM below which a real sample is flagged.

    The official rule (asappresearch/aum, ``generate_aum_details``) flags a sample when more than
    (100 - percentile)% of the threshold samples have a strictly larger AUM. That is the same as
    ``aum < t`` for t = the (k+1)-th largest threshold AUM, k = floor((100 - percentile)% of M):
    an order statistic, no interpolation.
    """
    if not (is_real(percentile) and 0 < percentile <= 100):
        raise NoisyLabelsError(f"aum percentile must be in (0, 100], got {percentile!r}")
    is_threshold = _check_mask(aum, is_threshold)
    values = aum[is_threshold.to(aum.device)]
    if len(values) == 0:
        raise NoisyLabelsError("aum needs at least one threshold sample to set the flagging threshold")
    # The tolerance keeps float noise in (100-p)*M/100 from moving an exact integer down by one.
    allowed = math.floor((100 - percentile) * len(values) / 100 + 1e-9)
    return values.sort(descending=True).values[allowed].item()


def aum_flags(aum: torch.Tensor, is_threshold: torch.Tensor, percentile: float = 99.0) -> torch.Tensor:
    """(N,) bool: real (non-threshold) samples whose AUM is below the threshold samples' cut-off
    (``aum_threshold``). Threshold samples are never flagged: they are not real samples in this run."""
    is_threshold = _check_mask(aum, is_threshold).to(aum.device)
    return (aum < aum_threshold(aum, is_threshold, percentile)) & ~is_threshold


def combine_runs(flags_list: Sequence[torch.Tensor], threshold_list: Sequence[torch.Tensor]) -> torch.Tensor:
    """(N,) bool drop mask over runs: a sample is dropped if it is flagged in every run in which it
    was a real sample (a run where it was a threshold sample gives no vote). A sample that never
    voted is kept, as in the official code (its vote count is clamped to one)."""
    if len(flags_list) == 0 or len(flags_list) != len(threshold_list):
        raise NoisyLabelsError(f"combine_runs needs one threshold mask per flag mask, got {len(flags_list)} "
                               f"flag masks and {len(threshold_list)} threshold masks")
    shapes = {tuple(m.shape) for m in (*flags_list, *threshold_list)}
    if len(shapes) != 1 or len(next(iter(shapes))) != 1:
        raise NoisyLabelsError(f"combine_runs needs (N,) masks of one length, got shapes {sorted(shapes)}")
    flags = torch.stack([f.bool() for f in flags_list])
    voting = ~torch.stack([t.bool().to(flags.device) for t in threshold_list])
    return (flags | ~voting).all(0) & voting.any(0)


def _check_mask(aum: torch.Tensor, is_threshold: torch.Tensor) -> torch.Tensor:
    """is_threshold as a bool mask shaped like aum (a 0/1 integer mask would index, not mask)."""
    check_tensor("aum", aum, "aum", 1)
    if not isinstance(is_threshold, torch.Tensor) or is_threshold.shape != aum.shape:
        raise NoisyLabelsError(f"aum is_threshold must be a mask shaped like aum {tuple(aum.shape)}, got "
                               f"{tuple(getattr(is_threshold, 'shape', ()))}")
    return is_threshold.bool()

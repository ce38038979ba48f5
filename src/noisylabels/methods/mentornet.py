"""MentorNets: what turns a sample's loss into a weight v in [0, 1] (Jiang et al., ICML 2018).

Every MentorNet here is called as ``mentor(losses, average, progress) -> v`` with the batch's (B,)
losses, the loss moving average (a 0-dim tensor) and the training progress, a fraction in [0, 1].

- ``threshold``: v = 1 where loss < moving average, else 0 (MentorMix's "simplest MentorNet").
- ``pd``: MentorNet-PD, a network trained to reproduce a predefined curriculum. The published one
  is a bi-LSTM over the loss history plus label and epoch embeddings; ours is a small MLP on
  (loss, loss - moving average, progress): the official code feeds a history of length one and
  all-zero labels, so nothing it uses is lost. We train it here, in seconds, on inputs drawn
  uniformly over a box, and cache it (no download): see ``load_mentornet_pd``.
"""
from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Callable, Optional

import torch
from torch import nn

from ..errors import NoisyLabelsError
from ..functional.mentor import threshold_mentor
from ..io import atomic_torch_save
from ..options import PATH, Choice
from ..registry import Registry

MENTORNETS = Registry("mentornet")

# The input box MentorNet-PD is trained on; inputs outside it are clamped to it. The official
# generator enumerates loss 0..30, loss - average -5..5 and epoch percentage 0..99; losses above
# 10 only get a clearer verdict, so clamping them loses nothing.
LOSS_RANGE = (0.0, 10.0)
DIFF_RANGE = (-5.0, 5.0)
SOFTNESS = 0.1  # width of the sigmoid that replaces the hard 0/1 step, so the target is learnable


# ----------------------------------------------------------------- predefined curricula
# Targets v*(loss, diff, progress), as in google/mentornet code/training_mentornet/models.py.
def self_paced(loss, diff, progress):
    """Self-paced learning: trust samples whose loss is below the moving average (diff <= 0)."""
    return torch.sigmoid(-diff / SOFTNESS)


def spcl_linear(loss, diff, progress):
    """Self-paced curriculum, linear (gamma 1): weight falls linearly from 1 at diff 0 to 0 at diff 1."""
    return (1.0 - diff).clamp(0.0, 1.0)


def focal(loss, diff, progress):
    """Focal-loss-like weighting (gamma 2): hard (high-loss) samples count more."""
    return (1.0 - torch.exp(-loss)) ** 2


def mentornet_pd(loss, diff, progress):
    """The official MentorNet-PD curriculum: everything until 19% of training (epoch percentage
    <= 18), self-paced until 90%, then spcl_linear; the switches are steep sigmoids in progress."""
    early = torch.sigmoid((0.19 - progress) / 0.01)
    late = torch.sigmoid((progress - 0.90) / 0.01)
    middle = (1 - late) * self_paced(loss, diff, progress) + late * spcl_linear(loss, diff, progress)
    return early + (1 - early) * middle


CURRICULA: dict[str, Callable] = {"self_paced": self_paced, "spcl_linear": spcl_linear, "focal": focal,
                                  "mentornet_pd": mentornet_pd}


def check_curriculum(name: str) -> None:
    if name not in CURRICULA:
        raise NoisyLabelsError(f"unknown MentorNet-PD curriculum '{name}'; choose one of: {', '.join(CURRICULA)}")


# ----------------------------------------------------------------- the network
class MentorNetPD(nn.Module):
    """MLP (loss, loss - moving average, progress in [0, 1]) -> weight in (0, 1) via a sigmoid."""

    def __init__(self, hidden: int = 32):
        super().__init__()
        self.hidden = hidden
        self.net = nn.Sequential(nn.Linear(3, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
                                 nn.Linear(hidden, 1))

    def logits(self, loss: torch.Tensor, diff: torch.Tensor, progress) -> torch.Tensor:
        progress = torch.as_tensor(progress, dtype=torch.float32, device=loss.device).expand_as(loss)
        features = torch.stack([loss.float().clamp(*LOSS_RANGE) / 5 - 1,  # each feature in [-1, 1]
                                diff.float().clamp(*DIFF_RANGE) / 5, progress.float() * 2 - 1], 1)
        return self.net(features).squeeze(1)

    def forward(self, loss: torch.Tensor, diff: torch.Tensor, progress) -> torch.Tensor:
        return torch.sigmoid(self.logits(loss, diff, progress))


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


def train_mentornet_pd(curriculum: str = "mentornet_pd", steps: int = 2000, batch_size: int = 1024,
                       lr: float = 0.01, hidden: int = 32, seed: int = 0) -> MentorNetPD:
    """Fit a MentorNet-PD to a curriculum on inputs drawn uniformly over the box (CPU, seconds).

    Binary cross-entropy against the soft targets, Adam with a cosine-decayed learning rate.
    Seeded, and the global RNG is left as it was, so a run gives the same results whether its
    MentorNet came from the cache or was trained just now.
    """
    check_curriculum(curriculum)
    target_fn = CURRICULA[curriculum]
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = MentorNetPD(hidden)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    for _ in range(steps):
        loss = _uniform(batch_size, *LOSS_RANGE, gen)
        diff = _uniform(batch_size, *DIFF_RANGE, gen)
        progress = torch.rand(batch_size, generator=gen)
        target = target_fn(loss, diff, progress)
        error = nn.functional.binary_cross_entropy_with_logits(net.logits(loss, diff, progress), target)
        opt.zero_grad(set_to_none=True)
        error.backward()
        opt.step()
        sched.step()
    return net.eval().requires_grad_(False)


@torch.no_grad()
def curriculum_error(net: MentorNetPD, curriculum: str, points: int = 41) -> float:
    """Mean absolute error between the network and its curriculum's (soft) target on a regular
    grid over the box (points per loss and diff axis, half as many over progress): points the
    random training draws never hit exactly."""
    check_curriculum(curriculum)
    device = next(net.parameters()).device
    axes = [torch.linspace(*LOSS_RANGE, points), torch.linspace(*DIFF_RANGE, points),
            torch.linspace(0.0, 1.0, points // 2 + 1)]
    loss, diff, progress = (t.flatten().to(device) for t in torch.meshgrid(*axes, indexing="ij"))
    return float((net(loss, diff, progress) - CURRICULA[curriculum](loss, diff, progress)).abs().mean())


# ----------------------------------------------------------------- the cache
CACHE_VERSION = 1  # bump when the network, the curricula or the training change


def cache_dir() -> Path:
    """$NOISYLABELS_CACHE, else $XDG_CACHE_HOME/noisylabels, else ~/.cache/noisylabels."""
    if os.environ.get("NOISYLABELS_CACHE"):
        return Path(os.environ["NOISYLABELS_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "noisylabels"


def load_mentornet_pd(curriculum: str = "mentornet_pd", cache: Optional[Path] = None) -> MentorNetPD:
    """The cached MentorNet-PD for ``curriculum`` (``cache``: a folder, default ``cache_dir()``),
    trained and saved first if the cache lacks it or holds one made by other settings."""
    check_curriculum(curriculum)
    path = Path(cache or cache_dir()) / f"mentornet_pd_{curriculum}.pt"
    key = {"version": CACHE_VERSION, "curriculum": curriculum, "hidden": 32, "seed": 0}
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        if saved.get("key") == key:
            net = MentorNetPD(key["hidden"])
            net.load_state_dict(saved["state_dict"])
            return net.eval().requires_grad_(False)
    except (OSError, RuntimeError, KeyError, AttributeError, EOFError, ValueError, pickle.UnpicklingError):
        pass  # missing, stale or unreadable: train a new one
    net = train_mentornet_pd(curriculum, hidden=key["hidden"], seed=key["seed"])
    try:
        atomic_torch_save(path, {"key": key, "state_dict": net.state_dict(),
                                 "mae": curriculum_error(net, curriculum)})
    except OSError:
        pass  # a read-only cache only costs retraining next time
    return net


# ----------------------------------------------------------------- the registry
@MENTORNETS.register("threshold")
class ThresholdMentor:
    """v = 1 where the loss is below the moving average, else 0."""

    option_constraints: dict = {}  # no options

    def __call__(self, losses: torch.Tensor, average: torch.Tensor, progress: float) -> torch.Tensor:
        return threshold_mentor(losses, average)

    def to(self, device) -> "ThresholdMentor":
        return self


@MENTORNETS.register("pd")
class PDMentor:
    """MentorNet-PD for a predefined ``curriculum`` (see CURRICULA), loaded from the cache or
    trained on first use. ``cache``: the cache folder (default ``cache_dir()``)."""

    option_constraints = {"curriculum": Choice(*CURRICULA), "cache": [PATH, None]}

    def __init__(self, curriculum: str = "mentornet_pd", cache: Optional[str] = None):
        self.curriculum = curriculum
        self.net = load_mentornet_pd(curriculum, Path(cache) if cache else None)

    @torch.no_grad()
    def __call__(self, losses: torch.Tensor, average: torch.Tensor, progress: float) -> torch.Tensor:
        losses = losses.detach().float()
        return self.net(losses, losses - average, progress)

    def to(self, device) -> "PDMentor":
        self.net.to(device)
        return self

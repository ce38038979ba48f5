"""MentorMix (Jiang, Huang, Liu, Yang, ICML 2020): weight, sample, mix up, weight again.

Per batch: a no-gradient forward gives each sample's cross-entropy; a MentorNet turns it (and its
difference to a moving average of the batch's p-th loss percentile) into a weight v; each sample is
mixed with a partner drawn from softmax(v), oriented so that a distrusted sample is dominated by its
partner; the network trains on the mixed batch with soft cross-entropy, optionally reweighted by the
MentorNet once more on the mixed losses. The first ``burn_in`` of training trusts every sample.

As the official code: burn-in counts optimiser steps (a fraction of all of them, 9% by default: the
official epoch percentage below 9), so it means the same at any batch size and budget; with the
second reweighting the L2 regularisation is scaled by the batch's mean second weight (the official
``decay_loss * mean(v)``). For that the method applies the run's weight decay itself, as an L2 term
wd/2 ||w||^2 in the loss (the gradient sgd and adam add), and the optimiser none.
"""
from __future__ import annotations

import math
from dataclasses import replace
from typing import Optional

import torch

from ..errors import NoisyLabelsError
from ..functional.mentor import LossMovingAverage, mentor_mix
from ..functional.mixmatch import soft_cross_entropy
from ..options import BOOL, POSITIVE, Choice, Interval, Real, Type
from ..quality import NAMED
from .base import METHODS, Method, MethodInfo, StepOutput
from .rates import AUTO, RATELESS_NOISE, estimate_rate, rate_report
from .mentornet import CURRICULA, MENTORNETS
from .semi import one_hot

# The official CIFAR-10 settings per noise rate (google-research mentormix/code/
# training_mentormix_command.sh): Beta(alpha, alpha), loss percentile p, second reweighting.
PRESETS = {
    "0.2": {"alpha": 2.0, "percentile": 0.8, "second_reweight": False},
    "0.4": {"alpha": 8.0, "percentile": 0.6, "second_reweight": False},
    "0.6": {"alpha": 8.0, "percentile": 0.6, "second_reweight": True},
    "0.8": {"alpha": 4.0, "percentile": 0.2, "second_reweight": True},
}


BURN_IN_PRESET = "0.2"  # preset=auto without a stated rate: the row in force until the estimate


def preset_for(noise_rate: float) -> str:
    """The preset row nearest a noise rate, configured or estimated (ties: the lower rate)."""
    return min(PRESETS, key=lambda row: (abs(float(row) - noise_rate), float(row)))


@METHODS.register("mentormix")
class MentorMix(Method):
    """Options: ``mentornet`` (threshold | pd), ``preset`` (auto | 0.2 | 0.4 | 0.6 | 0.8: the official
    CIFAR-10 alpha / percentile / second_reweight for that noise rate; auto picks the row nearest
    noise.rate, or without synthetic noise the row nearest the rate estimated at the end of burn-in,
    training with the 0.2 row until then), ``alpha``, ``percentile`` (a fraction in (0, 1]), ``second_reweight`` (each
    overrides the preset), ``burn_in`` (fraction of the optimiser steps with every weight forced to 1,
    0.09 as the official),
    ``ema_decay`` (the loss moving average's decay, 0.5), ``curriculum`` (pd only: one of
    CURRICULA, default mentornet_pd). Trains with (soft) cross-entropy: method.loss must stay ce."""
    info = MethodInfo(quality=NAMED["mentor_weight"], selects=True, rate_option="preset")
    # A preset may be given as a rate (0.4) or its name ("0.4"); mentornet is looked up in MENTORNETS.
    option_constraints = {
        "mentornet": Type(str), "preset": [Choice(AUTO, *PRESETS), Choice(*(float(r) for r in PRESETS))],
        "alpha": [POSITIVE, None], "percentile": [Interval(Real, 0, 1, closed="right"), None],
        "second_reweight": [BOOL, None], "burn_in": Interval(Real, 0, 1, closed="left"),
        "ema_decay": Interval(Real, 0, 1, closed="left"), "curriculum": [Choice(*CURRICULA), None],
    }

    def __init__(self, mentornet: str = "threshold", preset: str = AUTO, alpha: Optional[float] = None,
                 percentile: Optional[float] = None, second_reweight: Optional[bool] = None, burn_in: float = 0.09,
                 ema_decay: float = 0.5, curriculum: Optional[str] = None):
        MENTORNETS.get(mentornet)  # unknown name: the error lists the known ones
        preset = str(preset)
        if curriculum is not None and mentornet != "pd":
            raise NoisyLabelsError(f"mentormix curriculum only applies to mentornet=pd "
                                   f"(one of: {', '.join(CURRICULA)}); drop it or set mentornet=pd")
        self.mentornet, self.preset, self.burn_in, self.ema_decay = mentornet, preset, burn_in, ema_decay
        self.curriculum = curriculum or "mentornet_pd"
        self.given = {"alpha": alpha, "percentile": percentile, "second_reweight": second_reweight}
        self.steps_done, self.total_steps, self.burn_in_steps, self.last_burn_in = 0, 1, 0, True
        self.weight_decay = 0.0  # the weight decay this method applies itself (0: the optimiser's, if any)
        self.decay_scales: list = []  # this epoch's per-step scales of it (the mean second weights)
        self.rate_used: Optional[float] = None
        self.rate_estimate: Optional[float] = None
        self.rate_epoch: Optional[int] = None

    def setup(self, trainer):
        if trainer.config.method.loss != "ce":  # the mixed targets are soft: only CE is defined on them here
            raise NoisyLabelsError(f"mentormix trains with cross-entropy on mixed soft targets and would ignore "
                                   f"method.loss={trainer.config.method.loss}; leave method.loss at ce")
        noise, self.device = trainer.config.noise, trainer.device
        self.rate_source = "given" if self.preset != AUTO else "estimate" if noise.type in RATELESS_NOISE else "config"
        if self.rate_source == "estimate" and self.burn_in == 0:
            raise NoisyLabelsError("mentormix preset=auto without synthetic noise estimates the noise rate at the end "
                                   "of burn-in, and burn_in=0 leaves nothing to estimate from; set burn_in > 0 or "
                                   "give preset (0.2, 0.4, 0.6 or 0.8)")
        if self.rate_source == "config":  # the presets are keyed on the configured rate itself
            self.rate_used = float(noise.rate)
        self.use_preset(preset_for(self.rate_used) if self.rate_source == "config" else
                        BURN_IN_PRESET if self.rate_source == "estimate" else self.preset)
        self.total_steps = trainer.config.optim.epochs * max(1, len(trainer.loader))  # every epoch: the loader
        self.burn_in_steps = math.ceil(self.burn_in * self.total_steps)
        self.take_over_weight_decay(trainer)
        options = {"curriculum": self.curriculum} if self.mentornet == "pd" else {}
        self.mentor = MENTORNETS.build(self.mentornet, **options).to(trainer.device)
        # Two averages, as in the official code: one over clean-batch losses, one over mixed losses.
        self.average = LossMovingAverage(self.percentile, self.ema_decay)
        self.mixed_average = LossMovingAverage(self.percentile, self.ema_decay)

    def use_preset(self, preset: str) -> None:
        """Take a preset row's settings, except those given explicitly."""
        self.preset_used = preset
        settings = {k: (v if self.given[k] is None else self.given[k]) for k, v in PRESETS[preset].items()}
        self.alpha, self.percentile = float(settings["alpha"]), float(settings["percentile"])
        self.second_reweight = bool(settings["second_reweight"])

    def choose_preset(self, trainer) -> None:
        """At the first step after burn-in, without a stated rate: the row nearest the estimate from
        the (clean-batch CE) losses recorded so far."""
        self.rate_estimate = self.rate_used = estimate_rate(trainer, list(range(trainer.epoch + 1)))
        self.rate_epoch = trainer.epoch
        self.use_preset(preset_for(self.rate_estimate))
        self.average.percentile = self.mixed_average.percentile = self.percentile

    def take_over_weight_decay(self, trainer) -> None:
        """When the second reweighting is or may become on (preset chosen after burn-in) and the run
        has weight decay: a fresh optimiser without it; the loss carries it instead (``decay_loss``)."""
        optim = trainer.config.optim
        later = self.rate_source == "estimate" and self.given["second_reweight"] is None
        may_reweight = self.second_reweight or later
        if optim.weight_decay == 0 or not may_reweight:
            return
        if optim.name == "adamw":
            raise NoisyLabelsError("mentormix's second reweighting scales the L2 weight decay by the mean weight "
                                   "(as the official code), which adamw's decoupled decay cannot do; use optim.name "
                                   "sgd or adam, optim.weight_decay 0, or second_reweight false")
        self.weight_decay = optim.weight_decay
        trainer.restart_network(0, optim=replace(optim, weight_decay=0.0))

    def decay_loss(self, trainer, scale: torch.Tensor) -> torch.Tensor:
        """wd/2 * scale * ||w||^2 over network 0's parameters: the optimiser's L2 decay, scaled."""
        squares = sum(p.pow(2).sum() for p in trainer.models[0].parameters())
        return 0.5 * self.weight_decay * scale * squares

    def in_burn_in(self, step: int) -> bool:
        # Official: epoch percentage floor(100 * step / steps) < burn_in_epoch - 1, i.e. 9% for their 10.
        return step < self.burn_in_steps

    @torch.no_grad()
    def weigh(self, average: LossMovingAverage, losses: torch.Tensor, progress: float,
              burn_in: bool) -> torch.Tensor:
        """The MentorNet's (B,) weights; all 1 during burn-in (the average is updated regardless)."""
        v = self.mentor(losses, average.update(losses), progress)
        return torch.ones_like(v) if burn_in else v

    def on_epoch_start(self, trainer, epoch):
        self.decay_scales = []

    def training_step(self, trainer, batch):
        progress = self.steps_done / self.total_steps  # fraction of the optimiser steps, in [0, 1)
        self.last_burn_in = self.in_burn_in(self.steps_done)
        self.steps_done += 1
        if self.rate_source == "estimate" and self.rate_estimate is None and not self.last_burn_in:
            self.choose_preset(trainer)
        with torch.no_grad():  # the clean batch only sets the weights (and feeds the store)
            logits = trainer.forward(0, batch.x)
            losses = torch.nn.functional.cross_entropy(logits, batch.y, reduction="none")
            v = self.weigh(self.average, losses, progress, self.last_burn_in)
        trainer.stats.set_value("mentor_weight", batch.idx, v)
        targets = one_hot(batch.y, trainer.num_classes)
        mixed_x, mixed_y, _, _ = mentor_mix(batch.x, targets, v, self.alpha, trainer.loader.generator)
        mixed_losses = soft_cross_entropy(trainer.forward(0, mixed_x), mixed_y)
        scale = torch.ones((), device=mixed_losses.device)
        if self.second_reweight:
            v2 = self.weigh(self.mixed_average, mixed_losses.detach(), progress, self.last_burn_in)
            loss, scale = (v2 * mixed_losses).mean(), v2.mean()
        else:
            loss = mixed_losses.mean()
        if self.weight_decay:  # taken over from the optimiser: scaled by the mean second weight
            loss = loss + self.decay_loss(trainer, scale)
            self.decay_scales.append(scale.detach())
        return StepOutput(loss, losses, logits)

    def on_epoch_end(self, trainer, epoch):
        weights = trainer.stats.values.get("mentor_weight")
        if weights is None:
            return {}
        seen = ~torch.isnan(weights)
        metrics = {
            "mentor_weight_mean": float(weights[seen].mean()) if seen.any() else None,
            "loss_moving_average": None if self.average.value is None else float(self.average.value),
            "burn_in": self.last_burn_in,  # the epoch's last step still trusted every sample
        }
        if self.decay_scales:  # the epoch's mean multiple of the weight decay
            metrics["weight_decay_scale"] = float(torch.stack(self.decay_scales).mean())
        if epoch == self.rate_epoch:  # the estimate is logged in the epoch it was made
            metrics["noise_rate_estimate"] = self.rate_estimate
        # "Selected" = trusted (v >= 0.5): precision / recall against the truth when it is known.
        return {**metrics, **trainer.selection_metrics(weights.nan_to_num(0.0) >= 0.5)}

    def report(self, trainer) -> dict:
        """The settings in force (after the preset), for metrics.json."""
        return {"preset": self.preset_used, "alpha": self.alpha, "percentile": self.percentile,
                "second_reweight": self.second_reweight, "mentornet": self.mentornet,
                "curriculum": self.curriculum if self.mentornet == "pd" else None, "burn_in": self.burn_in,
                "burn_in_steps": self.burn_in_steps, "total_steps": self.total_steps,
                "weight_decay_in_loss": self.weight_decay,
                **rate_report(self.rate_used, self.rate_source, self.rate_estimate)}


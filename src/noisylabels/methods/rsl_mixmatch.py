"""Weighted MixMatch: RSL's second stage (Gui, Wang, Tian, IJCAI 2021).

Stage one is RSL's (plain loss, every sample's loss recorded, class-wise selection with weights).
Stage two trains a fresh network with MixMatch: the kept samples, with their observed labels, are
the labeled set, drawn by weighted sampling with replacement (the weights act through the sampler,
not the loss); every rejected sample is unlabeled. Adam (lr 0.002) and an EMA of the weights, which
is what evaluation uses, as published.

What keeps its meaning at any budget: stage one ends annealed (RSL's complete schedule); every
MixMatch epoch runs as many steps as a CE epoch over the whole training set, so a small kept set is
revisited several times an epoch (the official 1,024 iterations x 64 are 1.3 passes over CIFAR-10);
lambda_u ramps linearly in steps over the whole MixMatch stage (the official ramps over all 500
epochs); the views are crop + flip for images, as the official, and feature noise for vectors.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Optional

import torch

from ..data.augment import view_augment
from ..errors import NoisyLabelsError
from ..functional.mixmatch import EMA, guess_labels, linear_rampup
from ..options import NON_NEGATIVE, POSITIVE, POSITIVE_INT, Interval, Real, Type
from .base import METHODS, StepOutput
from .rsl import RSL
from .semi import LabeledUnlabeledEpoch, MixBatch, mixmatch_losses, one_hot


@METHODS.register("rsl_mixmatch")
class RSLMixMatch(RSL):
    """Options: every ``rsl`` option (selection), plus ``alpha`` (Beta(a, a) mixup, 0.75),
    ``temperature`` (sharpening, 0.5), ``lambda_u`` (75), ``rampup`` (lambda_u's linear ramp as a
    fraction of the MixMatch stage's steps; default 1, the whole stage, as the official code),
    ``ema_decay`` (0.999), ``lr`` (Adam, 0.002), ``iterations`` per stage-two epoch (default: the
    steps of a CE epoch over the whole training set), ``augment`` (the views: auto = crop + flip for
    images, feature noise for vectors). Stage two always trains a fresh network (``restart`` must
    stay true)."""
    # The RSL options are forwarded to RSL through **rsl_options, so they are declared here too.
    option_constraints = {
        **RSL.option_constraints, "alpha": POSITIVE, "temperature": POSITIVE, "lambda_u": NON_NEGATIVE,
        "rampup": Interval(Real, 0, 1), "ema_decay": Interval(Real, 0, 1, closed="left"), "lr": POSITIVE,
        "iterations": [POSITIVE_INT, None], "augment": Type(str),
    }

    def __init__(self, alpha: float = 0.75, temperature: float = 0.5, lambda_u: float = 75.0,
                 rampup: float = 1.0, ema_decay: float = 0.999, lr: float = 0.002,
                 iterations: Optional[int] = None, augment: str = "auto", **rsl_options):
        super().__init__(**rsl_options)
        self.alpha, self.temperature, self.lambda_u, self.rampup = alpha, temperature, lambda_u, rampup
        self.ema_decay, self.lr, self.iterations, self.augment_name = ema_decay, lr, iterations, augment
        self.ema: Optional[EMA] = None
        self.mix_steps, self.weight_u = 0, 0.0  # MixMatch steps taken; lambda_u's current ramped value

    def setup(self, trainer):
        super().setup(trainer)
        if self.stage1_epochs >= trainer.config.optim.epochs:
            raise NoisyLabelsError(f"rsl_mixmatch needs epochs after stage one: stage1_epochs={self.stage1_epochs} "
                                   f"leaves none of the {trainer.config.optim.epochs}; lower it or train longer")
        if not self.restart:
            raise NoisyLabelsError("rsl_mixmatch trains a fresh network in stage two (the official pipeline); "
                                   "restart=false is rsl's equal-compute variant: drop it or use method rsl")
        self.augment = view_augment(self.augment_name, trainer.data.train.in_shape)
        # At least a CE epoch's steps over the whole training set (the loader holds all of it now).
        self.num_steps = self.iterations or max(1, len(trainer.loader))
        self.ramp_steps = self.rampup * self.num_steps * (trainer.config.optim.epochs - self.stage1_epochs)

    def on_epoch_start(self, trainer, epoch):
        if epoch == self.stage1_epochs:
            adam = replace(trainer.config.optim, name="adam", lr=self.lr, weight_decay=0.0, schedule="constant",
                           warmup_epochs=0.0, grad_clip=None)
            trainer.restart_network(0, optim=adam)
            self.ema = EMA(trainer.models[0], self.ema_decay)

    def batches(self, trainer, epoch):
        if epoch < self.stage1_epochs:
            return trainer.loader
        labeled, unlabeled = self.selected.nonzero().flatten(), (~self.selected).nonzero().flatten()
        weights = self.weights[labeled] if self.weighted else None
        return LabeledUnlabeledEpoch(trainer, labeled, unlabeled, self.num_steps, weights=weights)

    def training_step(self, trainer, batch):
        if not isinstance(batch, MixBatch):
            return super().training_step(trainer, batch)
        gen = trainer.loader.generator
        x = self.augment(batch.labeled.x, gen)
        u1, u2 = self.augment(batch.unlabeled.x, gen), self.augment(batch.unlabeled.x, gen)
        with torch.no_grad():
            u_targets = guess_labels([trainer.forward(0, u1), trainer.forward(0, u2)], self.temperature)
        x_targets = one_hot(batch.labeled.y, trainer.num_classes)
        loss_x, loss_u, _ = mixmatch_losses(trainer, 0, [x], x_targets, [u1, u2], u_targets, self.alpha)
        self.weight_u = self.lambda_u * linear_rampup(self.mix_steps, 0, self.ramp_steps)  # in steps
        self.mix_steps += 1
        return StepOutput(loss_x + self.weight_u * loss_u)

    def on_epoch_end(self, trainer, epoch):
        row = super().on_epoch_end(trainer, epoch)
        return row if epoch < self.stage1_epochs else {**row, "mixmatch_steps": self.mix_steps,
                                                       "lambda_u_weight": self.weight_u}

    def after_step(self, trainer):
        if self.ema is not None:
            self.ema.update(trainer.models[0])

    def report(self, trainer):
        return {**super().report(trainer), "mixmatch_steps_per_epoch": self.num_steps,
                "lambda_u_ramp_steps": self.ramp_steps}

    def predict(self, trainer, x):
        return trainer.forward(0, x) if self.ema is None else self.ema.model(x).float()

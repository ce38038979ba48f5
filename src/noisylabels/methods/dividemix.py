"""DivideMix (Li, Socher, Hoi, ICLR 2020): co-divide with a per-network GMM, then MixMatch.

Two networks. Warm-up: plain CE on all samples (plus a confidence penalty for asymmetric noise).
Then, every epoch, each network's eval-mode per-sample loss, min-max normalised, gets a 2-component
GMM; w = the low-mean component's posterior is the clean probability, and w > p_threshold makes the
labeled set. Each network trains on the division made by the *other* one: labeled targets are
co-refined (w y + (1 - w) mean softmax over two views, sharpened), unlabeled targets co-guessed
(mean softmax of both networks over two views, sharpened), then MixMatch with a uniform-prior
penalty. Prediction: the sum of both networks' logits.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Optional, Union

import torch

from ..data.augment import view_augment
from ..diagnostics import selection_report
from ..errors import NoisyLabelsError
from ..functional.gmm import GMM1D, gmm_1d
from ..functional.mixmatch import guess_labels, linear_rampup, refine_labels, uniform_prior_penalty
from ..options import NON_NEGATIVE, POSITIVE, POSITIVE_INT, Choice, Interval, Real, Type
from ..quality import NAMED
from .base import METHODS, Method, MethodInfo, StepOutput
from .rates import AUTO, RATELESS_NOISE, estimate_rate, rate_report
from .semi import Chain, LabeledUnlabeledEpoch, MixBatch, mixmatch_losses, one_hot

ASYMMETRIC_NOISE = ("asymmetric", "pair")
PAPER_RAMPUP = 16 / 290  # lambda_u's ramp: 16 of the 290 epochs after the paper's CIFAR-10 warm-up
MAX_WARMUP = 0.3  # warmup=auto never warms up longer than this fraction of the budget
SEPARATED = 2.0  # Ashman's D at which the two loss components count as separated
PATIENCE = 2  # warm-up checks without a new best D after which the separation has stopped growing


def published_lambda_u(noise_type: str, rate: float, num_classes: int) -> float:
    """lambda_u from the paper's per-noise-level settings (CIFAR-10 for <= 10 classes, else
    CIFAR-100); 25 for a noise type the paper has no row for. An estimated rate is looked up as
    symmetric noise."""
    if noise_type in ASYMMETRIC_NOISE:
        return 0.0
    if noise_type not in ("symmetric", "uniform"):
        return 25.0
    if num_classes <= 10:
        return 0.0 if rate <= 0.2 else 25.0 if rate <= 0.8 else 50.0
    return 25.0 if rate <= 0.2 else 150.0


@contextmanager
def eval_mode(model: torch.nn.Module):
    mode = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(mode)


def ashman_d(gmm: GMM1D) -> float:
    """Ashman's D = |m1 - m2| sqrt(2 / (v1 + v2)) of a 2-component mixture: D >= 2 is the standard
    criterion for two separated (bimodal) components."""
    (m1, m2), (v1, v2) = gmm.means.tolist(), gmm.variances.tolist()
    return abs(m1 - m2) * math.sqrt(2.0 / (v1 + v2))


@METHODS.register("dividemix")
class DivideMix(Method):
    """Options: ``warmup`` ("auto", default: CE until both networks' loss GMMs are separated, see
    below; or a number of epochs), ``p_threshold`` (0.5), ``temperature`` (0.5), ``alpha`` (4),
    ``lambda_u`` ("auto": the paper's value for the configured noise type and rate; without synthetic
    noise, for the rate estimated at the first division), ``rampup`` (lambda_u's linear ramp as a
    fraction of the MixMatch stage's optimiser steps, 16/290: the paper's 16 ramp epochs of the 290
    after its warm-up), ``confidence_penalty`` ("auto": on for asymmetric and pair noise),
    ``augment`` (the views).

    ``warmup=auto``: the warm-up exists so that the co-divide GMM has two components to find (the
    paper's 10 CIFAR-10 epochs are about 3,900 steps, which means nothing at another budget or
    batch size). After every warm-up epoch both networks' normalised eval-mode losses get their
    GMM, and D is the smaller network's Ashman's D; the warm-up stops once D has reached 2
    (separated) and then gone 2 checks without a new best (the separation stopped growing: the
    networks begin to fit the wrong labels), after at least 1 epoch and at most 30% of the
    budget. Rank 0 decides; every check's D is in its row.
    """
    info = MethodInfo(quality=NAMED["clean_prob"], selects=True, rate_option="lambda_u")

    num_networks = 2
    # warmup's upper bound depends on the epoch budget: checked in setup.
    option_constraints = {
        "warmup": [Choice(AUTO), POSITIVE_INT], "p_threshold": Interval(Real, 0, 1, closed="neither"),
        "temperature": POSITIVE, "alpha": POSITIVE, "lambda_u": [Choice(AUTO), NON_NEGATIVE],
        "rampup": Interval(Real, 0, 1), "confidence_penalty": Choice("auto", True, False), "augment": Type(str),
    }

    def __init__(self, warmup: Union[str, int] = AUTO, p_threshold: float = 0.5, temperature: float = 0.5,
                 alpha: float = 4.0, lambda_u: Union[str, float] = AUTO, rampup: float = PAPER_RAMPUP,
                 confidence_penalty: Union[str, bool] = "auto", augment: str = "auto"):
        self.auto_warmup, self.warmup = warmup == AUTO, warmup
        self.p_threshold, self.temperature, self.alpha = p_threshold, temperature, alpha
        self.lambda_u, self.rampup, self.penalty = lambda_u, rampup, confidence_penalty
        self.augment_name = augment
        self.clean_prob: list[Optional[torch.Tensor]] = [None, None]
        self.separation: Optional[float] = None  # Ashman's D of this epoch's division (the smaller network's)
        self.warmup_separation: Optional[float] = None  # D at the first division
        self.best_separation, self.stalled = 0.0, 0  # the warm-up's best D; checks since it
        self.mix_steps, self.ramp_steps, self.weight_u = [0, 0], [0.0, 0.0], [0.0, 0.0]  # per network
        self.rate_used: Optional[float] = None
        self.rate_estimate: Optional[float] = None
        self.rate_source = "given"

    def setup(self, trainer):
        cfg = trainer.config
        if cfg.method.loss != "ce":  # every loss here is fixed: CE warm-up and division, MixMatch's soft losses
            raise NoisyLabelsError(f"dividemix trains with cross-entropy (warm-up, co-divide, MixMatch) and would "
                                   f"ignore method.loss={cfg.method.loss}; leave method.loss at ce")
        epochs = cfg.optim.epochs
        if self.auto_warmup:  # the cap; the warm-up stops earlier once the GMMs are separated
            self.warmup = max(1, int(MAX_WARMUP * epochs))
        if self.auto_warmup and epochs < 2:
            raise NoisyLabelsError(f"dividemix needs at least 2 epochs (a warm-up and a MixMatch epoch), got {epochs}")
        if not 1 <= self.warmup < epochs:
            raise NoisyLabelsError(f"dividemix warmup must be in [1, {epochs - 1}] for a budget of {epochs} epochs, "
                                   f"got {self.warmup}")
        self.augment = view_augment(self.augment_name, trainer.data.train.in_shape)
        if self.lambda_u == AUTO:
            self.rate_source = "estimate" if cfg.noise.type in RATELESS_NOISE else "config"
        if self.rate_source == "config":  # the paper's table is keyed on the configured r itself
            self.rate_used = float(cfg.noise.rate)
            self.lambda_u = published_lambda_u(cfg.noise.type, cfg.noise.rate, trainer.num_classes)
        if self.penalty == "auto":
            self.penalty = cfg.noise.type in ASYMMETRIC_NOISE

    # ------------------------------------------------------------------ co-divide
    def fit_division(self, trainer) -> list:
        """Per network: (eval-mode logits, CE losses, GMM on the min-max normalised losses)."""
        fits = []
        for net in (0, 1):
            logits = trainer.logits_on(trainer.train_x, lambda x, net=net: trainer.forward(net, x))
            losses = torch.nn.functional.cross_entropy(logits, trainer.train_y, reduction="none")
            normalised = (losses - losses.min()) / (losses.max() - losses.min()).clamp_min(1e-12)
            fits.append((logits, losses, gmm_1d(normalised)))
        return fits

    def divide(self, trainer, epoch: int, fits: list) -> None:
        """Each network's clean probabilities: the low-mean component's posterior (rank 0's)."""
        idx = torch.arange(len(trainer.train_y), device=trainer.device)
        for net, (logits, losses, gmm) in enumerate(fits):
            if net == 0:  # the store keeps network 1's view, like every other method's
                trainer.stats.record(epoch, idx, losses, logits, trainer.train_y)
            self.clean_prob[net] = trainer.broadcast(gmm.posterior[:, 0].float())  # rank 0 decides
            trainer.stats.set_value("clean_prob" if net == 0 else "clean_prob_net2", idx, self.clean_prob[net])

    def on_epoch_start(self, trainer, epoch):
        self.separation = None
        checking = self.auto_warmup and 1 <= epoch < self.warmup  # after every warm-up epoch
        if epoch < self.warmup and not checking:
            return
        fits = self.fit_division(trainer)
        self.separation = trainer.broadcast(min(ashman_d(gmm) for _, _, gmm in fits))  # rank 0 decides
        if epoch < self.warmup:
            if self.separation > self.best_separation:
                self.best_separation, self.stalled = self.separation, 0
            else:
                self.stalled += 1
            if self.best_separation < SEPARATED or self.stalled < PATIENCE:
                return  # not separated yet, or still separating better: warm up another epoch
            self.warmup = epoch  # separated, and no longer improving: the MixMatch stage starts now
        if epoch == self.warmup:
            self.warmup_separation = self.separation
        self.divide(trainer, epoch, fits)
        if self.lambda_u == AUTO:  # first division, no stated rate: lambda_u from the estimate
            self.rate_estimate = self.rate_used = estimate_rate(trainer, list(range(epoch + 1)))
            self.lambda_u = published_lambda_u("symmetric", self.rate_estimate, trainer.num_classes)

    def batches(self, trainer, epoch):
        if epoch < self.warmup:
            return trainer.loader
        parts = []
        for net in (0, 1):
            prob = self.clean_prob[1 - net]  # the other network divides the data
            labeled = (prob > self.p_threshold).nonzero().flatten()
            if len(labeled) == 0:  # degenerate GMM: keep the likeliest-clean batch rather than stop
                labeled = torch.argsort(prob, descending=True)[:trainer.config.optim.batch_size]
            unlabeled = (prob <= self.p_threshold).nonzero().flatten()
            steps = len(labeled) // trainer.config.optim.batch_size
            parts.append(LabeledUnlabeledEpoch(trainer, labeled, unlabeled, steps, net=net, clean_prob=prob))
        if epoch == self.warmup:  # the ramp in steps: a fraction of the stage's steps, planned at its start
            stage = trainer.config.optim.epochs - self.warmup
            self.ramp_steps = [self.rampup * stage * len(part) for part in parts]
        return Chain(*parts)

    # ------------------------------------------------------------------ steps
    def training_step(self, trainer, batch):
        if isinstance(batch, MixBatch):
            return self._mixmatch_step(trainer, batch)
        logits = [trainer.forward(net, batch.x) for net in (0, 1)]
        losses = [torch.nn.functional.cross_entropy(z, batch.y, reduction="none") for z in logits]
        loss = losses[0].mean() + losses[1].mean()
        if self.penalty:  # negative entropy: discourages over-confident fits to asymmetric noise
            loss = loss + sum((torch.softmax(z, 1) * torch.log_softmax(z, 1)).sum(1).mean() for z in logits)
        return StepOutput(loss, losses[0], logits[0])

    def _mixmatch_step(self, trainer, batch: MixBatch) -> StepOutput:
        net, other, gen = batch.net, 1 - batch.net, trainer.loader.generator
        x1, x2 = self.augment(batch.labeled.x, gen), self.augment(batch.labeled.x, gen)
        u1, u2 = self.augment(batch.unlabeled.x, gen), self.augment(batch.unlabeled.x, gen)
        with torch.no_grad(), eval_mode(trainer.models[other]):
            u_targets = guess_labels([trainer.forward(net, u1), trainer.forward(net, u2),
                                      trainer.forward(other, u1), trainer.forward(other, u2)], self.temperature)
            x_targets = refine_labels(one_hot(batch.labeled.y, trainer.num_classes),
                                      [trainer.forward(net, x1), trainer.forward(net, x2)], batch.clean_prob,
                                      self.temperature)
        loss_x, loss_u, logits = mixmatch_losses(trainer, net, [x1, x2], x_targets, [u1, u2], u_targets, self.alpha)
        # Each network's ramp counts its own optimiser steps since the MixMatch stage began.
        self.weight_u[net] = self.lambda_u * linear_rampup(self.mix_steps[net], 0, self.ramp_steps[net])
        self.mix_steps[net] += 1
        return StepOutput(loss_x + self.weight_u[net] * loss_u + uniform_prior_penalty(logits))

    def on_epoch_end(self, trainer, epoch):
        checked = {} if self.separation is None else {"gmm_separation": self.separation}
        if epoch < self.warmup:
            return {"stage": "warmup", **checked}
        # Network 1's division is "the selection" (stored per sample); network 2's, overall only.
        metrics = {"stage": "mixmatch", **checked, "lambda_u_weight": self.weight_u[0],
                   **trainer.selection_metrics(self.clean_prob[0] > self.p_threshold)}
        if epoch == self.warmup and self.rate_estimate is not None:
            metrics["noise_rate_estimate"] = self.rate_estimate
        if trainer.true_y is not None:
            net2 = selection_report(self.clean_prob[1] > self.p_threshold, trainer.train_y, trainer.true_y,
                                    trainer.num_classes)
            metrics.update({"net2_selection_precision": net2["selection_precision"],
                            "net2_selection_recall": net2["selection_recall"]})
        return metrics

    def predict(self, trainer, x):
        return trainer.forward(0, x) + trainer.forward(1, x)

    def report(self, trainer):
        lambda_u = None if self.lambda_u == AUTO else self.lambda_u  # AUTO: not divided yet
        return {"warmup": self.warmup, "warmup_source": "auto" if self.auto_warmup else "given",
                "warmup_separation": self.warmup_separation, "lambda_u_ramp_steps": self.ramp_steps,
                "lambda_u": lambda_u, "confidence_penalty": self.penalty, "p_threshold": self.p_threshold,
                **rate_report(self.rate_used, self.rate_source, self.rate_estimate)}


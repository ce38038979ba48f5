"""Standard training (empirical risk minimisation) with the configured per-sample loss."""
from .base import METHODS, Method, StepOutput


@METHODS.register("ce")
class StandardTraining(Method):
    """Minimise the mean per-sample loss (cross-entropy by default) on the observed labels."""

    option_constraints: dict = {}  # no options

    def training_step(self, trainer, batch):
        logits = trainer.forward(0, batch.x)
        losses = trainer.loss_fn(logits, batch.y)
        return StepOutput(losses.mean(), losses, logits)

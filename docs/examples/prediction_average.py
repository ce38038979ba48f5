"""A new training method in one file: the worked example of docs/adding-a-method.md.

Cross-entropy training that keeps, for every training sample, an exponential moving average of its
softmax prediction (an (N, C) table, as temporal ensembling and ELR keep). The averaged probability
of the given label is the label's quality: a label the network keeps disagreeing with is suspect.
Importing this file registers the method; the test suite imports it, so every test that iterates
over the registry runs it too.
"""
import torch

from noisylabels.methods import METHODS, Method, MethodInfo, StepOutput
from noisylabels.options import Interval
from noisylabels.quality import LabelQuality


@METHODS.register("prediction_average")
class PredictionAverage(Method):
    """Options: ``momentum`` (0.9), the weight of the old average in each update."""

    # What detection reads from a finished run: the stored value "label_prob", higher = cleaner.
    info = MethodInfo(quality=LabelQuality(value="label_prob", higher_is_cleaner=True))
    # Declared, not hand-checked: the registry rejects a bad value before training starts.
    option_constraints = {"momentum": Interval(float, 0, 1, closed="left")}
    # Under torchrun each rank updates the rows of its own samples; the engine merges them by index.
    merged = ("average",)

    def __init__(self, momentum: float = 0.9):
        self.momentum = momentum

    def setup(self, trainer):
        num_samples = len(trainer.train_y)
        self.average = torch.full((num_samples, trainer.num_classes), 1 / trainer.num_classes, device=trainer.device)

    def training_step(self, trainer, batch):
        logits = trainer.forward(0, batch.x)
        losses = trainer.loss_fn(logits, batch.y)
        with torch.no_grad():
            rows = self.momentum * self.average[batch.idx] + (1 - self.momentum) * logits.softmax(1)
            self.average[batch.idx] = rows
            trainer.stats.set_value("prob_average", batch.idx, rows)  # (N, C) in stats.pt
        return StepOutput(losses.mean(), losses, logits)

    def on_epoch_end(self, trainer, epoch):
        label_prob = self.average.gather(1, trainer.train_y[:, None]).squeeze(1)
        trainer.stats.set_value("label_prob", torch.arange(len(label_prob), device=trainer.device), label_prob)
        return {"mean_label_prob": label_prob.mean().item()}

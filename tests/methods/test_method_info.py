"""Methods carry their metadata: every registered method (the suite's example plugin included)
declares how detection reads its runs, the run records it, and the label-issue API's "auto" uses it
with no table of method names."""
import inspect
import json

import numpy as np
import pytest
import torch

from noisylabels import Trainer, label_quality_scores
from noisylabels.detection.run_quality import run_quality
from noisylabels.methods import METHODS, MethodInfo
from noisylabels.quality import NAMED, LabelQuality


@pytest.mark.parametrize("name", METHODS.names())
def test_every_method_declares_info_and_auto_scores_its_run(name, tiny_config, tiny_splits):
    info = METHODS.get(name).info
    assert isinstance(info, MethodInfo) and isinstance(info.quality, LabelQuality)
    cls = METHODS.get(name)
    options = set(inspect.signature(cls).parameters) | set(getattr(cls, "option_constraints", {}))
    assert info.rate_option is None or info.rate_option in options  # an option it really takes
    config = tiny_config.replace(method={"name": name}, noise={"type": "symmetric", "rate": 0.2})
    trainer = Trainer(config, tiny_splits)
    metrics = trainer.fit()
    assert metrics["method_info"] == json.loads(json.dumps(info.to_dict()))
    labels = trainer.data.train.labels.numpy()
    quality = label_quality_scores(labels, run=trainer.out)  # method="auto"
    stats = torch.load(trainer.out / "stats.pt", weights_only=True)
    assert np.array_equal(quality, run_quality(stats, labels, info.quality, "run"), equal_nan=True)
    assert quality.shape == (len(labels),) and np.isfinite(quality).mean() > 0.5


def test_the_example_method_keeps_a_per_class_average_and_detection_reads_its_score(tiny_config, tiny_splits):
    trainer = Trainer(tiny_config.replace(method={"name": "prediction_average"}, optim={"epochs": 3},
                                          noise={"type": "symmetric", "rate": 0.3}), tiny_splits)
    metrics = trainer.fit()
    stats = torch.load(trainer.out / "stats.pt", weights_only=True)
    average = stats["values"]["prob_average"]
    assert average.shape == (len(trainer.train_y), trainer.num_classes)  # (N, C) per-sample state
    assert torch.allclose(average.sum(1), torch.ones(len(average)), atol=1e-5)
    labels = trainer.data.train.labels.numpy()
    quality = label_quality_scores(labels, run=trainer.out)
    assert np.allclose(quality, average.numpy()[np.arange(len(labels)), labels])
    noisy = labels != trainer.data.train.true_labels.numpy()
    assert quality[noisy].mean() < quality[~noisy].mean()  # wrong labels get lower quality
    assert "mean_label_prob" in metrics["epochs"][-1]


def test_named_scores_are_label_quality_descriptions():
    for name, spec in NAMED.items():
        assert LabelQuality.from_dict(spec.to_dict(), name) == spec
    with pytest.raises(ValueError, match="history must be one of"):
        LabelQuality(history="median_loss")

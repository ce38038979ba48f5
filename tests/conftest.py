from pathlib import Path

import numpy as np
import pytest
import torch

from noisylabels.data import LabeledData, Splits
from noisylabels.plugins import load_plugin

# The worked example of docs/adding-a-method.md, registered for the whole suite as a user's plugin:
# every test that iterates over the method registry (all methods run, resume exactly, the quick
# grid, detection's "auto") picks it up with no edit. Child processes get it with --plugin.
EXAMPLE_METHOD = str(Path(__file__).resolve().parents[1] / "docs" / "examples" / "prediction_average.py")
load_plugin(EXAMPLE_METHOD)


def blobs(n: int, num_classes: int = 3, dim: int = 6, seed: int = 0, image: bool = False) -> LabeledData:
    """Linearly separable Gaussian blobs: learnable in a few steps, so tests can assert progress."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % num_classes
    centers = np.random.default_rng(100).normal(0, 3, (num_classes, dim))  # the same for every seed
    x = centers[y] + rng.normal(0, 1, (n, dim))
    x = x.reshape(n, 1, 4, dim // 4) if image else x
    return LabeledData(torch.tensor(x, dtype=torch.float32), torch.tensor(y), num_classes, name="blobs")


@pytest.fixture
def tiny_splits() -> Splits:
    return Splits(blobs(240, seed=0), blobs(90, seed=1))


@pytest.fixture
def tiny_config(tmp_path):
    from noisylabels import Config

    return Config.from_dict({
        "data": {"name": "arrays"},
        "model": {"name": "mlp", "options": {"hidden_sizes": [32]}},
        "optim": {"epochs": 2, "batch_size": 32, "lr": 0.1},
        "run": {"out": str(tmp_path / "run"), "progress": False, "device": "cpu", "plots": False},
    })


@pytest.fixture
def make_blobs():
    return blobs


@pytest.fixture
def interrupt_in_epoch():
    """``interrupt(trainer, epoch)``: Ctrl-C after the first optimiser step of ``epoch`` (0-based),
    i.e. half-way through it, after the previous epoch's checkpoint."""
    def interrupt(trainer, epoch: int) -> None:
        original = trainer.method.after_step

        def after_step(tr):
            original(tr)
            if tr.epoch == epoch:
                raise KeyboardInterrupt

        trainer.method.after_step = after_step
    return interrupt


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models on shared cores: a second torch thread only adds contention (several times slower
    when the machine is busy). Restores the thread count after the module."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

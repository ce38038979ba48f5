"""Learning-rate schedules, over the whole budget or compressed into a window [start, end)."""
import math

import pytest

from noisylabels.config import OptimConfig
from noisylabels.optim import lr_multiplier


@pytest.mark.parametrize("schedule, at_end", [("cosine", 0.0), ("constant", 1.0), ("onecycle", 0.0)])
def test_schedules(schedule, at_end):
    optim = OptimConfig(schedule=schedule, epochs=10)
    assert math.isclose(lr_multiplier(optim, 10.0), at_end, abs_tol=1e-9)
    if schedule == "onecycle":
        assert math.isclose(lr_multiplier(optim, 3.0), 1.0) and lr_multiplier(optim, 0.01) < 0.01


def test_multistep_warmup_and_restart():
    optim = OptimConfig(schedule="multistep", milestones=[2, 4], gamma=0.1, epochs=6, warmup_epochs=1)
    assert math.isclose(lr_multiplier(optim, 0.5), 0.5) and math.isclose(lr_multiplier(optim, 1.0), 1.0)
    assert math.isclose(lr_multiplier(optim, 2.0), 0.1) and math.isclose(lr_multiplier(optim, 4.0), 0.01)
    cosine = OptimConfig(schedule="cosine", epochs=10)
    # A network restarted at epoch 4 runs the cosine over the 6 epochs left.
    assert math.isclose(lr_multiplier(cosine, 4.0, start=4), 1.0) and math.isclose(lr_multiplier(cosine, 7.0, start=4), 0.5)


@pytest.mark.parametrize("schedule", ["cosine", "onecycle", "multistep", "constant"])
def test_a_window_is_the_whole_schedule_compressed(schedule):
    """A stage over [0, 5) of a 20-epoch budget ends where the whole schedule ends (annealed)."""
    optim = OptimConfig(schedule=schedule, epochs=20, milestones=[10, 15], gamma=0.1)
    for fraction in (0.0, 0.25, 0.5, 0.8, 1.0):
        whole = lr_multiplier(optim, 20 * fraction)
        assert math.isclose(lr_multiplier(optim, 5 * fraction, 0, 5), whole, abs_tol=1e-12)
        assert math.isclose(lr_multiplier(optim, 5 + 15 * fraction, 5, 20), whole, abs_tol=1e-12)

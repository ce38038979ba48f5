"""The budget-independent schedules keep exact resume: their decisions (the auto warm-up's end, the
re-estimated forget rates, the step counters, the weight decay the method applies) live in the
method's attributes, which the checkpoint saves."""
import json

import pytest
import torch

from noisylabels import Trainer
from noisylabels.methods import dividemix

CASES = {
    "small_loss": ({"type": "none"}, {"num_gradual": 3}),  # re-estimates at epochs 1-3
    "coteaching_plus": ({"type": "none"}, {"num_gradual": 3}),
    "dividemix": ({"type": "symmetric", "rate": 0.4}, {}),  # warmup=auto (never separated: see below)
    "mentormix": ({"type": "symmetric", "rate": 0.6}, {"burn_in": 0.3}),  # decay taken over, steps counted
    "rsl": ({"type": "symmetric", "rate": 0.4}, {"stage1_epochs": 2, "restart": False}),
    "rsl_mixmatch": ({"type": "symmetric", "rate": 0.4}, {"stage1_epochs": 2, "rampup": 0.5}),
}


def without_times(metrics: dict) -> list:
    return [{k: v for k, v in row.items() if not k.endswith("time")} for row in metrics["epochs"]]


@pytest.mark.parametrize("name", sorted(CASES))
def test_interrupted_and_resumed_equals_uninterrupted(name, tiny_config, tiny_splits, tmp_path, monkeypatch,
                                                      interrupt_in_epoch):
    noise, options = CASES[name]
    # DivideMix: 10 epochs, never separated: warm-up checks at epochs 1 and 2 (interrupted), ends at the cap, 3.
    epochs = 10 if name == "dividemix" else 5
    monkeypatch.setattr(dividemix, "SEPARATED", float("inf"))

    def config(out):
        return tiny_config.replace(method={"name": name, "options": options}, noise=noise,
                                   optim={"epochs": epochs, "weight_decay": 0.01}, run={"out": str(out)})

    whole = Trainer(config(tmp_path / "whole"), tiny_splits)
    expected = whole.fit()
    killed = Trainer(config(tmp_path / "killed"), tiny_splits)
    interrupt_in_epoch(killed, 2)  # half-way through epoch 3, after the checkpoint of epoch 2
    with pytest.raises(KeyboardInterrupt):
        killed.fit()
    resumed = Trainer.resume(tmp_path / "killed", tiny_splits)
    result = resumed.fit()
    if name == "dividemix":
        assert result["report"]["warmup"] == 3 and "gmm_separation" in result["epochs"][2]
    # as JSON text: NaN entries (epochs that record nothing) compare equal there
    assert json.dumps(without_times(result)) == json.dumps(without_times(expected))
    assert json.dumps(result["report"]) == json.dumps(expected["report"])
    for a, b in zip(resumed.models, whole.models):
        assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))

"""Checkpoints: everything a resumed run needs to continue exactly as if it was never interrupted."""
from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import numpy as np
import torch

from .config import OptimConfig
from .errors import NoisyLabelsError
from .optim import make_optimizer

CHECKPOINT_FORMAT = 1  # bump when the checkpoint's contents change


def checkpoint_state(trainer) -> dict:
    """The trainer's state after its current epoch: models, optimisers, loader order, method,
    statistics, history and every random number generator."""
    rng = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate(),
           "loader": trainer.loader.generator.get_state()}
    if trainer.device.type == "cuda":
        rng["cuda"] = torch.cuda.get_rng_state_all()
    return {
        "format": CHECKPOINT_FORMAT,
        "epoch": trainer.epoch,
        "config": trainer.config.to_dict(),
        "models": [m.state_dict() for m in trainer.models],
        "model_outputs": trainer.model_outputs,
        "optim_configs": [dataclasses.asdict(o) for o in trainer.optim_configs],
        "optimizers": [o.state_dict() for o in trainer.optimizers],
        "schedule_start": trainer.schedule_start,
        "schedule_end": trainer.schedule_end,
        "loader": {"indices": trainer.loader.indices, "weights": trainer.loader.weights},
        "method": trainer.method.state_dict(),
        "stats": trainer.stats.state_dict(),
        "history": trainer.history,
        "rng": rng,
    }


def restore(trainer, state: dict) -> None:
    """Put ``checkpoint_state``'s result back into a trainer freshly built from the same config."""
    for net, outputs in enumerate(state["model_outputs"]):
        if outputs != trainer.model_outputs[net]:
            trainer.models[net] = trainer.new_model(outputs)
            trainer.model_outputs[net] = outputs
        trainer.models[net].load_state_dict(state["models"][net])
        trainer.optim_configs[net] = OptimConfig(**state["optim_configs"][net])
        trainer.optimizers[net] = make_optimizer(trainer.models[net].parameters(), trainer.optim_configs[net])
        trainer.optimizers[net].load_state_dict(state["optimizers"][net])
        trainer.ddp[net] = trainer.wrap(trainer.models[net])
    trainer.schedule_start = list(state["schedule_start"])
    trainer.schedule_end = list(state["schedule_end"])
    trainer.loader.indices, trainer.loader.weights = state["loader"]["indices"], state["loader"]["weights"]
    trainer.method.load_state_dict(state["method"])
    trainer.stats.load_state_dict(state["stats"])
    trainer.history = list(state["history"])
    trainer.epoch = state["epoch"] + 1
    rng = state["rng"]
    torch.set_rng_state(rng["torch"])
    np.random.set_state(rng["numpy"])
    random.setstate(rng["python"])
    trainer.loader.generator.set_state(rng["loader"])
    if "cuda" in rng and trainer.device.type == "cuda":
        torch.cuda.set_rng_state_all(rng["cuda"])


def read_checkpoint(path: Path) -> dict:
    """A checkpoint written by ``checkpoint_state``, or a clear error saying what is wrong with it."""
    if not path.is_file():
        raise NoisyLabelsError(f"cannot resume: {path} does not exist (runs write it every epoch unless "
                               f"--no-checkpoint); start the run again instead")
    try:
        # Our own file, written atomically: it pickles the method state (EMA models, moving averages).
        state = torch.load(path, map_location=None if torch.cuda.is_available() else "cpu", weights_only=False)
    except Exception as error:
        raise NoisyLabelsError(f"cannot resume: {path} is corrupt or truncated ({type(error).__name__}); "
                               f"delete it and start the run again") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise NoisyLabelsError(f"cannot resume: {path} is not a noisylabels checkpoint of format "
                               f"{CHECKPOINT_FORMAT}; start the run again")
    return state

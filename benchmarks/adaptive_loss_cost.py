"""The cost of a step of `adaptive_loss` (a virtual step, a meta batch, the meta-gradient, then the
real step) as a ratio to a step of `ce` with the same loss (GCE), in one process on one machine.

Each variant trains one epoch through the engine (`train_time` of the epoch row: the steps and the
per-sample recording, no evaluation), divided by its number of steps; the variants alternate over
`--repeats` rounds and the medians are compared, so a neighbour's load hits them alike.

    OMP_NUM_THREADS=1 python benchmarks/adaptive_loss_cost.py --subset 10000 --repeats 3
"""
from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
from pathlib import Path

import torch

from common import markdown_table, publish
from noisylabels import Config, Trainer

VARIANTS = [  # (label, method section); every variant trains GCE
    ("ce, loss gce", {"name": "ce", "loss": "gce"}),
    ("adaptive_loss, gce, meta step every step", {"name": "adaptive_loss", "loss": "gce"}),
    ("adaptive_loss, gce, meta_every=10 (the official frequency)",
     {"name": "adaptive_loss", "loss": "gce", "options": {"meta_every": 10}}),
    ("adaptive_loss, sce (alpha and beta)", {"name": "adaptive_loss", "loss": "sce"}),
]


def step_time(config: Config) -> float:
    """Seconds per training step of one engine epoch."""
    trainer = Trainer(config)
    steps = len(trainer.method.batches(trainer, 0))
    return trainer.fit()["epochs"][0]["train_time"] / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subset", type=int, default=10000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "adaptive_loss_cost"))
    args = parser.parse_args()

    times = {label: [] for label, _ in VARIANTS}
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            for label, method in VARIANTS:
                config = Config.from_dict({
                    "data": {"name": "fashion_mnist", "subset": args.subset, "augment": "none"},
                    "noise": {"type": "symmetric", "rate": 0.4}, "method": method,
                    "optim": {"epochs": 1, "batch_size": args.batch_size},
                    "run": {"device": args.device, "progress": False, "out": f"{tmp}/run", "overwrite": True,
                            "checkpoint": False, "plots": False, "seed": repeat},
                })
                times[label].append(step_time(config))
                print(f"{label}: {times[label][-1] * 1000:.1f} ms/step", flush=True)
    medians = {label: statistics.median(values) for label, values in times.items()}
    reference = medians[VARIANTS[0][0]]
    rows = [[label, f"{medians[label] / reference:.2f}"] for label, _ in VARIANTS]
    text = (f"Fashion-MNIST, {args.subset} training images (symmetric 40% noise), model cnn, batch "
            f"{args.batch_size}, no augmentation, one engine epoch per variant, median of {args.repeats} "
            f"alternating rounds; {args.device}, {platform.machine()}, {torch.get_num_threads()} torch "
            f"thread(s), on a machine shared with another job (ratios, not absolute times). Command: "
            f"`OMP_NUM_THREADS={torch.get_num_threads()} python benchmarks/adaptive_loss_cost.py --subset "
            f"{args.subset} --batch-size {args.batch_size} --repeats {args.repeats}`\n\n"
            + markdown_table(["variant", "time per step / ce step"], rows))
    publish(Path(args.out), text, {"args": vars(args), "seconds_per_step": times, "ratio": {
        label: medians[label] / reference for label in medians}})


if __name__ == "__main__":
    main()

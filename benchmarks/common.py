"""What the benchmark scripts share: run a grid of (noise x variant) cells, summarise, tabulate."""
from __future__ import annotations

import platform
import statistics
from pathlib import Path

import torch

from noisylabels import Config, Trainer

NOISES = [("symmetric 40%", {"type": "symmetric", "rate": 0.4}), ("pair 40%", {"type": "pair", "rate": 0.4})]


def base_config(subset: int, epochs: int, seed: int, augment: str = "none") -> Config:
    return Config.from_dict({
        "data": {"name": "fashion_mnist", "subset": subset, "augment": augment},
        "optim": {"epochs": epochs},
        "run": {"seed": seed, "progress": False, "overwrite": True, "checkpoint": False},
    })


# The columns every accuracy table leads with: the epoch picked on the noisy validation split, the
# last epoch, then the oracle (the epoch picked with the test labels, which no practitioner has).
ACC_COLUMNS = ["selected", "last", "oracle best (test epoch)"]


def accuracies(metrics: dict) -> dict:
    """Selected, last and oracle test accuracy; ``selected`` is None when the run held out no
    validation split (e.g. a run from before the split existed)."""
    return {"selected": metrics.get("selected_test_acc"), "selected_epoch": metrics.get("selected_epoch"),
            "last": metrics["last_test_acc"], "oracle": metrics["best_test_acc"]}


def summarize(metrics: dict) -> dict:
    """The accuracies, last selection quality, and the median training time per epoch (epoch times
    on a shared 2-core machine jitter by +-20%, so medians, not means)."""
    epochs = metrics["epochs"]
    return {**accuracies(metrics),
            "precision": epochs[-1].get("selection_precision"), "recall": epochs[-1].get("selection_recall"),
            "epoch_s": statistics.median(e["train_time"] for e in epochs)}


def acc_cells(row: dict) -> list[str]:
    """The ACC_COLUMNS cells of a row from `summarize`."""
    return [pct(row["selected"]), pct(row["last"]), pct(row["oracle"])]


def diff(a, b) -> str:
    """``a - b`` as a percentage, "-" when either is missing (no validation split)."""
    return "-" if a is None or b is None else pct(a - b)


def run_grid(base: Config, variants: list[tuple[str, dict]], out: Path, summary=summarize) -> list[dict]:
    """Train every variant (a dict of config sections) under every noise; one row per run, with
    its epoch time as a ratio to the ``ce`` row (the first variant) under the same noise."""
    rows = []
    for noise_name, noise in NOISES:
        for label, sections in variants:
            slug = "".join(c if c.isalnum() or c in "+-" else "_" for c in f"{noise['type']}-{label}")
            config = base.replace(noise=noise, run={"out": str(out / "runs" / slug)}, **sections)
            row = {"noise": noise_name, "variant": label, **summary(Trainer(config).fit())}
            rows.append(row)
            print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}, flush=True)
    for row in rows:
        reference = next(r for r in rows if r["noise"] == row["noise"] and r["variant"] == variants[0][0])
        row["epoch_ratio"] = row["epoch_s"] / reference["epoch_s"]
    return rows


def pct(value) -> str:
    return "-" if value is None else f"{100 * value:.2f}"


def header(args, script: str, extra: str = "") -> str:
    return (f"Fashion-MNIST, {args.subset} training images, model cnn, {args.epochs} epochs, augmentation "
            f"{args.augment}, seed {args.seed}; {platform.machine()}, {torch.get_num_threads()} threads. Command: "
            f"`python benchmarks/{script} --subset {args.subset} --epochs {args.epochs} --augment {args.augment} "
            f"--seed {args.seed}{extra}`")


def markdown_table(columns: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def publish(out: Path, text: str, data) -> None:
    """Print the results and write them as ``results.md`` (the text) and ``results.json`` (the data)."""
    from noisylabels.io import atomic_write_json, atomic_write_text

    print(text)
    atomic_write_text(out / "results.md", text + "\n")
    atomic_write_json(out / "results.json", data)


def add_common_args(parser) -> None:
    parser.add_argument("--subset", type=int, default=20000)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    # The papers' protocol for MNIST-like data trains without augmentation; with crop + flip and
    # a short cosine schedule plain CE barely memorises the noise (see docs/bench.md).
    parser.add_argument("--augment", default="none", help="none (the papers' MNIST protocol) or auto")

"""The main job (`make demo`): Fashion-MNIST with 50% symmetric noise, the method with the best
validation-selected accuracy there on the committed long benchmark vs. CE on noisy and on clean
labels, and a ranked list of the suspected label errors.

Prints a results table and writes it, every run folder and ``suspected_label_errors.csv`` under
``out``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from .config import Config
from .detection import (detection_metrics, find_label_issues, label_quality_scores, suggested_labels,
                        write_label_issues_csv)
from .engine import Trainer
from .io import atomic_write_text

# The long benchmark's budget and its symmetric 50% column (benchmarks/grids/fashion_mnist_long.yaml),
# a few minutes on 2 CPU cores; the rows reproduce the grid's cells on the same machine.
DEMO_EPOCHS = 40
DEMO_SUBSET = 8000
NOISY = {"type": "symmetric", "rate": 0.5}
CLEAN = {"type": "none", "rate": 0.0}

# The featured method: the highest selected_test_acc in that column of the committed results
# (benchmarks/results/bench_fashion_mnist_long/results.csv; tests/test_demo.py checks it), as
# (its label there, its method section).
FEATURED = ("rsl", {"name": "rsl"})
DEMO_RUNS = [
    ("ce-noisy", "ce", {"name": "ce"}, NOISY),
    (f"{FEATURED[0]}-noisy", *FEATURED, NOISY),
    ("ce-clean", "ce", {"name": "ce"}, CLEAN),
]


def demo_configs(out: str = "runs/demo", epochs: Optional[int] = None, subset: Optional[int] = None,
                 seed: int = 0, device: str = "auto", progress: bool = True,
                 dataset: str = "fashion_mnist") -> list[tuple[str, str, Config]]:
    """(run name, method label, config) of each demo run."""
    base = Config.from_dict({
        # No augmentation, as the benchmarks (the papers' protocol for MNIST-like data): plain CE
        # then memorises the noise, which is what the methods are for.
        "data": {"name": dataset, "subset": subset or DEMO_SUBSET, "augment": "none"},
        "optim": {"epochs": epochs or DEMO_EPOCHS},
        "run": {"seed": seed, "device": device, "progress": progress, "overwrite": True},
    })
    return [(name, label, base.replace(method=method, noise=noise, run={"out": str(Path(out) / name)}))
            for name, label, method, noise in DEMO_RUNS]


def run_demo(out: str = "runs/demo", **budget) -> list[dict]:
    """Train the demo runs (``budget``: demo_configs' options), print and write the table."""
    rows, suspects, config = [], None, None
    for name, label, config in demo_configs(out, **budget):
        noise = config.noise
        labels = "clean" if noise.type == "none" else f"{noise.rate:.0%} {noise.type}"
        print(f"\n== {name}: {label}, {labels} labels ==", flush=True)
        trainer = Trainer(config)
        metrics = trainer.fit()
        rows.append({"run": name, "method": label, "labels": labels,
                     "selected": metrics["selected_test_acc"], "last": metrics["last_test_acc"],
                     "best": metrics["best_test_acc"],
                     "epoch_s": metrics["total_time"] / len(metrics["epochs"])})
        if name == "ce-noisy":
            suspects = write_suspected_label_errors(trainer, Path(out) / "suspected_label_errors.csv")
    table = format_table(rows, config) + "\n\n" + format_suspects(suspects, Path(out))
    print("\n" + table)
    atomic_write_text(Path(out) / "results.md", table + "\n")
    return rows


def write_suspected_label_errors(trainer: Trainer, path: Path) -> dict:
    """Rank every training sample by how suspicious its label is and write the ranking as CSV,
    through the label-issue API on the finished run: the score its method declares (for ce, RSL's
    criterion: the epoch-mean loss, min-max normalised within the observed class; lower = more
    suspicious), flagged per class with a GMM-estimated noise rate; the suggested label is the
    model's prediction."""
    train = trainer.data.train
    labels = train.labels.numpy()
    truth = None if train.true_labels is None else train.true_labels.numpy()
    quality = label_quality_scores(labels, run=trainer.out, method="auto")
    flagged = find_label_issues(labels, run=trainer.out, method="auto")
    write_label_issues_csv(path, labels, quality, flagged, suggested_labels(labels, run=trainer.out), truth)
    result = {"flagged": int(flagged.sum()), "estimated_noise_rate": float(flagged.mean())}
    if truth is not None:
        result.update(detection_metrics(flagged, labels, truth))
    return result


def format_table(rows: list[dict], config: Config) -> str:
    """Selected (the epoch of the best validation accuracy, on the run's own labels) and last-epoch
    test accuracy lead; the oracle (the epoch picked with the test labels) is labelled."""
    head = (f"{config.data.name}, {config.data.subset} training samples ({config.data.val_fraction:.0%} of them "
            f"held out as the validation split, with the run's labels), model {config.model.name}, "
            f"{config.optim.epochs} epochs, no augmentation, seed {config.run.seed}: test accuracy\n\n"
            "| run | method | training labels | selected | last | oracle best (test) | s/epoch |\n"
            "|---|---|---|---|---|---|---|")
    lines = [f"| {r['run']} | {r['method']} | {r['labels']} | {_acc(r['selected'])} | {r['last']:.4f} | "
             f"{r['best']:.4f} | {r['epoch_s']:.1f} |" for r in rows]
    return "\n".join([head, *lines])


def _acc(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.4f}"


def format_suspects(result: dict, out: Path) -> str:
    text = (f"Suspected label errors (from the ce-noisy run's per-sample losses): {result['flagged']} flagged, "
            f"estimated noise rate {result['estimated_noise_rate']:.1%}")
    if "precision" in result:
        text += f"; {result['precision']:.1%} of them are truly mislabeled, {result['recall']:.1%} of all mislabeled found"
    return text + f". Ranked list: {out / 'suspected_label_errors.csv'}"

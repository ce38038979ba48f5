"""The small-loss family on Fashion-MNIST: ce, small_loss, coteaching, rsl (rates given / estimated).

Every method gets the same epoch budget (RSL splits it: stage one, then a fresh network on the
kept samples). Times are per-epoch training times as a ratio to `ce` on the same noise, measured
in this one run. Writes a markdown table and the raw rows as JSON.

    python benchmarks/small_loss_family.py --subset 20000 --epochs 20 --out benchmarks/results/small_loss_family
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from noisylabels import Config, Trainer
from noisylabels.io import atomic_write_json, atomic_write_text

METHODS = [
    ("ce", {"name": "ce"}),
    ("small_loss", {"name": "small_loss"}),
    ("coteaching", {"name": "coteaching"}),
    ("rsl (eta given)", {"name": "rsl", "options": {"eta": "true"}}),
    ("rsl (eta estimated)", {"name": "rsl", "options": {"eta": "estimate"}}),
]
NOISES = [("symmetric 40%", {"type": "symmetric", "rate": 0.4}), ("pair 40%", {"type": "pair", "rate": 0.4})]


def run_one(base: Config, method: dict, noise: dict, out: Path) -> dict:
    metrics = Trainer(base.replace(method=method, noise=noise, run={"out": str(out)})).fit()
    epochs = metrics["epochs"]
    last = epochs[-1]
    stage1 = [e for e in epochs if e.get("stage", 1) == 1]
    # Medians: epoch times on a shared 2-core machine jitter by +-20% from epoch to epoch.
    return {
        "best": metrics["best_test_acc"], "last": metrics["last_test_acc"],
        "precision": last.get("selection_precision"), "recall": last.get("selection_recall"),
        "epoch_s": statistics.median(e["train_time"] for e in epochs),
        "stage1_epoch_s": statistics.median(e["train_time"] for e in stage1),
        "select_s": statistics.median(e["select_time"] for e in stage1) if "select_time" in stage1[0] else None,
        "eta_abs_error": (metrics.get("report") or {}).get("eta_abs_error"),
    }


def recording_seconds_per_epoch(base: Config, repeats: int = 5) -> float:
    """What the per-sample recording costs per epoch: every batch's SampleStats.record, timed alone."""
    trainer = Trainer(base.replace(run={"out": "/tmp/noisylabels-recording-probe"}))
    batches = list(trainer.loader)
    logits = torch.randn(trainer.config.optim.batch_size, trainer.num_classes, device=trainer.device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for batch in batches:
            n = len(batch.idx)
            trainer.stats.record(0, batch.idx, logits[:n, 0], logits[:n], batch.y)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subset", type=int, default=20000)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/small_loss_family")
    args = parser.parse_args()
    out = Path(args.out)
    base = Config.from_dict({
        "data": {"name": "fashion_mnist", "subset": args.subset},
        "optim": {"epochs": args.epochs},
        "run": {"seed": args.seed, "progress": False, "overwrite": True, "checkpoint": False},
    })
    rows = []
    for noise_name, noise in NOISES:
        for label, method in METHODS:
            slug = f"{noise['type']}-{label.replace(' ', '_').replace('(', '').replace(')', '')}"
            row = {"noise": noise_name, "method": label, **run_one(base, method, noise, out / "runs" / slug)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    record_s = recording_seconds_per_epoch(base)
    for row in rows:  # time ratios against ce on the same noise, from this run
        ce = next(r for r in rows if r["noise"] == row["noise"] and r["method"] == "ce")
        row["epoch_ratio"] = row["epoch_s"] / ce["epoch_s"]
        row["stage1_ratio"] = row["stage1_epoch_s"] / ce["epoch_s"]
        # RSL's bookkeeping: recording every sample's loss plus ranking, as a share of a ce epoch.
        row["bookkeeping"] = None if row["select_s"] is None else (record_s + row["select_s"]) / ce["epoch_s"]

    def pct(v):
        return "-" if v is None else f"{100 * v:.2f}"

    def num(v):
        return "-" if v is None else f"{v:.3f}"

    lines = [f"Fashion-MNIST, {args.subset} training images, model cnn, {args.epochs} epochs, seed {args.seed}; "
             f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads. "
             f"Command: `python benchmarks/small_loss_family.py --subset {args.subset} --epochs {args.epochs}`",
             "", "| noise | method | best acc | last acc | selection precision | selection recall | "
             "epoch time / ce | stage-1 epoch / ce | RSL bookkeeping / ce epoch | mean abs eta error |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['noise']} | {r['method']} | {pct(r['best'])} | {pct(r['last'])} | {pct(r['precision'])} | "
                     f"{pct(r['recall'])} | {r['epoch_ratio']:.2f} | {r['stage1_ratio']:.2f} | "
                     f"{pct(r['bookkeeping'])}{'' if r['bookkeeping'] is None else '%'} | {num(r['eta_abs_error'])} |")
    lines += ["", "Epoch times are medians of each run's training time per epoch. Recording every sample's loss, "
              f"margin and prediction costs {record_s * 1000:.0f} ms per epoch (timed alone); RSL bookkeeping = "
              "recording + the class-wise ranking (timed inside the run), over the median ce epoch."]
    table = "\n".join(lines)
    print(table)
    atomic_write_text(out / "results.md", table + "\n")
    atomic_write_json(out / "results.json", rows)


if __name__ == "__main__":
    main()

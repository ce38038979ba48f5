"""The small-loss family on Fashion-MNIST: ce, small_loss, coteaching, rsl (rates given / estimated).

Every method gets the same epoch budget (RSL splits it: stage one, then a fresh network on the
kept samples). Epoch times are medians, as a ratio to `ce` on the same noise in this one run.
RSL's bookkeeping = recording every sample's loss (timed alone) + its class-wise ranking (timed
inside the run), as a share of the median `ce` epoch.

    python benchmarks/small_loss_family.py --subset 20000 --epochs 20 --augment none
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from common import (ACC_COLUMNS, acc_cells, add_common_args, base_config, header, markdown_table, pct, publish,
                    run_grid, summarize)

from noisylabels import Config, Trainer

VARIANTS = [
    ("ce", {"method": {"name": "ce"}}),
    ("small_loss", {"method": {"name": "small_loss"}}),
    ("coteaching", {"method": {"name": "coteaching"}}),
    ("rsl (eta given)", {"method": {"name": "rsl", "options": {"eta": "true"}}}),
    ("rsl (eta estimated)", {"method": {"name": "rsl", "options": {"eta": "estimate"}}}),
    # Analysis row, not the published setting: keep n_i (1 - eta_i) per class (b = 0) instead of b = 0.2.
    ("rsl (eta given, b=0)", {"method": {"name": "rsl", "options": {"eta": "true", "b": 0.0}}}),
]


def summarize_rsl(metrics: dict) -> dict:
    stage1 = [e for e in metrics["epochs"] if e.get("stage", 1) == 1]
    return {**summarize(metrics),
            "select_s": statistics.median(e["select_time"] for e in stage1) if "select_time" in stage1[0] else None,
            "eta_abs_error": (metrics.get("report") or {}).get("eta_abs_error")}


def recording_seconds_per_epoch(base: Config, repeats: int = 5) -> float:
    """Every batch's SampleStats.record for one epoch, timed alone (median of ``repeats``)."""
    trainer = Trainer(base.replace(run={"out": tempfile.mkdtemp(prefix="noisylabels-recording-")}))
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
    add_common_args(parser)
    parser.add_argument("--out", default="benchmarks/results/small_loss_family")
    args = parser.parse_args()
    out, base = Path(args.out), base_config(args.subset, args.epochs, args.seed, args.augment)
    rows = run_grid(base, VARIANTS, out, summary=summarize_rsl)
    record_s = recording_seconds_per_epoch(base)
    for r in rows:
        ce = next(c for c in rows if c["noise"] == r["noise"] and c["variant"] == "ce")
        r["bookkeeping"] = None if r["select_s"] is None else (record_s + r["select_s"]) / ce["epoch_s"]
    table = markdown_table(
        ["noise", "method", *ACC_COLUMNS, "selection precision", "selection recall", "epoch time / ce",
         "RSL bookkeeping / ce epoch (%)", "mean abs eta error"],
        [[r["noise"], r["variant"], *acc_cells(r), pct(r["precision"]), pct(r["recall"]),
          f"{r['epoch_ratio']:.2f}", pct(r["bookkeeping"]),
          "-" if r["eta_abs_error"] is None else f"{r['eta_abs_error']:.3f}"] for r in rows])
    text = (header(args, "small_loss_family.py") + "\n\n" + table + "\n\n" +
            f"Recording every sample's loss, margin and prediction costs {record_s * 1000:.0f} ms per epoch.")
    publish(out, text, rows)


if __name__ == "__main__":
    main()

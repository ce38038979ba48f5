"""Using the discarded samples: ce, rsl, rsl_mixmatch (Weighted MixMatch) and dividemix on
Fashion-MNIST, symmetric and pair 40% noise, with `ce` on the clean labels as the ceiling.

Every method gets the same epoch budget. `rsl` and `rsl_mixmatch` spend the first half on stage
one; `dividemix` warms up for 10% of it. The views of the two MixMatch methods are flips
(`--views`); crops slow this small network down too much for a 20-epoch budget (see docs/bench.md).
Epoch times are medians over the method's main stage, as a ratio to `ce` in the same run.

    python benchmarks/semi_supervised.py --subset 20000 --epochs 20 --augment none --views flip
"""
from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from common import add_common_args, base_config, header, markdown_table, pct, publish, run_grid, summarize

from noisylabels import Trainer


def variants(views: str) -> list[tuple[str, dict]]:
    return [
        ("ce", {"method": {"name": "ce"}}),
        # eta=estimate: the setting the published tables were measured with (auto would take noise.rate).
        ("rsl", {"method": {"name": "rsl", "options": {"eta": "estimate"}}}),
        ("rsl_mixmatch", {"method": {"name": "rsl_mixmatch", "options": {"augment": views, "eta": "estimate"}}}),
        ("dividemix", {"method": {"name": "dividemix", "options": {"augment": views}}}),
    ]


def summarize_stages(metrics: dict) -> dict:
    """As `summarize`, with the epoch time taken over the MixMatch epochs where there are any, and
    the labeled-set precision at the end."""
    epochs = metrics["epochs"]
    main = [e for e in epochs if e.get("stage") in (2, "mixmatch")] or epochs
    return {**summarize(metrics), "epoch_s": statistics.median(e["train_time"] for e in main),
            "labeled": epochs[-1].get("selection_size")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser)
    parser.add_argument("--views", default="flip", help="augmentation of the MixMatch views: flip, crop_flip, ...")
    parser.add_argument("--out", default="benchmarks/results/semi_supervised")
    args = parser.parse_args()
    out, base = Path(args.out), base_config(args.subset, args.epochs, args.seed, args.augment)
    clean = Trainer(base.replace(run={"out": str(out / "runs" / "clean-ce")})).fit()
    rows = run_grid(base, variants(args.views), out, summary=summarize_stages)
    ceiling = clean["best_test_acc"]
    table = markdown_table(
        ["noise", "method", "best acc", "last acc", "best - clean ce best", "labeled-set precision",
         "labeled-set recall", "epoch time / ce"],
        [["clean", "ce (clean labels)", pct(ceiling), pct(clean["last_test_acc"]), "-", "-", "-", "-"]] +
        [[r["noise"], r["variant"], pct(r["best"]), pct(r["last"]), pct(r["best"] - ceiling), pct(r["precision"]),
          pct(r["recall"]), f"{r['epoch_ratio']:.2f}"] for r in rows])
    text = header(args, "semi_supervised.py", f" --views {args.views}") + "\n\n" + table
    publish(out, text, {"clean_ce": {"best": ceiling, "last": clean["last_test_acc"]},
                                             "rows": rows})


if __name__ == "__main__":
    main()

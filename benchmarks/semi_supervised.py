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

from common import (ACC_COLUMNS, acc_cells, add_common_args, base_config, diff, header, markdown_table, pct, publish,
                    run_grid, summarize)

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


def table(clean: dict, rows: list[dict]) -> str:
    """The results table, with each method's selected accuracy against clean-label ce's."""
    return markdown_table(
        ["noise", "method", *ACC_COLUMNS, "selected - clean ce selected", "labeled-set precision",
         "labeled-set recall", "epoch time / ce"],
        [["clean", "ce (clean labels)", *acc_cells(clean), "-", "-", "-", "-"]] +
        [[r["noise"], r["variant"], *acc_cells(r), diff(r["selected"], clean["selected"]), pct(r["precision"]),
          pct(r["recall"]), f"{r['epoch_ratio']:.2f}"] for r in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser)
    parser.add_argument("--views", default="flip", help="augmentation of the MixMatch views: flip, crop_flip, ...")
    parser.add_argument("--out", default="benchmarks/results/semi_supervised")
    args = parser.parse_args()
    out, base = Path(args.out), base_config(args.subset, args.epochs, args.seed, args.augment)
    clean = summarize(Trainer(base.replace(run={"out": str(out / "runs" / "clean-ce")})).fit())
    rows = run_grid(base, variants(args.views), out, summary=summarize_stages)
    text = header(args, "semi_supervised.py", f" --views {args.views}") + "\n\n" + table(clean, rows)
    publish(out, text, {"clean_ce": clean, "rows": rows})


if __name__ == "__main__":
    main()

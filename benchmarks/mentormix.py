"""MentorMix on Fashion-MNIST, symmetric and pair 40% noise: `ce` against `mentormix` with the
thresholding MentorNet and with MentorNet-PD (the official per-noise-rate preset, chosen from the
configured rate). Epoch times are medians, as a ratio to `ce` under the same noise in this run.

    python benchmarks/mentormix.py --subset 20000 --epochs 20 --augment none
"""
from __future__ import annotations

import argparse
from pathlib import Path

from common import ACC_COLUMNS, acc_cells, add_common_args, base_config, header, markdown_table, pct, publish, run_grid


VARIANTS = [
    ("ce", {"method": {"name": "ce"}}),
    ("mentormix (threshold)", {"method": {"name": "mentormix", "options": {"mentornet": "threshold"}}}),
    ("mentormix (pd)", {"method": {"name": "mentormix", "options": {"mentornet": "pd"}}}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser)
    parser.add_argument("--out", default="benchmarks/results/mentormix")
    args = parser.parse_args()
    out = Path(args.out)
    rows = run_grid(base_config(args.subset, args.epochs, args.seed, args.augment), VARIANTS, out)
    table = markdown_table(
        ["noise", "method", *ACC_COLUMNS, "trusted precision", "trusted recall", "epoch time / ce"],
        [[r["noise"], r["variant"], *acc_cells(r), pct(r["precision"]), pct(r["recall"]),
          f"{r['epoch_ratio']:.2f}"] for r in rows])
    text = header(args, "mentormix.py") + "\n\n" + table
    publish(out, text, rows)


if __name__ == "__main__":
    main()

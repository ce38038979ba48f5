"""Robust losses and sparse regularization on Fashion-MNIST, symmetric and pair 40% noise.

Every loss trains the default `cnn` with the `ce` method for the same epoch budget. Sparse
regularization uses the official MNIST presets (Fashion-MNIST is MNIST-like), and GCE inside SR
uses q = 0.01 as the official code does; the CIFAR-10 preset is one extra row for comparison.

    python benchmarks/robust_losses.py --subset 20000 --epochs 20 --augment none
"""
from __future__ import annotations

import argparse
from pathlib import Path

from common import ACC_COLUMNS, acc_cells, add_common_args, base_config, diff, header, markdown_table, publish, run_grid


VARIANTS = [
    ("ce", {"method": {"loss": "ce"}}),
    ("gce", {"method": {"loss": "gce"}}),
    ("sce", {"method": {"loss": "sce"}}),
    ("nce_rce", {"method": {"loss": "nce_rce"}}),
    ("bitempered t1=0.8 t2=1.2", {"method": {"loss": "bitempered", "loss_options": {"t1": 0.8, "t2": 1.2}}}),
    ("polysoft", {"method": {"loss": "polysoft"}}),
    ("ce+sr", {"method": {"loss": "ce+sr", "loss_options": {"preset": "mnist"}}}),
    ("gce+sr", {"method": {"loss": "gce+sr", "loss_options": {"preset": "mnist_gce", "q": 0.01}}}),
    ("ce+sr (cifar10 preset)", {"method": {"loss": "ce+sr", "loss_options": {"preset": "cifar10"}}}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser)
    parser.add_argument("--out", default="benchmarks/results/robust_losses")
    args = parser.parse_args()
    out = Path(args.out)
    rows = run_grid(base_config(args.subset, args.epochs, args.seed, args.augment), VARIANTS, out)
    table = markdown_table(
        ["noise", "loss", *ACC_COLUMNS, "selected - last", "epoch time / ce"],
        [[r["noise"], r["variant"], *acc_cells(r), diff(r["selected"], r["last"]),
          f"{r['epoch_ratio']:.2f}"] for r in rows])
    text = header(args, "robust_losses.py") + "\n\n" + table
    publish(out, text, rows)


if __name__ == "__main__":
    main()

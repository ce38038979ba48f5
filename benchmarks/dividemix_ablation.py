"""Why DivideMix stalls under symmetric noise on our budget: the published run against three
ablations, all at symmetric 40% on Fashion-MNIST with flip views.

- published: lambda_u from the paper's rule (25 at 40% symmetric);
- lambda_u 0: no unlabeled term (labeled MixMatch + uniform prior only);
- oracle division: both networks get the true clean/noisy split (w = 1 on clean, 0 on noisy), so
  the division cannot be at fault; with lambda_u 25 and with 0.

If the oracle rows stall like the published one, the stall comes from the training step on this
budget and these views, not from the GMM division.

    python benchmarks/dividemix_ablation.py --subset 10000 --epochs 40 --augment none

Rows 2 and 3 (published, lambda_u 0) are the runs that `semi_supervised.py` and the README's
`--method-arg lambda_u=0` command already make with the same config; `--variants 0` runs only the
oracle row. A variant whose run folder holds a complete run of the same config is not trained again.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from common import (ACC_COLUMNS, acc_cells, accuracies, add_common_args, base_config, header, markdown_table, pct,
                    publish)

from noisylabels import Trainer
from noisylabels.config import load_config
from noisylabels.methods.base import METHODS
from noisylabels.methods.dividemix import DivideMix


@METHODS.register("dividemix_oracle")
class OracleDivideMix(DivideMix):
    """DivideMix whose division is the truth: clean probability 1 on correctly labeled samples."""

    def divide(self, trainer, epoch, fits):
        super().divide(trainer, epoch, fits)  # keeps the per-sample recording of the real method
        truth = (trainer.train_y == trainer.true_y).float()
        self.clean_prob = [truth, truth.clone()]


VARIANTS = [
    ("oracle division, lambda_u 25", "dividemix_oracle", {}),
    ("oracle division, lambda_u 0", "dividemix_oracle", {"lambda_u": 0}),
    ("published (lambda_u 25)", "dividemix", {}),
    ("lambda_u 0", "dividemix", {"lambda_u": 0}),
]


def finished_run(config) -> dict | None:
    """The metrics of a complete earlier run of exactly this config (a long variant is not re-run)."""
    folder = Path(config.run.out)
    if not (folder / "metrics.json").is_file() or not (folder / "config.yaml").is_file():
        return None
    metrics = json.loads((folder / "metrics.json").read_text())
    same = load_config(folder / "config.yaml").to_dict() == config.to_dict()
    return metrics if same and metrics["status"] == "complete" else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser)
    parser.add_argument("--variants", default=",".join(str(i) for i in range(len(VARIANTS))),
                        help="which variants to run (comma-separated indices into the list above)")
    parser.add_argument("--out", default="benchmarks/results/dividemix_ablation")
    args = parser.parse_args()
    out = Path(args.out)
    base = base_config(args.subset, args.epochs, args.seed, args.augment).replace(
        noise={"type": "symmetric", "rate": 0.4})
    rows = []
    for i in [int(v) for v in args.variants.split(",")]:
        label, method, options = VARIANTS[i]
        config = base.replace(method={"name": method, "options": {"augment": "flip", **options}},
                              run={"out": str(out / "runs" / f"variant{i}")})
        metrics = finished_run(config) or Trainer(config).fit()
        # test accuracy when the MixMatch stage starts, halfway through, and at the end
        acc = [e["test_acc"] for e in metrics["epochs"]]
        warmup = metrics["report"]["warmup"]
        rows.append({"variant": label, **accuracies(metrics),
                     "after_warmup": acc[warmup], "halfway": acc[len(acc) // 2]})
        print(rows[-1], flush=True)
    table = markdown_table(["variant", *ACC_COLUMNS, "first MixMatch epoch", "halfway"],
                           [[r["variant"], *acc_cells(r), pct(r["after_warmup"]), pct(r["halfway"])] for r in rows])
    publish(out, header(args, "dividemix_ablation.py", f" --variants {args.variants}") + "\n\n" + table, rows)


if __name__ == "__main__":
    main()

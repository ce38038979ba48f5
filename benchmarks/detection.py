"""Finding the mislabeled samples on Fashion-MNIST (symmetric, pair and instance-dependent 40%):
detection precision, recall and F1 of our detectors and of cleanlab's own `find_label_issues`, with
the training compute each needs (full trainings and wall time, all in this one run).

The rates are unknown to every detector: the noisy labels are made once per setting and handed to
the detectors as a user's labels (``noise: none``), so any rate a method needs is its estimate.

cleanlab gets 2-fold cross-validated out-of-sample probabilities from the same model and epoch
budget (2 trainings on half the data each: the compute of one full training); our `confident`
row applies our confident-learning implementation to the very same probabilities. The "half
budget" rows run our detectors with half the epochs, i.e. half of cleanlab's training compute.

cleanlab is a benchmark-only dependency: `pip install -r benchmarks/requirements.txt`.

    python benchmarks/detection.py --subset 20000 --epochs 20 --augment none
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from common import NOISES, add_common_args, base_config, header, markdown_table, pct, publish

from noisylabels.data import LabeledData, Splits
from noisylabels.data.prepare import prepare_data
from noisylabels.detection import confident_learning_issues, detection_metrics
from noisylabels.detect import cross_validated_probs, detect

SETTINGS = NOISES + [("instance 40%", {"type": "instance", "rate": 0.4})]


def users_labels(base):
    """The setting's noisy labels made once, as labels a user holds: (config with noise none, splits)."""
    data = prepare_data(base.replace(data={"val_fraction": 0.0}))
    train = data.train
    splits = Splits(LabeledData(train.x, train.labels, train.num_classes, train.true_labels, train.name,
                                train.class_names), data.test)
    blind = base.replace(noise={"type": "none", "rate": 0.0},
                         data={"subset": None, "test_subset": None, "val_fraction": 0.0})
    return blind, splits


def cleanlab_rows(base, splits, out: Path, noise_name: str) -> list[dict]:
    from cleanlab.filter import find_label_issues as cleanlab_find_label_issues

    start = time.perf_counter()
    probs, data, train_s, _ = cross_validated_probs(base.replace(run={"out": str(out)}), 2, splits)
    labels, truth = data.train.labels.numpy(), data.train.true_labels.numpy()
    rows = []
    for name, finder in (("cleanlab find_label_issues (2-fold CV)", lambda: cleanlab_find_label_issues(labels, probs)),
                         ("ours: confident learning, same probabilities", lambda: confident_learning_issues(labels, probs))):
        mask = np.asarray(finder(), dtype=bool)
        rows.append({"noise": noise_name, "detector": name, "trainings": f"2 x {base.optim.epochs} epochs, half data",
                     "wall_s": time.perf_counter() - start, **detection_metrics(mask, labels, truth)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser)
    parser.add_argument("--out", default="benchmarks/results/detection")
    parser.add_argument("--noises", nargs="+", default=[n for n, _ in SETTINGS], choices=[n for n, _ in SETTINGS],
                        metavar="SETTING", help="noise settings (default: all three)")
    args = parser.parse_args()
    out = Path(args.out)
    rows = []
    for noise_name, noise in (s for s in SETTINGS if s[0] in args.noises):
        base, splits = users_labels(base_config(args.subset, args.epochs, args.seed, args.augment).replace(noise=noise))
        rows += cleanlab_rows(base, splits, out / "runs" / f"{noise['type']}-cleanlab", noise_name)
        half = base.replace(optim={"epochs": max(1, args.epochs // 2)})
        for label, detector, config in (("rsl", "rsl", base), ("rsl, half budget", "rsl", half),
                                        ("aum", "aum", base), ("aum, half budget", "aum", half),
                                        ("small_loss, half budget", "small_loss", half),
                                        ("dividemix GMM", "dividemix", base)):
            folder = out / "runs" / f"{noise['type']}-{label.replace(' ', '').replace(',', '-')}"
            result = detect(config.replace(run={"out": str(folder)}), detector, splits=splits)
            epochs = config.optim.epochs
            trainings = f"2 runs x {epochs // 2} epochs" if detector == "aum" else f"1 x {epochs} epochs"
            rows.append({"noise": noise_name, "detector": label, "trainings": trainings,
                         "wall_s": result["wall_time"], **{k: result[k] for k in ("precision", "recall", "f1",
                                                                                  "flagged", "mislabeled")}})
            print(rows[-1], flush=True)
    for row in rows:
        reference = next(r for r in rows if r["noise"] == row["noise"] and r["detector"].startswith("cleanlab"))
        row["compute_ratio"] = row["wall_s"] / reference["wall_s"]
    table = markdown_table(
        ["noise", "detector", "precision", "recall", "F1", "flagged", "training", "wall time (s)", "time / cleanlab"],
        [[r["noise"], r["detector"], pct(r["precision"]), pct(r["recall"]), pct(r["f1"]), str(r["flagged"]),
          r["trainings"], f"{r['wall_s']:.0f}", f"{r['compute_ratio']:.2f}"] for r in rows])
    noises = " --noises " + " ".join(f'"{n}"' for n in args.noises) if len(args.noises) < len(SETTINGS) else ""
    text = header(args, "detection.py", f"{noises} --out {args.out}") + "\n\n" + table
    publish(out, text, rows)


if __name__ == "__main__":
    main()

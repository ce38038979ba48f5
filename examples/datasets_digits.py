"""Your own data as a torch Dataset, a Hugging Face dataset or a pandas DataFrame: train a robust
method and rank the suspected label errors.

scikit-learn's digits (1,797 8x8 images, 10 classes) with 20% of the labels flipped to another class
(our planted errors: the loaders never see the truth). The same labels go in three ways:

1. a map-style torch ``Dataset`` of ``(image, label)`` -> ``load_dataset("torch", dataset=...)``,
   then ``detect(config, "rsl", splits=...)`` writes the ranked ``label_issues.csv``;
2. a ``datasets.Dataset`` with ``image`` and ``label`` columns -> ``load_dataset("hf", ...)``, then
   ``train(config, splits)`` with a robust loss;
3. a DataFrame of feature columns and a label column -> ``load_dataset("csv", frame=...)``.

Runs in well under a minute on two CPU cores:

    python examples/datasets_digits.py
"""
import tempfile
from pathlib import Path

import datasets
import numpy as np
import pandas
import torch
from sklearn.datasets import load_digits
from torch.utils.data import Dataset

from noisylabels import Config, detection_metrics, load_dataset, train
from noisylabels.detect import detect

NOISE_RATE, SEED = 0.2, 0


class Digits(Dataset):
    """What a user's dataset looks like: item i is (a (1, 8, 8) image tensor, an int label)."""

    def __init__(self, images: np.ndarray, labels: np.ndarray):
        self.images, self.labels = torch.tensor(images, dtype=torch.float32)[:, None], labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.images[i], int(self.labels[i])


def planted_errors(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    noisy = labels.copy()
    flip = rng.permutation(len(labels))[:round(NOISE_RATE * len(labels))]
    noisy[flip] = (labels[flip] + rng.integers(1, 10, len(flip))) % 10
    return noisy


def config(out: Path, dataset: str, **method) -> Config:
    # The labels are already noisy: noise none. The splits come from load_dataset, the name is a label.
    return Config.from_dict({
        "data": {"name": dataset}, "noise": {"type": "none"},
        "model": {"name": "mlp", "options": {"hidden_sizes": [128]}},
        "method": method, "optim": {"epochs": 15, "batch_size": 64, "lr": 0.1},
        "run": {"out": str(out), "device": "cpu", "progress": False, "plots": False, "seed": SEED},
    })


def main() -> None:
    digits = load_digits()
    images, truth = digits.images / 16.0, digits.target
    labels = planted_errors(truth, np.random.default_rng(SEED))
    train_rows, test_rows = np.arange(1500), np.arange(1500, len(truth))  # the user's own test split
    work = Path(tempfile.mkdtemp(prefix="noisylabels-datasets-"))

    # 1. a torch Dataset. With test_dataset given, every sample of dataset is scored and the
    #    index column of label_issues.csv is the dataset's own index.
    splits = load_dataset("torch", dataset=Digits(images[train_rows], labels[train_rows]),
                          test_dataset=Digits(images[test_rows], truth[test_rows]))
    result = detect(config(work / "torch", "torch", name="rsl"), "rsl", splits=splits)
    issues = pandas.read_csv(Path(result["folder"]) / "label_issues.csv")
    flagged = np.zeros(len(train_rows), dtype=bool)
    flagged[issues["index"][issues["flag"] == 1]] = True
    found = detection_metrics(flagged, labels[train_rows], truth[train_rows])
    print(f"torch dataset: {result['samples']} samples scored, {found['flagged']} flagged, "
          f"precision {found['precision']:.3f} recall {found['recall']:.3f} (planted errors: {found['mislabeled']})")
    print(issues.head(5).to_string(index=False))

    # 2. a Hugging Face dataset: train with a robust loss; 10% of the training rows become the
    #    (noisy) validation split that selects the epoch reported
    features = datasets.Features({"image": datasets.Array2D((8, 8), "float32"),
                                  "label": datasets.ClassLabel(names=[str(d) for d in range(10)])})
    hf = datasets.Dataset.from_dict({"image": images.astype(np.float32), "label": labels}, features=features)
    hf_test = datasets.Dataset.from_dict({"image": images[test_rows].astype(np.float32), "label": truth[test_rows]},
                                         features=features)
    splits = load_dataset("hf", dataset=hf.select(train_rows), test_dataset=hf_test)
    for loss in ("ce", "gce"):
        metrics = train(config(work / f"hf-{loss}", "hf", name="ce", loss=loss), splits)
        print(f"hf dataset: {loss} validation-selected test accuracy {metrics['selected_test_acc']:.3f}, "
              f"last epoch {metrics['last_test_acc']:.3f}")

    # 3. a DataFrame: 64 pixel columns and a label column
    frame = pandas.DataFrame(digits.data, columns=[f"pixel{i}" for i in range(64)]).assign(label=labels)
    splits = load_dataset("csv", frame=frame, label_column="label")
    print(f"dataframe: {len(splits.train)} rows, {splits.train.x.shape[1]} features, "
          f"{splits.train.num_classes} classes")


if __name__ == "__main__":
    main()
